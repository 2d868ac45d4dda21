//! How long the system takes to come up, in instructions from reset: until the boot
//! core's monitor sees every core online, and until this program, the first user program
//! started as init, begins.
//!
//! Under icount the counter is the instructions every core executed since QEMU's reset
//! (and any time all cores slept, which `sleep=off` skips ahead in). The online moment is
//! recorded by the boot core's monitor when it prints `all N cores online`
//! (`libos::monitor::online_at`); the start of this program is the first thing its main
//! function reads ([`note_start`]).
//!
//! `bench: boot cores=N online_instructions=X first_program_instructions=Y`

use crate::report::{call, nonzero, Failure, Report, Value};
use core::sync::atomic::{AtomicU64, Ordering};

static STARTED_AT: AtomicU64 = AtomicU64::new(0);

/// Records the counter at this program's start: call first thing.
pub fn note_start() {
    STARTED_AT.store(libos::clock::now(), Ordering::Relaxed);
}

pub fn run(report: &mut Report, cores: u64) {
    let outcome = measure(report, cores);
    report.outcome("boot", outcome);
}

fn measure(report: &mut Report, cores: u64) -> Result<(), Failure> {
    let online = nonzero("the counter when all cores were online", {
        libos::monitor::online_at().map_err(call("asking the monitor when it came online"))?
    })?;
    let started = nonzero("the counter when this program started", STARTED_AT.load(Ordering::Relaxed))?;
    if started < online {
        return Err(Failure::Implausible(alloc::format!(
            "this program started at {started}, before all cores were online at {online}"
        )));
    }
    report.result(
        "boot",
        &[
            ("cores", Value::Count(cores)),
            ("online_instructions", Value::Count(online)),
            ("first_program_instructions", Value::Count(started)),
        ],
    );
    Ok(())
}
