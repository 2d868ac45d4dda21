//! Updating shared state from N cores at once:
//!
//! `bench: update strategy=atomic|lock cores=N lines=M updates=U instructions=T
//! instructions_per_op=T/U`
//!
//! N threads, pinned to cores 0..N (the first is this program's own), each make
//! [`UPDATES`] updates of the same M cache lines (M = 1, 2, 4, 8): with `atomic`, one
//! atomic fetch-add on each line (a load-exclusive/store-exclusive loop, the same code
//! Flotilla's side gets from the same compiler and target); with `lock`, M plain
//! increments inside one futex mutex. `U` counts the updates of all threads together, so
//! `instructions_per_op` is what one thread's update of M lines costs when N contend.
//!
//! The threads wait for the start by spinning, so none is asleep when the clock starts;
//! the first thread sleeps in `futex_wait` once its own share is done until the last one
//! ends, as a waiting thread would. Every line must end at N·[`UPDATES`].

use crate::counter;
use crate::report::{expect_eq, Failure, Report, Value};
use crate::sync::{wait_until, Mutex};
use crate::sys;
use crate::thread::{self, Thread};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Updates each thread makes.
const UPDATES: u64 = 1000;
/// Threads at most (cores beyond are left out).
const MAX_THREADS: usize = 64;
/// How many cache lines an update touches, in turn.
const LINE_COUNTS: [usize; 4] = [1, 2, 4, 8];
/// The cache line size of the cores QEMU's `-cpu max` models (64 bytes, `CTR_EL0.DminLine`).
const CACHE_LINE_BYTES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    Atomic,
    Lock,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Atomic => "atomic",
            Strategy::Lock => "lock",
        }
    }
}

/// A counter alone in its cache line, so M counters are M lines.
#[repr(align(64))]
struct CacheLine(AtomicU64);

const _: () = assert!(size_of::<CacheLine>() == CACHE_LINE_BYTES);

static LINES: [CacheLine; 8] = [const { CacheLine(AtomicU64::new(0)) }; 8];

static LOCK: Mutex = Mutex::new();

/// Threads at the start line, the start signal, and threads done.
static READY: AtomicU32 = AtomicU32::new(0);
static GO: AtomicU32 = AtomicU32::new(0);
static DONE: AtomicU32 = AtomicU32::new(0);

pub fn updates(report: &mut Report, cores: usize) {
    for threads in 1..=cores.min(MAX_THREADS) {
        for lines in LINE_COUNTS {
            for strategy in [Strategy::Atomic, Strategy::Lock] {
                match measure(strategy, threads, lines) {
                    Ok(ticks) => {
                        let updates = threads as u64 * UPDATES;
                        report.result(
                            "update",
                            &[
                                ("strategy", Value::Word(strategy.name())),
                                ("cores", Value::Count(threads as u64)),
                                ("lines", Value::Count(lines as u64)),
                                ("updates", Value::Count(updates)),
                                ("instructions", Value::Count(ticks)),
                                ("instructions_per_op", Value::Ratio(ticks, updates)),
                            ],
                        );
                    }
                    Err(failure) => report.error(
                        format_args!("update strategy={} cores={threads} lines={lines}", strategy.name()),
                        &failure,
                    ),
                }
            }
        }
    }
}

/// One thread's share: [`UPDATES`] updates of the first `lines` lines.
fn update_lines(strategy: Strategy, lines: usize) {
    let lines = &LINES[..lines];
    for _ in 0..UPDATES {
        match strategy {
            Strategy::Atomic => {
                for line in lines {
                    line.0.fetch_add(1, Ordering::Relaxed);
                }
            }
            Strategy::Lock => {
                LOCK.lock();
                for line in lines {
                    line.0.store(line.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                }
                LOCK.unlock();
            }
        }
    }
}

/// Ticks from the start signal until `threads` threads have each done their share.
fn measure(strategy: Strategy, threads: usize, lines: usize) -> Result<u64, Failure> {
    for line in &LINES {
        line.0.store(0, Ordering::Relaxed);
    }
    for word in [&READY, &GO, &DONE] {
        word.store(0, Ordering::Release);
    }
    let mut workers: [Option<Thread>; MAX_THREADS] = [const { None }; MAX_THREADS];
    let mut outcome: Result<(), Failure> = Ok(());
    for (core, slot) in workers.iter_mut().enumerate().take(threads).skip(1) {
        match thread::spawn_on(core, move || worker(strategy, lines)) {
            Ok(thread) => *slot = Some(thread),
            Err(e) => {
                outcome = Err(e.into());
                break;
            }
        }
    }
    let started = workers.iter().flatten().count() as u32;
    while READY.load(Ordering::Acquire) != started {
        core::hint::spin_loop();
    }
    let ticks = if outcome.is_ok() {
        counter::measure(|| {
            GO.store(1, Ordering::Release);
            update_lines(strategy, lines);
            wait_until(&DONE, started);
        })
        .0
    } else {
        // Let the workers that did start finish, so they can be joined.
        GO.store(1, Ordering::Release);
        0
    };
    for thread in workers.into_iter().flatten() {
        thread.join()?;
    }
    outcome?;
    for line in &LINES[..lines] {
        expect_eq("a line's count", line.0.load(Ordering::Relaxed), threads as u64 * UPDATES)?;
    }
    Ok(ticks)
}

fn worker(strategy: Strategy, lines: usize) {
    READY.fetch_add(1, Ordering::AcqRel);
    while GO.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    update_lines(strategy, lines);
    DONE.fetch_add(1, Ordering::AcqRel);
    sys::futex_wake(&DONE, 1);
}
