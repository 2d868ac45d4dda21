//! Links the kernel with the image layout from `boot/link.ld` (bare-metal builds only).

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "none" {
        let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
        let script = manifest.join("../boot/link.ld");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rerun-if-env-changed=FLOTILLA_BUILTIN_DTB");
        if let Ok(dtb) = std::env::var("FLOTILLA_BUILTIN_DTB") {
            println!("cargo:rerun-if-changed={dtb}");
        }
    }
}
