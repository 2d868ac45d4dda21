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
//! | `update` | updating 1..8 shared cache lines from 1..all cores: atomics, a lock, or messages to a server |
//! | `compute` | an integer sort (after NAS IS) on 1..all cores with `libos::parallel`, both variants |
//! | `boot` | the counter when all cores came online, and when this program started |
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
//! The benchmarks come in groups (`boot`, `urpc` (the message benchmarks above), `unmap`,
//! `update`, `revoke`, `compute`); the argument selects which run
//! (`libos::bench::Request`), all of them by default. Each result is one line of one
//! shape ([`report`]),
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
//! command line (and `flotilla.init_arg=SELECTION`); its argument is then a
//! `libos::bench::Request` with `as_init` set, and it powers off when done. Started by
//! another program (the shell's `bench NAME`) it runs what it is asked and exits. For
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
mod boot;
#[cfg(target_os = "none")]
mod compute;
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
mod update;
#[cfg(target_os = "none")]
mod urpc;

#[cfg(target_os = "none")]
libos::entry!(main);

/// A benchmark: it gets the report and the number of cores.
#[cfg(target_os = "none")]
type Benchmark = fn(&mut report::Report, u64);

/// The benchmarks of each group a request selects (`libos::bench::NAMES`), in the order
/// they run. `boot` comes first, before anything else disturbs the machine.
#[cfg(target_os = "none")]
const GROUPS: [(&str, &[Benchmark]); 6] = [
    ("boot", &[boot::run]),
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
    ("update", &[update::run]),
    ("revoke", &[revoke::revokes]),
    ("compute", &[compute::run]),
];

/// Set when the counter is time (`libos::bench::WALLCLOCK`): the runtime benchmarks then
/// take more work per measurement and repeat it.
#[cfg(target_os = "none")]
static WALLCLOCK: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether the counter is time, not instructions.
#[cfg(target_os = "none")]
fn wallclock() -> bool {
    WALLCLOCK.load(core::sync::atomic::Ordering::Relaxed)
}

/// Measurements of one parallel configuration whose median is reported: in time, where
/// one run may be slowed by the host, several; under icount, where every run counts the
/// same instructions, one.
#[cfg(target_os = "none")]
fn repetitions() -> usize {
    if wallclock() {
        7
    } else {
        1
    }
}

/// Runs `job` on `members` members of `team` after an empty run (which wakes the workers,
/// asleep between jobs), [`repetitions`] times, and returns the median counter ticks of
/// one run, from before its fork to after its join, with the results of the last.
#[cfg(target_os = "none")]
fn parallel_run(
    team: &mut libos::parallel::Team,
    members: usize,
    variant: libos::parallel::Variant,
    job: libos::parallel::Job,
    args: &[u64],
) -> (u64, alloc::vec::Vec<u64>) {
    team.run(members, variant, |_, _| 0, &[]);
    let mut ticks = alloc::vec::Vec::new();
    let mut results = alloc::vec::Vec::new();
    for _ in 0..repetitions() {
        let (taken, these) = libos::clock::measure(|| team.run(members, variant, job, args));
        ticks.push(taken);
        results = these;
    }
    ticks.sort_unstable();
    (ticks[ticks.len() / 2], results)
}

/// Echoes for its parent if started as the echo child; otherwise runs the benchmarks its
/// argument selects (`libos::bench::Request`) and powers off if started as init, or exits
/// with the status if started by another program.
#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    boot::note_start();
    if arg == lmp::ECHO_CHILD {
        return lmp::echo();
    }
    let request = libos::bench::Request::decode(arg);
    WALLCLOCK.store(request.wallclock, core::sync::atomic::Ordering::Relaxed);
    if request.cores == 0 {
        // A core's first domain (`flotilla.first=bench`) on core 0.
        libos::println!("bench: error start: boot with flotilla.init=bench, not flotilla.first");
        return 1;
    }
    let mut report = report::Report::default();
    let mut settled = false;
    for (name, benchmarks) in GROUPS {
        if !request.runs(name) {
            continue;
        }
        if name != "boot" && !settled {
            // The other cores' monitors finish their share of the boot (announcing
            // memory, answering each other) for a while after this program starts; their
            // instructions would count in the first figures. A few timer ticks of sleep
            // let them finish.
            for _ in 0..3 {
                libos::syscall::wait_for_interrupt();
            }
            settled = true;
        }
        if name == "boot" && !request.as_init {
            libos::println!("(the boot figures are measured only when bench is started as init)");
            continue;
        }
        for benchmark in benchmarks {
            benchmark(&mut report, request.cores);
        }
    }
    let status = u64::from(report.errors() > 0);
    if request.as_init {
        if let Err(e) = libos::monitor::power_off(status) {
            libos::println!("bench: error power_off: {e}");
        }
    } else {
        // The `unmap` group's dispatchers on other cores were told to stop; they look at
        // the next tick of their core. Let them end before this program's address space
        // does.
        let until = libos::clock::now() + libos::clock::frequency_hz() / 10;
        while libos::clock::now() < until {
            libos::syscall::wait_for_interrupt();
        }
    }
    status
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("bench is a Flotilla user program: `cargo xtask bench` builds it into the image and boots it");
    std::process::ExitCode::from(2)
}
