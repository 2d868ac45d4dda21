//! # testsuite: the CPU driver's rules, checked from user space
//!
//! The kernel's host tests check the capability operations as Rust functions; this program
//! checks them the way every program meets them: as system calls, from EL0, through a
//! capability address and a method number, against the kernel actually running on the
//! board. It is Flotilla's counterpart of seL4's `sel4test`: a list of small tests, each
//! named after the one behaviour it pins down (`retype_needs_the_write_right`,
//! `mappings_are_never_writable_and_executable`, …), run in order, each reported on one
//! line. The later tests check what every program builds on those calls, through libos:
//! starting and reclaiming children, messages between them, the heap, loading ELF files,
//! and that a fault of any kind stops only the program that made it.
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
//! Each test gets a fresh RAM capability of its own and scratch slots in the task CNode.
//! After the test, whatever it did, the runner revokes that RAM, which deletes every
//! object the test made from it, and then checks that every scratch slot is empty again,
//! and, for the tests that use libos, that libos got back all the RAM and slots the test
//! took: a test that leaves a copy of some other capability or a child behind fails, so
//! one test's leftovers never explain another test's failure. See [`framework`].
//!
//! A test that needs an address space of its own hangs translation tables made from its
//! RAM under entry 1 of the domain's root table (virtual addresses from 512 GiB), far from
//! the program's image at 4 MiB; revoking the RAM unmaps them again.
//!
//! ## Children: the suite started by itself
//!
//! What a program cannot survive — a fault of any kind — or cannot see from inside — a
//! receive blocked in the kernel, registers kept across preemption — is tested on a
//! child: the suite spawns its own boot module with an argument that makes it play one
//! part instead of running the tests ([`child`]). So the console shows, between the `ok`
//! lines, the kernel's own report of each fault a child makes (`core 0: dispatcher 0x…
//! faulted, stopped for its handler: ESR …`) and the panic one child makes on purpose,
//! and the suite carries on: that is the point.
//!
//! ## What it does not do
//!
//! It does not test what a failure would leave the program unable to report: nothing here
//! unmaps, restricts or deletes the program's own code, stack, CSpace or dispatcher, and
//! the suite itself never faults on purpose. Operations that involve other cores (the
//! monitors' protocols) are beyond one core's first domain.
//!
//! On the host this file is an ordinary program that only says where the suite really
//! runs; the framework's message buffer is the one part with host unit tests.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![allow(
    clippy::result_large_err,
    reason = "a test's `Failure` carries its message inline (there is no heap); it is returned \
              once per failed test, so its size costs nothing worth boxing for"
)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod child;
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

/// Plays a child's part if started as one; otherwise runs the suite on core 0 and powers
/// off with its verdict (other cores leave at once).
#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    if let Some((role, param)) = child::role_of(arg) {
        return child::run(role, param);
    }
    if arg & libos::monitor::INIT_ARG != 0 {
        // Started by the boot core's monitor as init: the system suite.
        let status = framework::run(&tests::SYSTEM);
        let _ = libos::monitor::power_off(status);
        return status;
    }
    let core = arg;
    if core != 0 {
        return 0;
    }
    let status = framework::run(&tests::SUITE);
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
