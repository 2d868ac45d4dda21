//! The ring between real threads, which stand in for cores: ten million messages both ways
//! at once, and the sleep/notify handshake with receivers that really sleep
//! (`std::thread::park`) and senders that really wake them (`unpark`).

use channels::layout::FRAME_BYTES;
use channels::{Frame, FrameBuffer, Notify, Receiver, Sender, Side, Wait};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Wakes a receiver's thread, as an IPI wakes a core.
struct Unpark(Thread);

impl Notify for Unpark {
    fn notify(&mut self) {
        self.0.unpark();
    }
}

/// How long a sleeping receiver waits before it concludes that its wake-up was lost. No
/// sleep in these tests should come near it.
const LOST: Duration = Duration::from_secs(10);

/// Waits by yielding the thread, polls `POLL_ROUNDS` times, then sleeps with `park`.
#[derive(Default)]
struct Park<const POLL_ROUNDS: u32> {
    /// Sleeps that ended only because `LOST` passed: wake-ups that never came.
    lost_wakeups: u64,
}

impl<const POLL_ROUNDS: u32> Wait for Park<POLL_ROUNDS> {
    const POLL_ROUNDS: u32 = POLL_ROUNDS;

    fn pause(&mut self) {
        thread::yield_now();
    }

    fn sleep(&mut self) {
        let start = Instant::now();
        // A notification that came before this call left an unpark token, so `park`
        // returns at once: exactly what `Wait::sleep` requires.
        thread::park_timeout(LOST);
        if start.elapsed() >= LOST {
            self.lost_wakeups += 1;
        }
    }
}

/// Message `index` of the stress test: mostly one to a few slots long, sometimes longer
/// than the whole ring, made of words derived from the index so the receiver can check
/// every one of them.
fn stress_message(index: u64, out: &mut Vec<u64>) {
    let mut state = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef;
    let mut next = || {
        // xorshift64: cheap, and different for every word.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let len = if index.is_multiple_of(1009) { 300 } else { 1 + (next() % 24) as usize };
    out.clear();
    out.push(index);
    out.extend((1..len).map(|_| next()));
}

/// Sends `count` stress messages.
fn stress_sender(mut tx: Sender<Frame<'_>, Unpark>, count: u64) -> u64 {
    let mut message = Vec::new();
    let mut wait = Park::<64>::default();
    for index in 0..count {
        stress_message(index, &mut message);
        tx.send(&message, &mut wait).unwrap();
    }
    tx.notifications()
}

/// Receives and checks `count` stress messages; returns its count of sleeps.
fn stress_receiver(mut rx: Receiver<Frame<'_>>, count: u64) -> u64 {
    let mut expected = Vec::new();
    let mut wait = Park::<64>::default();
    for index in 0..count {
        stress_message(index, &mut expected);
        let message = rx.recv(&mut wait).unwrap();
        assert!(message == expected, "message {index}: got {message:?}, expected {expected:?}");
    }
    assert_eq!(wait.lost_wakeups, 0);
    rx.sleeps()
}

#[test]
fn ten_million_messages_cross_both_ways_in_order_and_intact() {
    const PER_DIRECTION: u64 = 5_000_000;
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    let start = Instant::now();
    let (notifications, sleeps) = thread::scope(|scope| {
        let a_receiver =
            scope.spawn(move || stress_receiver(Receiver::new(frame, Side::A).unwrap(), PER_DIRECTION));
        let b_receiver =
            scope.spawn(move || stress_receiver(Receiver::new(frame, Side::B).unwrap(), PER_DIRECTION));
        let a_tx = Sender::new(frame, Side::A, Unpark(b_receiver.thread().clone())).unwrap();
        let b_tx = Sender::new(frame, Side::B, Unpark(a_receiver.thread().clone())).unwrap();
        let a_sender = scope.spawn(move || stress_sender(a_tx, PER_DIRECTION));
        let b_sender = scope.spawn(move || stress_sender(b_tx, PER_DIRECTION));
        let notifications = a_sender.join().unwrap() + b_sender.join().unwrap();
        let sleeps = a_receiver.join().unwrap() + b_receiver.join().unwrap();
        (notifications, sleeps)
    });
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{} messages in {seconds:.1} s ({:.1} M messages/s) over a {FRAME_BYTES}-byte frame; \
         {sleeps} sleeps, {notifications} notifications",
        2 * PER_DIRECTION,
        2.0 * PER_DIRECTION as f64 / seconds / 1e6,
    );
    assert!(notifications <= sleeps, "a notification for every sleep at most");
}

#[test]
fn a_receiver_that_sleeps_whenever_its_ring_is_empty_is_always_woken() {
    const MESSAGES: u64 = 20_000;
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    thread::scope(|scope| {
        let receiver = scope.spawn(move || {
            let mut rx = Receiver::new(frame, Side::B).unwrap();
            let mut wait = Park::<0>::default();
            for index in 0..MESSAGES {
                assert_eq!(rx.recv(&mut wait).unwrap(), [index]);
            }
            (wait.lost_wakeups, rx.sleeps())
        });
        let mut tx = Sender::new(frame, Side::A, Unpark(receiver.thread().clone())).unwrap();
        for index in 0..MESSAGES {
            tx.send(&[index], &mut Park::<0>::default()).unwrap();
            // Now and then, give the receiver time to fall asleep first.
            if index.is_multiple_of(64) {
                thread::sleep(Duration::from_micros(50));
            }
        }
        let (lost_wakeups, sleeps) = receiver.join().unwrap();
        assert_eq!(lost_wakeups, 0);
        assert!(sleeps > 0, "the receiver never slept: the test tested nothing");
        assert!(tx.notifications() > 0 && tx.notifications() <= sleeps);
    });
}

#[test]
fn two_sleepers_playing_ping_pong_never_lose_a_wakeup() {
    const ROUND_TRIPS: u64 = 50_000;
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    // This test's thread plays side A.
    let a_thread = thread::current();
    thread::scope(|scope| {
        let b = scope.spawn(move || {
            let mut rx = Receiver::new(frame, Side::B).unwrap();
            let mut tx = Sender::new(frame, Side::B, Unpark(a_thread)).unwrap();
            let mut wait = Park::<0>::default();
            for _ in 0..ROUND_TRIPS {
                let ball = rx.recv(&mut wait).unwrap()[0];
                tx.send(&[ball + 1], &mut wait).unwrap();
            }
            (wait.lost_wakeups, rx.sleeps(), tx.notifications())
        });
        let mut rx = Receiver::new(frame, Side::A).unwrap();
        let mut tx = Sender::new(frame, Side::A, Unpark(b.thread().clone())).unwrap();
        let mut wait = Park::<0>::default();
        for ball in 0..ROUND_TRIPS {
            tx.send(&[ball], &mut wait).unwrap();
            assert_eq!(rx.recv(&mut wait).unwrap(), [ball + 1]);
        }
        let (b_lost_wakeups, b_sleeps, b_notifications) = b.join().unwrap();
        assert_eq!((wait.lost_wakeups, b_lost_wakeups), (0, 0));
        assert!(tx.notifications() <= b_sleeps && b_notifications <= rx.sleeps());
    });
}

#[test]
fn a_busy_receiver_is_rarely_notified() {
    const MESSAGES: u64 = 1_000_000;
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    thread::scope(|scope| {
        let receiver = scope.spawn(move || {
            let mut rx = Receiver::new(frame, Side::B).unwrap();
            // A receiver that expects work polls a long time before it sleeps.
            let mut wait = Park::<100_000>::default();
            for index in 0..MESSAGES {
                assert_eq!(rx.recv(&mut wait).unwrap(), [index, !index]);
            }
            rx.sleeps()
        });
        let mut tx = Sender::new(frame, Side::A, Unpark(receiver.thread().clone())).unwrap();
        for index in 0..MESSAGES {
            tx.send(&[index, !index], &mut Park::<0>::default()).unwrap();
        }
        let sleeps = receiver.join().unwrap();
        assert!(tx.notifications() <= sleeps);
        // A bound, not a measurement: the receiver sleeps only when the sender stalls
        // (descheduled by the host), a handful of times in a run.
        assert!(tx.notifications() * 100 < MESSAGES, "{} notifications", tx.notifications());
    });
}
