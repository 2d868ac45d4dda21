//! The floors under the message benchmarks: what the counter counts, the cheapest system
//! call, and the cheapest request to this core's monitor.
//!
//! `counter` checks the premise of every other figure: it times a loop whose instructions
//! are known, so it shows whether a counter tick is an instruction (under icount) or not.
//! `monitor_call` is the null measurement for the URPC figures: every ping or stream a
//! program asks for starts with one such request and ends with its answer, and a program
//! that talks to another core through its monitor pays both. `syscall_nop` is the floor
//! under that: one trap into the CPU driver and back, which an LMP message takes at least
//! once on each side.

use crate::counter;
use crate::report::{call, nonzero, Failure, Report, Value};

/// Calls timed per measurement.
const CALLS: u64 = 1000;
/// Iterations of the loop that checks what the counter counts.
const LOOP_ITERATIONS: u64 = 100_000;

/// `bench: counter frequency_hz=F iterations=N instructions=T instructions_per_op=T/N`:
/// how to read every other figure. `F` is 1 GHz under icount with `-cpu max`, and the
/// loop timed is two instructions an iteration, so `instructions_per_op` is 2.00 when
/// counter ticks are instructions (a little more should a timer interrupt fall inside).
pub fn counter(report: &mut Report, _cores: u64) {
    let outcome = calibrate(report);
    report.outcome("counter", outcome);
}

fn calibrate(report: &mut Report) -> Result<(), Failure> {
    let hz = nonzero("the counter frequency", counter::frequency_hz())?;
    let (ticks, ()) = counter::measure(|| counter::two_instruction_loop(LOOP_ITERATIONS));
    nonzero("the instructions measured", ticks)?;
    report.result(
        "counter",
        &[
            ("frequency_hz", Value::Count(hz)),
            ("iterations", Value::Count(LOOP_ITERATIONS)),
            ("instructions", Value::Count(ticks)),
            ("instructions_per_op", Value::ratio(ticks, LOOP_ITERATIONS)),
        ],
    );
    Ok(())
}

/// `bench: syscall_nop calls=N instructions=T instructions_per_op=T/N`.
pub fn syscall_nop(report: &mut Report, _cores: u64) {
    let (ticks, ()) = counter::measure(|| (0..CALLS).for_each(|_| libos::syscall::nop()));
    let outcome = per_call(report, "syscall_nop", ticks);
    report.outcome("syscall_nop", outcome);
}

/// `bench: monitor_call calls=N instructions=T instructions_per_op=T/N`: a request the
/// monitor answers without doing anything (`libos::monitor::nop`).
pub fn monitor_call(report: &mut Report, _cores: u64) {
    let outcome = time_monitor_calls(report);
    report.outcome("monitor_call", outcome);
}

fn time_monitor_calls(report: &mut Report) -> Result<(), Failure> {
    // The first call also makes this program's reply endpoint: leave that out.
    libos::monitor::nop().map_err(call("asking the monitor for nothing"))?;
    let (ticks, answered) = counter::measure(|| (0..CALLS).try_for_each(|_| libos::monitor::nop()));
    answered.map_err(call("asking the monitor for nothing"))?;
    per_call(report, "monitor_call", ticks)
}

/// Checks and reports `ticks` for [`CALLS`] calls.
fn per_call(report: &mut Report, benchmark: &str, ticks: u64) -> Result<(), Failure> {
    nonzero("the instructions measured", ticks)?;
    report.result(
        benchmark,
        &[
            ("calls", Value::Count(CALLS)),
            ("instructions", Value::Count(ticks)),
            ("instructions_per_op", Value::ratio(ticks, CALLS)),
        ],
    );
    Ok(())
}
