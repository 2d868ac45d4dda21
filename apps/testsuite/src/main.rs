//! # testsuite: the CPU driver's rules, checked from user space
//!
//! The kernel's host tests check the capability operations as Rust functions; this program
//! checks them the way every program meets them: as system calls, from EL0, through a
//! capability address and a method number, against the kernel actually running on the
//! board. It is Flotilla's counterpart of seL4's `sel4test`: a list of small tests, each
//! named after the one behaviour it pins down (`retype_needs_the_write_right`,
//! `mappings_are_never_writable_and_executable`, …), run in order, each reported on one
//! line.
//!
//! Boot it as every core's first domain with `flotilla.first=testsuite` on the kernel
//! command line. It runs on core 0 only (the argument it starts with is the core id; on
//! any other core it exits at once, silently), prints
//!
//! ```text
//! ok retype_needs_the_write_right
//! FAILED mint_never_adds_rights: copy.rs:54: expected 1, got 15
//! testsuite: 122 passed, 1 failed
//! ```
//!
//! and powers the machine off with status 0 if every test passed and 1 otherwise, so a
//! script (or a person watching QEMU) needs nothing but the last line and the exit.
//!
//! ## What a test may assume, and what it must leave behind
//!
//! Each test gets a fresh RAM capability of its own, carved from the top of the RAM the
//! domain's own CNodes, tables and image left free (`slot::FREE_RAM`), and scratch slots
//! in the task CNode. After the test, whatever it did, the runner revokes that RAM,
//! which deletes every object the test made from it, and then checks that every scratch
//! slot is empty again: a test that leaves a copy of some other capability behind fails,
//! so one test's leftovers never explain another test's failure. See [`framework`].
//!
//! A test that needs an address space of its own hangs translation tables made from its
//! RAM under entry 1 of the domain's root table (virtual addresses from 512 GiB), far from
//! the program's image at 4 MiB; revoking the RAM unmaps them again.
//!
//! ## What it does not do
//!
//! It does not test what a failure would leave the program unable to report: nothing here
//! unmaps, restricts or deletes the program's own code, stack, CSpace or dispatcher, and
//! no test deliberately faults. Nor does it send or receive on endpoints: a receive that
//! wrongly blocked would hang the whole suite rather than fail one test. Operations that
//! involve other cores (the monitors' protocols) are beyond one core's first domain.
//!
//! On the host this file is an ordinary program that only says where the suite really
//! runs; the framework's message buffer is the one part with host unit tests.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![allow(
    clippy::result_large_err,
    reason = "a test's `Failure` carries its message inline (there is no heap); it is returned \
              once per failed test, so its size costs nothing worth boxing for"
)]

#[cfg(any(test, target_os = "none"))]
mod failure;
#[cfg(target_os = "none")]
mod framework;
#[cfg(target_os = "none")]
mod sys;
#[cfg(target_os = "none")]
mod tests;

#[cfg(target_os = "none")]
libos::entry!(main);

/// Runs the suite on core 0 and powers off with its verdict; other cores leave at once.
#[cfg(target_os = "none")]
fn main(core: u64) -> u64 {
    if core != 0 {
        return 0;
    }
    let status = framework::run(tests::ALL);
    // Ends QEMU with the verdict; should the kernel refuse, the exit status still carries it.
    let _ = libos::syscall::invoke(
        libos::abi::cap::slot::KERNEL,
        libos::abi::method::KERNEL_POWER_OFF,
        [status, 0, 0, 0, 0, 0],
    );
    status
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "testsuite is a Flotilla user program: boot it with `flotilla.first=testsuite` on the kernel command line"
    );
    std::process::ExitCode::from(2)
}
