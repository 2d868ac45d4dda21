//! # libos: the library every Flotilla user program links
//!
//! A Flotilla program runs at EL0 with nothing below it but the CPU driver's system calls:
//! no C library, no loader-provided stack, no `main` convention. This crate supplies the
//! minimum every program needs, and each piece is small enough to read in one sitting:
//!
//! - [`syscall`]: the `svc #0` trap and one safe wrapper per system call (`print`, `exit`,
//!   `invoke`, …);
//! - [`print`](mod@print): the `print!` and `println!` macros, which format into a buffer
//!   on the stack so that one line is normally one `PRINT` call (and so never interleaves
//!   with another program's output);
//! - `entry`: `_start`, where every program begins, which sets up a stack and calls the
//!   program's main function, declared with `entry!`; and `panic`, which reports a panic
//!   on the console and exits with status 101;
//! - `user.ld` (next to this crate's `Cargo.toml`): the linker script that lays every
//!   program out at the same addresses, with no segment both writable and executable.
//!
//! A program is `#![no_std]` and `#![no_main]`, links with `user.ld` (its build script
//! passes it), and looks like this:
//!
//! ```ignore
//! libos::entry!(main);
//!
//! fn main(arg: u64) -> u64 {
//!     libos::println!("hello (arg {arg})");
//!     0
//! }
//! ```
//!
//! The kernel–user contract itself (call numbers, error codes, capability addresses) lives
//! in the `abi` crate, re-exported here as [`abi`] so programs need only this one
//! dependency. libos never depends on the kernel.
//!
//! ## On the host
//!
//! Every crate of the workspace is also compiled for the host (clippy, unit tests), where
//! there is no Flotilla kernel to trap into. There the trap, the entry point and the panic
//! handler are left out, and what remains are the pure parts: decoding error codes,
//! splitting text for `PRINT`, and the print buffer. Those are what the unit tests check.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use abi;

pub mod print;
pub mod syscall;

#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod panic;
