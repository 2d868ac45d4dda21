//! Revoking a capability whose copies are on more and more cores: the cost of the
//! capability protocol's two-phase revoke (`docs/capability-protocol.md` §6.5).
//!
//! For `holding` = 1, 2, …, all cores, each of `ROUNDS` rounds takes RAM from this core's
//! monitor, sends a copy of it to a mailbox on each of the other `holding - 1` cores
//! (`libos::crosscore::send`: the copies sit in those monitors until revoked), and times
//! `libos::crosscore::revoke`: the owner marks every core in its books, waits for every
//! acknowledgement, commits on every core, and answers once all have deleted their copies.
//! With one core no copy is elsewhere and the CPU driver revokes alone, without a message.
//! The RAM goes back after each round.
//!
//! `bench: revoke cores=K rounds=N instructions=T instructions_per_op=T/N`.

use crate::report::{call, expect_eq, nonzero, Failure, Report, Value};
use libos::abi::cap::Rights;
use libos::cap::RamCap;
use libos::crosscore::{self, Mode};

/// Revokes timed per core count.
const ROUNDS: u64 = 20;

pub fn revokes(report: &mut Report, cores: u64) {
    for holding in 1..=cores {
        let outcome = revoke_rounds(report, holding);
        report.outcome(&alloc::format!("revoke cores={holding}"), outcome);
    }
}

fn revoke_rounds(report: &mut Report, holding: u64) -> Result<(), Failure> {
    let mut total = 0;
    for round in 0..ROUNDS {
        let (ram, base, _) = libos::monitor::ram_alloc(64 << 10).map_err(call("taking RAM"))?;
        for core in 1..holding {
            let mailbox = 0xb3 << 56 | holding << 32 | round << 8 | core;
            crosscore::send(ram.0, core, mailbox, Rights::ALL, Mode::Copy).map_err(call("sending a copy"))?;
        }
        let (ticks, revoked) = crate::counter::measure(|| crosscore::revoke(ram.0));
        revoked.map_err(call("revoking"))?;
        total += ticks;
        give_back(ram, base)?;
    }
    nonzero("the instructions measured", total)?;
    report.result(
        "revoke",
        &[
            ("cores", Value::Count(holding)),
            ("rounds", Value::Count(ROUNDS)),
            ("instructions", Value::Count(total)),
            ("instructions_per_op", Value::ratio(total, ROUNDS)),
        ],
    );
    Ok(())
}

/// Gives the RAM back once this core's monitor has let go of it (the revoke left no copy
/// elsewhere, so it does at once or after the last acknowledgements arrive).
fn give_back(ram: RamCap, base: u64) -> Result<(), Failure> {
    for _ in 0..10_000 {
        match libos::monitor::ram_free(ram, base) {
            Ok(()) => {
                libos::cspace::free_slot(ram.0);
                return Ok(());
            }
            Err(libos::Error::Monitor(libos::monitor::status::BAD_REQUEST)) => libos::syscall::yield_now(),
            Err(e) => return Err(call("giving the RAM back")(e)),
        }
    }
    expect_eq("RAM given back", 0, 1)
}
