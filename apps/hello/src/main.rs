//! # hello: the smallest Flotilla user program
//!
//! Prints one line, with its argument word and its arguments (`libos::args`), and exits
//! with status 0. It is the program the build pipeline is tested
//! with: `cargo xtask build` compiles it for `aarch64-unknown-none`, links it with
//! `libos/user.ld`, and packs it into the kernel image as the boot module `hello`.
//!
//! Everything a program needs before `main` (a stack, the call to `main`, the exit with
//! its return value, the panic handler) comes from libos; the argument is whatever the
//! starter put in `x0`.
//!
//! The workspace also compiles every crate for the host (clippy, `cargo test`); there this
//! file is an ordinary program that only says where it really runs.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
libos::entry!(main);

#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    libos::println!("hello from a user program (arg {arg}){}", Arguments);
    0
}

/// The program's arguments as the line shows them: `: first second ...`, or nothing.
/// Formatted in place: hello has no heap to spare (its starter may give it little RAM).
#[cfg(target_os = "none")]
struct Arguments;

#[cfg(target_os = "none")]
impl core::fmt::Display for Arguments {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, word) in libos::args::args().enumerate() {
            write!(f, "{}{word}", if i == 0 { ": " } else { " " })?;
        }
        Ok(())
    }
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("hello is a Flotilla user program: `cargo xtask run` builds it into the kernel image");
    std::process::ExitCode::from(2)
}
