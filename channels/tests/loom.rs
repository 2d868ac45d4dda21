//! Model checks of the ring's memory orderings with loom.
//!
//! The endpoints here are the crate's own [`Sender`] and [`Receiver`], over a frame of
//! loom's atomics instead of the hardware's ([`LoomWord`]). Loom runs each model many
//! times, choosing at every atomic access which thread runs next and which value, among
//! those the memory model allows, a load returns. The models are small (one or two slots,
//! two or three messages) so that the search takes about a second.
//!
//! What they catch: weakening the header's `Release` store or `Acquire` load makes the
//! receiver read a stale payload; weakening either side's `SeqCst` fence, skipping the
//! receiver's second look at the ring before it sleeps, notifying a sleep episode only
//! once, or a sender waiting for room without first waking the receiver, each loses a
//! wake-up, which loom reports as a deadlock (or, since it also wakes sleepers spuriously
//! and lets them keep reading the old header, as a model that exceeds its branch limit).
//!
//! What they cannot catch: the `Release` store of the released count and its `Acquire`
//! load keep the receiver's payload loads from returning what the sender writes into the
//! slot on its next lap. That reordering is "load buffering", which loom does not explore
//! (its README says so), so that pair rests on the argument in `sender.rs` and
//! `receiver.rs`, and on the threaded tests.

use channels::{AtomicWord, Memory, Notify, Receiver, Sender, Side, Wait};
use loom::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A frame word whose every access loom sees.
struct LoomWord(AtomicU64);

impl AtomicWord for LoomWord {
    fn load(&self, order: Ordering) -> u64 {
        self.0.load(order)
    }

    fn store(&self, value: u64, order: Ordering) {
        self.0.store(value, order);
    }

    fn fence(order: Ordering) {
        loom::sync::atomic::fence(order);
    }
}

/// A frame of loom atomics, shared by the model's threads.
#[derive(Clone)]
struct LoomFrame(Arc<[LoomWord]>);

impl LoomFrame {
    /// A zeroed frame with `slots` slots per ring.
    fn new(slots: usize) -> LoomFrame {
        let words = 2 * (1 + slots) * channels::layout::LINE_WORDS;
        LoomFrame((0..words).map(|_| LoomWord(AtomicU64::new(0))).collect())
    }
}

impl Memory for LoomFrame {
    type Word = LoomWord;

    fn words(&self) -> &[LoomWord] {
        &self.0
    }
}

/// Waits by letting loom run another thread. Used by senders, which never sleep.
struct Yield;

impl Wait for Yield {
    fn pause(&mut self) {
        loom::thread::yield_now();
    }

    fn sleep(&mut self) {
        unreachable!("only receivers sleep");
    }
}

/// A receiver's waiting that sleeps as soon as the ring is empty, on a loom `Notify`:
/// loom reports a deadlock if nothing ever notifies it (a lost wake-up), and also lets it
/// wake up spuriously.
struct Sleep(Arc<loom::sync::Notify>);

impl Wait for Sleep {
    const POLL_ROUNDS: u32 = 0;

    fn pause(&mut self) {
        loom::thread::yield_now();
    }

    fn sleep(&mut self) {
        self.0.wait();
    }
}

/// Wakes the receiver's `Sleep`.
struct Wake(Arc<loom::sync::Notify>);

impl Notify for Wake {
    fn notify(&mut self) {
        self.0.notify();
    }
}

/// For a receiver that only polls: it never announces sleep, so it must never be woken.
struct NeverAsleep;

impl Notify for NeverAsleep {
    fn notify(&mut self) {
        panic!("notified a receiver that never slept");
    }
}

/// Runs `body` on a loom thread with room for a receiver's 8 KiB message buffer and for
/// a failing assertion's report (loom threads get 32 KiB stacks by default).
fn spawn(body: impl FnOnce() + Send + 'static) -> loom::thread::JoinHandle<()> {
    loom::thread::Builder::new().stack_size(1 << 20).spawn(body).unwrap()
}

fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // Every ordering bug listed above shows up within two preemptions; a bound of three
    // finds nothing more and takes ten times as long.
    builder.preemption_bound = Some(2);
    builder.check(body);
}

/// Three messages through a two-slot ring: the second takes both slots (two fragments),
/// the third reuses the first slot once the receiver has released it.
fn messages() -> [Vec<u64>; 3] {
    [vec![11], (21..30).collect(), vec![31, 32]]
}

#[test]
fn loom_publish_consume_release_delivers_in_order_with_the_payload_written() {
    model(|| {
        let frame = LoomFrame::new(2);
        let sender_frame = frame.clone();
        let sender = spawn(move || {
            let mut tx = Sender::new(sender_frame, Side::A, NeverAsleep).unwrap();
            for message in messages() {
                tx.send(&message, &mut Yield).unwrap();
            }
        });
        let receiver = spawn(move || {
            let mut rx = Receiver::new(frame, Side::B).unwrap();
            for expected in messages() {
                let received = loop {
                    match rx.try_recv().unwrap() {
                        Some(message) => break message.to_vec(),
                        None => loom::thread::yield_now(),
                    }
                };
                assert_eq!(received, expected);
            }
        });
        sender.join().unwrap();
        receiver.join().unwrap();
    });
}

/// Two fragments: through a one-slot ring, the sender must wait for the receiver between
/// them, and must notify it before waiting.
fn long_message() -> Vec<u64> {
    (41..49).collect()
}

#[test]
fn loom_a_receiver_that_sleeps_is_always_woken() {
    model(|| {
        let frame = LoomFrame::new(1);
        let wake_up = Arc::new(loom::sync::Notify::new());
        let (sender_frame, wake) = (frame.clone(), Wake(wake_up.clone()));
        let sender = spawn(move || {
            let mut tx = Sender::new(sender_frame, Side::A, wake).unwrap();
            tx.send(&[1], &mut Yield).unwrap();
            tx.send(&long_message(), &mut Yield).unwrap();
        });
        let receiver = spawn(move || {
            let mut rx = Receiver::new(frame, Side::B).unwrap();
            let mut wait = Sleep(wake_up);
            assert_eq!(rx.recv(&mut wait).unwrap(), [1]);
            assert_eq!(rx.recv(&mut wait).unwrap(), long_message());
        });
        sender.join().unwrap();
        receiver.join().unwrap();
    });
}
