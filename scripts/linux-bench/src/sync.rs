//! Waiting on a word of shared memory without spinning: the futex loops the benchmarks
//! share, and a futex mutex.

use crate::sys;
use core::sync::atomic::{AtomicU32, Ordering};

/// Sleeps while `word` holds `seen`; returns what it holds then.
pub fn wait_for_change(word: &AtomicU32, seen: u32) -> u32 {
    loop {
        let now = word.load(Ordering::Acquire);
        if now != seen {
            return now;
        }
        sys::futex_wait(word, seen, true);
    }
}

/// Sleeps until `word` is at least `count`.
pub fn wait_until(word: &AtomicU32, count: u32) {
    let mut now = word.load(Ordering::Acquire);
    while now < count {
        now = wait_for_change(word, now);
    }
}

/// A mutex on a futex word with three states (free, held, held with sleepers), so an
/// unlock makes a system call only when someone sleeps. Alone in its cache line.
#[repr(align(64))]
pub struct Mutex(AtomicU32);

const FREE: u32 = 0;
const HELD: u32 = 1;
const CONTENDED: u32 = 2;

impl Mutex {
    pub const fn new() -> Mutex {
        Mutex(AtomicU32::new(FREE))
    }

    pub fn lock(&self) {
        if self.0.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        // Mark it contended, so the holder wakes someone; sleep until it comes free.
        while self.0.swap(CONTENDED, Ordering::Acquire) != FREE {
            sys::futex_wait(&self.0, CONTENDED, true);
        }
    }

    pub fn unlock(&self) {
        if self.0.swap(FREE, Ordering::Release) == CONTENDED {
            sys::futex_wake(&self.0, 1);
        }
    }
}
