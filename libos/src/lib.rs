//! # libos: the library every Flotilla user program links
//!
//! A Flotilla program runs at EL0 with nothing below it but the CPU driver's system calls
//! and the capabilities its creator gave it: no C library, no loader-provided stack, no
//! memory it did not map itself. This crate supplies what every program needs, each piece
//! small enough to read in one sitting, in the order a program meets them:
//!
//! - `entry`: `_start`, where every program begins, which sets up a stack and calls the
//!   program's main function, declared with `entry!`; and `panic`, which reports a panic
//!   on the console and exits with status 101;
//! - [`syscall`]: the `svc #0` trap and one safe wrapper per system call;
//! - [`print`](mod@print): the `print!` and `println!` macros, which format into a buffer
//!   on the stack so that one line is normally one `PRINT` call;
//! - [`cap`]: capability slots as typed values (`CapRef`, `FrameCap`, `VNodeCap`, …) and
//!   the invocations each type has;
//! - [`cspace`]: the slot allocator, which grows the CSpace by itself;
//! - [`ram`]: RAM capabilities of the size asked for, carved from the domain's FREE_RAM;
//! - [`paging`]: explicit paging, the three steps of `docs/DESIGN.md` §5, as a `VSpace`;
//! - [`heap`] (cargo feature `heap`, on by default): the global allocator, which grows by
//!   mapping memory through `paging`, so `alloc`'s `Vec` and `Box` work;
//! - [`lmp`]: same-core messages through endpoints;
//! - `urpc`: channels to other cores (the `channels` crate's rings on a shared frame, a
//!   notify capability to wake the peer), and `kernel`: the monitor's privileged
//!   invocations;
//! - [`args`](mod@args): the vector of strings a program was started with;
//! - [`parallel`]: one computation on several cores, a team of this program's dispatchers
//!   with fork/join, barriers and reductions, by messages or through shared memory;
//! - [`spawn`]: starting another program from a boot module (or any ELF file) as a child
//!   domain, and hearing of its end;
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
//! ## No heap underneath
//!
//! The heap is built from the slot allocator, the RAM allocator and paging, so none of
//! them may allocate: each keeps its books in fixed-size tables in statics, behind a
//! `spin::Mutex` (a domain's dispatcher is single-threaded, so the locks are never
//! contended; they make the statics safe to share, and catch re-entry as a hang rather
//! than as corruption). Each table's limit has an [`Error`] variant of its own.
//!
//! ## On the host
//!
//! Every crate of the workspace is also compiled for the host (clippy, unit tests), where
//! there is no Flotilla kernel to trap into. There the trap, the entry point, the panic
//! handler, the global allocator and everything that invokes a capability are left out
//! (`cfg(target_os = "none")`), and what remains are the pure parts: decoding results,
//! the slot bitmaps, the range allocator, the table bookkeeping, the sizes of things.
//! Those are what the unit tests check; the modules that are mostly kernel calls are
//! compiled on the host for those tests only.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub use abi;
pub use error::Error;

pub mod args;
pub mod bench;
#[cfg(target_os = "none")]
pub mod bind;
pub mod error;
pub mod print;
pub mod range;
pub mod syscall;

#[cfg(any(test, target_os = "none"))]
pub mod cap;
#[cfg(target_os = "none")]
pub mod clock;
#[cfg(target_os = "none")]
pub mod crosscore;
#[cfg(any(test, target_os = "none"))]
pub mod cspace;
#[cfg(all(feature = "heap", any(test, target_os = "none")))]
pub mod heap;
#[cfg(target_os = "none")]
pub mod kernel;
#[cfg(any(test, target_os = "none"))]
pub mod lmp;
pub mod monitor;
#[cfg(any(test, target_os = "none"))]
pub mod paging;
pub mod parallel;
#[cfg(any(test, target_os = "none"))]
pub mod ram;
#[cfg(target_os = "none")]
pub mod span;
#[cfg(any(test, target_os = "none"))]
pub mod spawn;
#[cfg(target_os = "none")]
pub mod urpc;

#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod panic;
