//! Links the kernel with the image layout from `boot/link.ld` (bare-metal builds only).

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "none" {
        let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
        let script = manifest.join("../boot/link.ld");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        for input in ["FLOTILLA_BUILTIN_DTB", "FLOTILLA_MODULES"] {
            println!("cargo:rerun-if-env-changed={input}");
            if let Ok(path) = std::env::var(input) {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
