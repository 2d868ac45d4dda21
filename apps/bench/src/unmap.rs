//! Unmapping a page of a domain spanned over more and more cores: the multikernel paper's
//! TLB shootdown experiment, done its way (by messages between monitors).
//!
//! For `spanned` = 1, 2, …, all cores, this program spans itself to one more core (a
//! dispatcher that sleeps in `wfe` until told to stop), then `ROUNDS` times maps a page,
//! touches it, and times the unmap: the CPU driver's own (clear the entry, flush this
//! core's TLB) and the shootdown that follows (`libos::span::shootdown`: the home monitor
//! asks the monitor of every other core the domain spans to flush its TLB, and answers
//! when all have). With one core there is nobody to ask, and the figure is the unmap alone.
//!
//! `bench: unmap cores=K rounds=N instructions=T instructions_per_op=T/N`.

use crate::report::{call, expect_eq, nonzero, Failure, Report, Value};
use core::sync::atomic::{AtomicBool, Ordering};
use libos::abi::cap::{Rights, PAGE_SIZE};

/// Unmaps timed per core count.
const ROUNDS: u64 = 50;

/// Tells the spanned dispatchers to end.
static STOP: AtomicBool = AtomicBool::new(false);

/// A spanned dispatcher's life: sleep until told to stop, letting its core's monitor run
/// whenever it has something to do.
fn sleep_until_stopped(_: u64) {
    while !STOP.load(Ordering::Acquire) {
        libos::syscall::wait_for_interrupt();
    }
}

pub fn shootdowns(report: &mut Report, cores: u64) {
    STOP.store(false, Ordering::Release);
    for spanned in 1..=cores {
        // One more core in the domain (the first is the one it started on).
        if spanned > 1 {
            if let Err(e) = libos::span::span(spanned - 1, sleep_until_stopped, 0, PAGE_SIZE) {
                report.error("unmap", &call("spanning")(e));
                break;
            }
        }
        let outcome = unmap_rounds(report, spanned);
        report.outcome(&alloc::format!("unmap cores={spanned}"), outcome);
    }
    STOP.store(true, Ordering::Release);
}

fn unmap_rounds(report: &mut Report, spanned: u64) -> Result<(), Failure> {
    let rw = Rights::READ.union(Rights::WRITE);
    let mut total = 0;
    for _ in 0..ROUNDS {
        let mapping = libos::paging::with_current(|v| v.map_anonymous(PAGE_SIZE, PAGE_SIZE, rw))
            .map_err(call("mapping a page"))?;
        let va = mapping.va();
        // SAFETY: the page was just mapped writable.
        unsafe { core::ptr::write_volatile(va as *mut u64, 1) };
        let (ticks, unmapped) = crate::counter::measure(|| {
            libos::paging::with_current(|v| v.unmap(mapping))?;
            libos::span::shootdown(va, 1)
        });
        let reached = unmapped.map_err(call("unmapping"))?;
        expect_eq("other cores the shootdown reached", u64::from((reached >> 1).count_ones()), spanned - 1)?;
        total += ticks;
    }
    nonzero("the instructions measured", total)?;
    report.result(
        "unmap",
        &[
            ("cores", Value::Count(spanned)),
            ("rounds", Value::Count(ROUNDS)),
            ("instructions", Value::Count(total)),
            ("instructions_per_op", Value::ratio(total, ROUNDS)),
        ],
    );
    Ok(())
}
