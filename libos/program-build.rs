//! The build script of every Flotilla user program (each program's Cargo.toml names this
//! file as its `build`): links the program with libos's user program layout, for
//! bare-metal builds only; the host build is an ordinary executable.

use std::path::PathBuf;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // Programs live at different depths (apps/NAME, monitor): find libos from here up.
    let script = manifest
        .ancestors()
        .map(|dir| dir.join("libos").join("user.ld"))
        .find(|path| path.exists())
        .expect("libos/user.ld in a directory above the program");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    // Page-sized segment alignment: see the note in user.ld.
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
}
