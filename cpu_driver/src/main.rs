//! # Flotilla CPU driver
//!
//! The kernel that runs at EL1 on each core of a Flotilla multikernel. There is one CPU
//! driver instance per core, and the instances share no state: every kernel `static` is
//! private to its core (the boot code maps each core's own copy of `.data` and `.bss` at
//! the same virtual address), so a core cannot reach another core's kernel data even by
//! mistake. Cores cooperate only through explicit messages and inter-processor interrupts.
//!
//! This file is the story of a core's life: the boot core reads the device tree, sets up
//! its console, interrupt controller and timer, prepares and releases the other cores, and
//! checks that each one answers an IPI before declaring `all N cores online`. A secondary
//! core is handed its parameters, brings up its own interrupt interface and tick, and
//! answers. Afterwards idle cores sleep in `wfi`.
//!
//! What this crate deliberately does not do: allocate from a heap (none exists), trust
//! anything it reads from the device tree without the boot crate's checks, or panic on
//! anything user code can cause.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(any(test, target_os = "none"))]
mod caps;
#[cfg(any(test, target_os = "none"))]
mod dispatch;
#[cfg(any(test, target_os = "none"))]
mod esr;
#[cfg(any(test, target_os = "none"))]
mod lmp;
#[cfg(any(test, target_os = "none"))]
mod objects;
#[cfg(any(test, target_os = "none"))]
mod params;
#[cfg(any(test, target_os = "none"))]
mod phys;
#[cfg(test)]
mod testing;
#[cfg(any(test, target_os = "none"))]
mod vspace;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod fault;
#[cfg(target_os = "none")]
mod interrupts;
#[cfg(target_os = "none")]
mod shared;
#[cfg(target_os = "none")]
mod syscall;
#[cfg(target_os = "none")]
mod user;
#[cfg(target_os = "none")]
mod user_boot;

#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
pub use kernel::{core_id, on_ping, params, report_failed_cores};

/// The CPU driver only runs on bare-metal AArch64; on the host this crate builds for its
/// unit tests alone.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("cpu_driver is a bare-metal kernel: build a bootable image with `cargo xtask build`");
    std::process::exit(2);
}
