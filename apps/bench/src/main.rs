//! # bench: what Flotilla's messages cost, in instructions
//!
//! A multikernel lives or dies by the price of its messages, so this program measures
//! them: the ways one part of Flotilla talks to another, each timed with the generic
//! timer's virtual counter, `CNTVCT_EL0`, which a program may read at EL0. Under QEMU with
//! `-cpu max -icount shift=0,sleep=off` that counter advances by exactly one per guest
//! instruction (the `counter` line checks it), and the same on every run
//! (`docs/DESIGN.md` §9). Without icount the same program measures counter ticks, which
//! is only time.
//!
//! | benchmark | one operation |
//! |---|---|
//! | `counter` | one iteration of a two-instruction loop: 2.00 when ticks are instructions |
//! | `syscall_nop` | the cheapest system call, there and back |
//! | `monitor_call` | a request to this core's monitor and its answer, over LMP |
//! | `urpc_rtt` | a ping to another core's monitor and its pong, over URPC |
//! | `urpc_latency` | one message of a stream, from its sending to its receiving |
//! | `urpc_throughput` | a stream, as messages per 1000 instructions |
//! | `lmp_rtt` | four words to a child on this core and back |
//! | `unmap` | unmapping a page of this domain spanned over 1..all cores, shootdown included |
//! | `revoke` | revoking a capability with copies on 1..all cores (two-phase, by messages) |
//!
//! The URPC figures are measured by the monitors themselves (`libos::monitor::ping`,
//! `libos::monitor::stream`), so they leave out the LMP request that starts them;
//! `monitor_call` is that request on its own (the null measurement), and `syscall_nop`
//! the floor under any LMP message. See [`baseline`], [`urpc`] and [`lmp`] for what
//! each one does exactly.
//!
//! ## Reading a cross-core figure
//!
//! icount emulates the cores one after another, on one host thread, and the counter is
//! the instructions of *all* of them. A round trip to another core therefore counts both
//! monitors' work, and also whatever any other core executes meanwhile (a monitor
//! looking at its channels between `wfe`s, a timer tick), in the order QEMU's round-robin
//! runs the cores. The count is exact and repeatable, but it depends on the number of
//! cores booted, not only on the code path; compare figures from boots of the same size.
//!
//! ## Output
//!
//! All benchmarks run, since no command line reaches a program, and each result is one
//! line of one shape ([`report`]),
//!
//! ```text
//! bench: urpc_rtt core=1 rounds=1000 instructions=12237367 instructions_per_op=12237.36
//! ```
//!
//! a name, then `key=value` pairs whose values are plain decimal numbers: the parameters,
//! the total measured, and the result last. Every value is checked before it is printed
//! (nonzero, every message of a stream intact, every echo the one sent); a failed check
//! is a line `bench: error NAME: what went wrong`, and the program goes on with the next
//! measurement. At the end it powers the machine off with status 0 if every check held
//! and 1 otherwise. `cargo xtask bench` boots it, reads the lines, and writes tables and
//! plots.
//!
//! ## How it is started
//!
//! By the boot core's monitor, in place of init, with `flotilla.init=bench` on the kernel
//! command line; its argument is `libos::monitor::INIT_ARG` and the number of cores. For
//! `lmp_rtt` it starts a copy of itself as a child, with [`lmp::ECHO_CHILD`] as the
//! argument, which echoes messages until told to stop.
//!
//! ## What it does not do
//!
//! No averages over boots and no times: an icount boot gives the same counts every time,
//! and time is for a real board. No subtraction of baselines: they are printed next to
//! the figures.
//!
//! On the host this file is an ordinary program that only says where the benchmarks run;
//! the formatting of result lines is the one part with host unit tests.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod baseline;
#[cfg(target_os = "none")]
mod counter;
#[cfg(target_os = "none")]
mod lmp;
#[cfg(any(test, target_os = "none"))]
mod report;
#[cfg(target_os = "none")]
mod revoke;
#[cfg(target_os = "none")]
mod unmap;
#[cfg(target_os = "none")]
mod urpc;

#[cfg(target_os = "none")]
libos::entry!(main);

/// A benchmark: it gets the report and the number of cores.
#[cfg(target_os = "none")]
type Benchmark = fn(&mut report::Report, u64);

/// Every benchmark, in the order they run, in the groups a non-init start selects by
/// their `libos::bench` names.
#[cfg(target_os = "none")]
const GROUPS: [(&str, &[Benchmark]); 3] = [
    (
        "urpc",
        &[
            baseline::counter,
            baseline::syscall_nop,
            baseline::monitor_call,
            urpc::round_trips,
            urpc::streams,
            lmp::round_trips,
        ],
    ),
    ("unmap", &[unmap::shootdowns]),
    ("revoke", &[revoke::revokes]),
];

/// Echoes for its parent if started as the echo child; runs every benchmark and powers
/// off if started as init; otherwise says how to start it.
#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    use libos::monitor::INIT_ARG;
    if arg == lmp::ECHO_CHILD {
        return lmp::echo();
    }
    let request = libos::bench::Request::decode(arg);
    if !request.as_init && request.selection != 0 {
        // Started by the shell's `bench NAME`: the groups asked for, then exit.
        return run_selected(&request);
    }
    if arg & INIT_ARG == 0 {
        // A core's first domain (`flotilla.first=bench`): the argument is the core.
        if arg == 0 {
            libos::println!("bench: error start: boot with flotilla.init=bench, not flotilla.first");
        }
        return 1;
    }
    let cores = arg & !INIT_ARG;
    // The other cores' monitors finish their share of the boot (announcing memory,
    // answering each other) for a while after this program starts; their instructions
    // would count in the first figures. A few timer ticks of sleep let them finish.
    for _ in 0..3 {
        libos::syscall::wait_for_interrupt();
    }
    let mut report = report::Report::default();
    for benchmark in GROUPS.iter().flat_map(|(_, group)| group.iter()) {
        benchmark(&mut report, cores);
    }
    let status = u64::from(report.errors() > 0);
    if let Err(e) = libos::monitor::power_off(status) {
        libos::println!("bench: error power_off: {e}");
    }
    status
}

/// Runs the groups `request` selects; the status is 1 if a check failed or a group is not
/// here.
#[cfg(target_os = "none")]
fn run_selected(request: &libos::bench::Request) -> u64 {
    let mut report = report::Report::default();
    let cores = request.cores.max(1);
    for name in libos::bench::NAMES.iter().filter(|n| request.runs(n)) {
        match GROUPS.iter().find(|(group, _)| group == name) {
            Some((_, benchmarks)) => benchmarks.iter().for_each(|b| b(&mut report, cores)),
            None => report.error(name, &report::Failure::Implausible("not in this build of bench".into())),
        }
    }
    // The `unmap` group's dispatchers on other cores were told to stop; they look at the
    // next tick of their core. Let them end before this program's address space does.
    let until = libos::clock::now() + libos::clock::frequency_hz() / 10;
    while libos::clock::now() < until {
        libos::syscall::wait_for_interrupt();
    }
    u64::from(report.errors() > 0)
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("bench is a Flotilla user program: `cargo xtask bench` builds it into the image and boots it");
    std::process::ExitCode::from(2)
}
