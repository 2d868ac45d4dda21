//! Updating shared state from N cores: the multikernel paper's case for messages.
//!
//! N cores each make [`UPDATES`] updates of the same M cache lines (M = 1, 2, 4, 8), three
//! ways:
//!
//! - `atomic`: every core increments each line with an atomic read-modify-write;
//! - `lock`: every core takes one spin lock, increments the lines with plain loads and
//!   stores, and releases it;
//! - `message`: the state belongs to one *server* core (member 0 of the team), which
//!   alone touches it; each of the N client cores sends every update to the server as a
//!   URPC message and waits for its answer (a remote procedure call), as in the paper.
//!   So N client cores take N + 1 cores.
//!
//! The cores are a [`libos::parallel::Team`] of this program; each figure is the whole run
//! as its coordinator sees it, fork and join included ([`crate::parallel_run`]; in time,
//! with 20 times the updates and the median of several runs), and every line's final
//! value is checked (N · updates per run).
//!
//! `bench: update strategy=S cores=N lines=M updates=U instructions=T instructions_per_op=T/(N·U)`
//!
//! Under icount the figure is every core's instructions per update made, waiting included,
//! in QEMU's round-robin order; QEMU does not model caches, so it is the length of each
//! strategy's code path and not the cost of moving lines between caches. Under the
//! multi-threaded emulator (`--mode wallclock`) the host's caches do move the lines, and
//! the figures become time; see `docs/benchmarks.md`.

use crate::report::{expect_eq, nonzero, Failure, Report, Value};
use core::sync::atomic::{AtomicU64, Ordering};
use libos::parallel::{Member, Team, Variant};

/// Updates each core makes per measurement under icount, where each is counted exactly.
const UPDATES: u64 = 1000;
/// Updates each core makes per measurement in time: enough to outlast the fork and join.
const WALLCLOCK_UPDATES: u64 = 20_000;
/// Cache lines updated.
const LINES: [u64; 4] = [1, 2, 4, 8];
const MAX_LINES: usize = 8;

/// A counter alone in its cache line.
#[repr(C, align(64))]
struct Line(AtomicU64);

/// The shared state of `atomic` and `lock`.
static STATE: [Line; MAX_LINES] = [const { Line(AtomicU64::new(0)) }; MAX_LINES];
/// The lock of `lock`, in a line of its own.
static LOCK: Line = Line(AtomicU64::new(0));
/// What one core does for one strategy: `(member, lines, updates)`.
type Work = fn(&mut Member<'_>, usize, u64) -> u64;

const STRATEGIES: [(&str, Variant, Work); 3] = [
    ("atomic", Variant::Shared, atomic_updates),
    ("lock", Variant::Shared, locked_updates),
    ("message", Variant::Message, message_updates),
];

pub fn run(report: &mut Report, cores: u64) {
    let mut team = match Team::span(cores as usize) {
        Ok(team) => team,
        Err(e) => return report.error("update", &crate::report::call("spanning the team")(e)),
    };
    for (strategy, variant, _) in STRATEGIES {
        // The message strategy needs a core for the server.
        let first = if strategy == "message" { 2 } else { 1 };
        for members in first..=cores as usize {
            for lines in LINES {
                let outcome = measure(report, &mut team, strategy, variant, members, lines as usize);
                report.outcome(&alloc::format!("update strategy={strategy} members={members}"), outcome);
            }
        }
    }
}

/// The job: `args` = the strategy's index, lines, updates; returns the member's result.
fn job(member: &mut Member<'_>, args: &[u64]) -> u64 {
    let (strategy, lines, updates) = (args[0] as usize, args[1] as usize, args[2]);
    STRATEGIES[strategy].2(member, lines, updates)
}

fn measure(
    report: &mut Report,
    team: &mut Team,
    strategy: &'static str,
    variant: Variant,
    members: usize,
    lines: usize,
) -> Result<(), Failure> {
    for line in &STATE {
        line.0.store(0, Ordering::Relaxed);
    }
    let index = STRATEGIES.iter().position(|s| s.0 == strategy).unwrap_or(0) as u64;
    let updates = if crate::wallclock() { WALLCLOCK_UPDATES } else { UPDATES };
    let (ticks, results) = crate::parallel_run(team, members, variant, job, &[index, lines as u64, updates]);
    let updaters = if strategy == "message" { members - 1 } else { members } as u64;
    let expected = updaters * updates;
    match strategy {
        "message" => expect_eq("the server's lines", results[0], expected * lines as u64)?,
        _ => {
            let total: u64 = STATE[..lines].iter().map(|l| l.0.load(Ordering::Relaxed)).sum();
            // Every repetition added its updates: the lines are reset once, before all.
            let runs = crate::repetitions() as u64;
            expect_eq("the lines' values", total, runs * expected * lines as u64)?;
        }
    }
    let ticks = nonzero("the instructions measured", ticks)?;
    report.result(
        "update",
        &[
            ("strategy", Value::Word(strategy)),
            ("cores", Value::Count(updaters)),
            ("lines", Value::Count(lines as u64)),
            ("updates", Value::Count(expected)),
            ("instructions", Value::Count(ticks)),
            ("instructions_per_op", Value::ratio(ticks, expected)),
        ],
    );
    Ok(())
}

fn atomic_updates(_: &mut Member<'_>, lines: usize, updates: u64) -> u64 {
    for _ in 0..updates {
        for line in &STATE[..lines] {
            line.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    0
}

fn locked_updates(member: &mut Member<'_>, lines: usize, updates: u64) -> u64 {
    for _ in 0..updates {
        // Test and test-and-set: look until the lock seems free, then try to take it.
        while LOCK.0.load(Ordering::Relaxed) != 0
            || LOCK.0.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err()
        {
            member.pause();
        }
        for line in &STATE[..lines] {
            // Plain load and store: the lock keeps every other core out.
            line.0.store(line.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        LOCK.0.store(0, Ordering::Release);
    }
    0
}

/// The server (member 0) owns `lines` counters and answers each client's update with the
/// first counter's new value; a client sends `updates` updates, one at a time. Returns,
/// on the server, the sum of its counters at the end.
fn message_updates(member: &mut Member<'_>, lines: usize, updates: u64) -> u64 {
    if member.index() != 0 {
        let mut answer = [0];
        for _ in 0..updates {
            member.send(0, &[1]);
            member.receive(0, &mut answer);
        }
        return 0;
    }
    let mut owned = [0u64; MAX_LINES];
    let clients = member.size() - 1;
    // Updates still to come from each client (index 0, the server, sends none): a client
    // that made all of its own is not looked at again.
    let mut left = alloc::vec![updates; clients + 1];
    left[0] = 0;
    let mut request = [0];
    while left.iter().any(|&n| n > 0) {
        let mut served = false;
        for (client, left_of) in left.iter_mut().enumerate().skip(1) {
            if *left_of > 0 && member.try_receive(client, &mut request).is_some() {
                for counter in &mut owned[..lines] {
                    *counter += request[0];
                }
                member.send(client, &[owned[0]]);
                *left_of -= 1;
                served = true;
            }
        }
        if !served {
            member.pause();
        }
    }
    owned[..lines].iter().sum()
}
