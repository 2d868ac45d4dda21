//! A sense-reversing barrier in shared memory: the shared-memory variant's way of making
//! every member wait for the others.
//!
//! Each member keeps a private *sense*, a flag it flips at every barrier. The barrier
//! holds a count of members arrived and a shared sense. A member arriving flips its own
//! sense and increments the count; the last to arrive resets the count and publishes its
//! sense as the shared one, which releases everyone spinning until the shared sense
//! equals theirs. Because the sense alternates, the same barrier serves the next round at
//! once: a fast member that arrives at the next barrier before a slow one has left this
//! one waits for the *other* sense value, and the count was reset before any member was
//! released. One shared line is written by every member at every barrier: the cost the
//! message variant avoids, and the comparison the `compute` benchmark draws.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A barrier for a number of members fixed between [`SenseBarrier::reset`]s.
#[derive(Debug, Default)]
pub struct SenseBarrier {
    parties: AtomicUsize,
    arrived: AtomicUsize,
    sense: AtomicBool,
}

/// One member's side of a barrier: its sense, starting at `false` as the barrier's does
/// after [`SenseBarrier::reset`].
#[derive(Debug, Default)]
pub struct LocalSense(bool);

impl SenseBarrier {
    pub const fn new(parties: usize) -> SenseBarrier {
        SenseBarrier {
            parties: AtomicUsize::new(parties),
            arrived: AtomicUsize::new(0),
            sense: AtomicBool::new(false),
        }
    }

    /// Makes the barrier one for `parties` members, none arrived. Only while no member is
    /// at it; members start over with a fresh [`LocalSense`].
    pub fn reset(&self, parties: usize) {
        self.parties.store(parties.max(1), Ordering::Relaxed);
        self.arrived.store(0, Ordering::Relaxed);
        self.sense.store(false, Ordering::Release);
    }

    /// Returns once every member has called `wait` for this round, calling `pause`
    /// between looks.
    pub fn wait(&self, local: &mut LocalSense, mut pause: impl FnMut()) {
        local.0 = !local.0;
        // AcqRel: this member's writes before the barrier are released to the last
        // arriver, which acquires everyone's before it publishes the new sense.
        let arrived = self.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        if arrived == self.parties.load(Ordering::Relaxed) {
            // Reset before releasing: nobody can arrive for the next round before the
            // store below, so the count is never seen half-reset.
            self.arrived.store(0, Ordering::Relaxed);
            // Release pairs with the waiters' Acquire: what every member wrote before
            // arriving is visible to every member after the barrier.
            self.sense.store(local.0, Ordering::Release);
        } else {
            while self.sense.load(Ordering::Acquire) != local.0 {
                pause();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    #[test]
    fn nobody_passes_a_barrier_before_everyone_arrived_round_after_round() {
        const MEMBERS: usize = 4;
        const ROUNDS: u64 = 2000;
        let barrier = Arc::new(SenseBarrier::new(MEMBERS));
        // Each member's round count: after barrier r, every member has finished round r.
        let rounds: Arc<Vec<AtomicU64>> = Arc::new((0..MEMBERS).map(|_| AtomicU64::new(0)).collect());
        let threads: Vec<_> = (0..MEMBERS)
            .map(|me| {
                let (barrier, rounds) = (barrier.clone(), rounds.clone());
                std::thread::spawn(move || {
                    let mut sense = LocalSense::default();
                    for round in 1..=ROUNDS {
                        rounds[me].store(round, Ordering::Relaxed);
                        barrier.wait(&mut sense, std::thread::yield_now);
                        for other in rounds.iter() {
                            let seen = other.load(Ordering::Relaxed);
                            assert!(seen >= round, "a member left round {round} while another was at {seen}");
                        }
                        barrier.wait(&mut sense, std::thread::yield_now);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn a_barrier_of_one_never_waits_and_can_be_reset() {
        let barrier = SenseBarrier::new(1);
        let mut sense = LocalSense::default();
        for _ in 0..3 {
            barrier.wait(&mut sense, || panic!("waited alone"));
        }
        barrier.reset(1);
        barrier.wait(&mut LocalSense::default(), || panic!("waited alone after reset"));
    }
}
