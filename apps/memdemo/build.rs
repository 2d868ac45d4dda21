//! Links the program with libos's user program layout (bare-metal builds only; the host
//! build is an ordinary executable that only says where the program runs).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
        let script = manifest.join("../../libos/user.ld");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        // Page-sized segment alignment: see the note in user.ld.
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    }
}
