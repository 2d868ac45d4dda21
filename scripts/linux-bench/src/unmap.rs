//! Unmapping a page of a process whose threads on N cores have all touched it: the
//! multikernel paper's TLB shootdown experiment, done Linux's way.
//!
//! `bench: unmap cores=N rounds=R instructions=T instructions_per_op=T/R`
//!
//! For N = 1, 2, …, all cores, helper threads pinned on cores 1..N wait in `futex_wait`.
//! Each round this thread (core 0) maps a page and writes to it, wakes the helpers, each of
//! which reads the page (so its core's TLB may hold the translation) and goes back to
//! sleep, and once all have, times `munmap` of the page alone. arm64 Linux invalidates
//! other cores' TLBs with broadcast `TLBI ... IS` instructions rather than interrupts, so
//! the sleeping cores are not woken; Flotilla's figure is its shootdown by messages.

use crate::counter;
use crate::report::{Failure, Report, Value};
use crate::sync::{wait_for_change, wait_until};
use crate::sys;
use crate::thread::{self, Thread};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Unmaps timed per core count, as Flotilla's `unmap`.
const ROUNDS: u32 = 50;
/// The page size of Debian's arm64 kernels (4 KiB granule).
const PAGE_BYTES: usize = 4096;
/// Helper threads at most (cores beyond are left out).
const MAX_HELPERS: usize = 63;

/// This round's page, the round (helpers wait for it to change; [`STOP`] ends them), and
/// how many touches of pages the helpers have made in all.
static PAGE: AtomicUsize = AtomicUsize::new(0);
static ROUND: AtomicU32 = AtomicU32::new(0);
static TOUCHED: AtomicU32 = AtomicU32::new(0);
const STOP: u32 = u32::MAX;

pub fn unmaps(report: &mut Report, cores: usize) {
    for spanned in 1..=cores.min(MAX_HELPERS + 1) {
        match measure(spanned) {
            Ok(ticks) => report.result(
                "unmap",
                &[
                    ("cores", Value::Count(spanned as u64)),
                    ("rounds", Value::Count(u64::from(ROUNDS))),
                    ("instructions", Value::Count(ticks)),
                    ("instructions_per_op", Value::Ratio(ticks, u64::from(ROUNDS))),
                ],
            ),
            Err(failure) => report.error(format_args!("unmap cores={spanned}"), &failure),
        }
    }
}

/// Ticks of [`ROUNDS`] unmaps with helpers on cores 1..`spanned`.
fn measure(spanned: usize) -> Result<u64, Failure> {
    ROUND.store(0, Ordering::Release);
    TOUCHED.store(0, Ordering::Release);
    let mut helpers: [Option<Thread>; MAX_HELPERS] = [const { None }; MAX_HELPERS];
    let mut outcome = Ok(0);
    for (slot, core) in helpers.iter_mut().zip(1..spanned) {
        match thread::spawn_on(core, touch_each_page) {
            Ok(thread) => *slot = Some(thread),
            Err(e) => {
                outcome = Err(e.into());
                break;
            }
        }
    }
    if outcome.is_ok() {
        let started = helpers.iter().flatten().count() as u32;
        outcome = rounds(started);
    }
    ROUND.store(STOP, Ordering::Release);
    sys::futex_wake(&ROUND, sys::WAKE_ALL);
    for thread in helpers.into_iter().flatten() {
        thread.join()?;
    }
    outcome
}

fn rounds(helpers: u32) -> Result<u64, Failure> {
    let mut total = 0;
    for round in 1..=ROUNDS {
        let page = sys::map_anonymous(PAGE_BYTES)?;
        // SAFETY: the page was just mapped, writable.
        unsafe { page.cast::<u64>().write_volatile(u64::from(round)) };
        PAGE.store(page as usize, Ordering::Release);
        ROUND.store(round, Ordering::Release);
        sys::futex_wake(&ROUND, sys::WAKE_ALL);
        wait_until(&TOUCHED, helpers * round);
        // SAFETY: the helpers are done with the page (they touch it once a round).
        let (ticks, unmapped) = counter::measure(|| unsafe { sys::unmap(page, PAGE_BYTES) });
        unmapped?;
        total += ticks;
    }
    Ok(total)
}

/// A helper's life: for each round, read the round's page, say so, sleep until the next.
fn touch_each_page() {
    let mut seen = 0;
    loop {
        let round = wait_for_change(&ROUND, seen);
        if round == STOP {
            return;
        }
        seen = round;
        let page = PAGE.load(Ordering::Acquire) as *const u64;
        // SAFETY: the page stays mapped until every helper has counted its touch below.
        unsafe { page.read_volatile() };
        TOUCHED.fetch_add(1, Ordering::AcqRel);
        sys::futex_wake(&TOUCHED, 1);
    }
}
