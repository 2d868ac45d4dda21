//! Round trips between two threads, Linux's nearest things to a URPC ping and pong:
//!
//! - `bench: urpc_rtt core=K rounds=N instructions=T instructions_per_op=T/N`: the client
//!   (core 0) writes 8 bytes into one pipe, the server (pinned on core K) reads them and
//!   writes them back through another; both block in `read` while they wait. For every
//!   core K from 1.
//! - `bench: futex_rtt core=K ...`: the same through one word of shared memory: the client
//!   stores an odd number and wakes the server's futex, the server stores the next even
//!   number and wakes the client's. Both sleep in `futex_wait` while they wait, so every
//!   trip crosses the kernel twice, as a URPC trip between sleeping monitors does.
//! - `bench: pipe_rtt_same_core core=0 ...`: the pipe round trip with both threads on core 0,
//!   the analogue of Flotilla's `lmp_rtt`.
//!
//! Every echo is checked to be the number sent. A few rounds before the measured ones warm
//! the path (page faults on first use of the pipe buffers, the scheduler's first moves).

use crate::counter;
use crate::report::{expect_eq, Failure, Report, Value};
use crate::sync::wait_for_change;
use crate::sys;
use crate::thread;
use core::sync::atomic::{AtomicU32, Ordering};

/// Round trips timed per measurement, as Flotilla's `urpc_rtt`.
const ROUNDS: u64 = 1000;
/// Round trips before the timed ones.
const WARM_UP: u64 = 10;
/// Sent through a pipe to end the server.
const STOP: u64 = u64::MAX;

pub fn round_trips(report: &mut Report, cores: usize) {
    for core in 1..cores {
        let outcome = pipe_round_trips(core);
        record(report, "urpc_rtt", core, outcome);
    }
    for core in 1..cores {
        let outcome = futex_round_trips(core);
        record(report, "futex_rtt", core, outcome);
    }
    let outcome = pipe_round_trips(0);
    record(report, "pipe_rtt_same_core", 0, outcome);
}

fn record(report: &mut Report, benchmark: &str, core: usize, outcome: Result<u64, Failure>) {
    match outcome {
        Ok(ticks) => report.result(
            benchmark,
            &[
                ("core", Value::Count(core as u64)),
                ("rounds", Value::Count(ROUNDS)),
                ("instructions", Value::Count(ticks)),
                ("instructions_per_op", Value::Ratio(ticks, ROUNDS)),
            ],
        ),
        Err(failure) => report.error(format_args!("{benchmark} core={core}"), &failure),
    }
}

/// Ticks for [`ROUNDS`] pipe round trips to a server on `core`.
fn pipe_round_trips(core: usize) -> Result<u64, Failure> {
    let [to_server_read, to_server] = sys::pipe()?;
    let [from_server, from_server_write] = sys::pipe()?;
    let server = thread::spawn_on(core, move || {
        let mut word = [0u8; 8];
        while sys::read_exact(to_server_read, &mut word).is_ok() && u64::from_le_bytes(word) != STOP {
            if sys::write(from_server_write, &word).is_err() {
                return;
            }
        }
    })?;
    let ping = |round: u64| -> Result<(), Failure> {
        sys::write(to_server, &round.to_le_bytes())?;
        let mut echo = [0u8; 8];
        sys::read_exact(from_server, &mut echo)?;
        expect_eq("echo", u64::from_le_bytes(echo), round)
    };
    let mut outcome = (0..WARM_UP).try_for_each(ping);
    let mut ticks = 0;
    if outcome.is_ok() {
        let timed;
        (ticks, timed) = counter::measure(|| (0..ROUNDS).try_for_each(ping));
        outcome = timed;
    }
    // The server ends on STOP, or on the end of its pipe should that write fail.
    let _ = sys::write(to_server, &STOP.to_le_bytes());
    server.join()?;
    for fd in [to_server_read, to_server, from_server, from_server_write] {
        sys::close(fd)?;
    }
    outcome.map(|()| ticks)
}

/// The word the futex ping-pong turns on: odd numbers are pings, the next even one the pong.
static TURN: AtomicU32 = AtomicU32::new(0);
/// Stored instead of a ping to end the server.
const TURN_STOP: u32 = u32::MAX;

/// Ticks for [`ROUNDS`] futex round trips to a server on `core`.
fn futex_round_trips(core: usize) -> Result<u64, Failure> {
    TURN.store(0, Ordering::Release);
    let server = thread::spawn_on(core, move || {
        let mut seen = 0;
        loop {
            let ping = wait_for_change(&TURN, seen);
            if ping == TURN_STOP {
                return;
            }
            seen = ping + 1;
            TURN.store(seen, Ordering::Release);
            sys::futex_wake(&TURN, 1);
        }
    })?;
    let ping = |round: u64| -> Result<(), Failure> {
        let sent = 2 * round as u32 + 1;
        TURN.store(sent, Ordering::Release);
        sys::futex_wake(&TURN, 1);
        expect_eq("pong", u64::from(wait_for_change(&TURN, sent)), u64::from(sent) + 1)
    };
    let mut outcome = (0..WARM_UP).try_for_each(ping);
    let mut ticks = 0;
    if outcome.is_ok() {
        let timed;
        (ticks, timed) = counter::measure(|| (WARM_UP..WARM_UP + ROUNDS).try_for_each(ping));
        outcome = timed;
    }
    TURN.store(TURN_STOP, Ordering::Release);
    sys::futex_wake(&TURN, 1);
    server.join()?;
    outcome.map(|()| ticks)
}
