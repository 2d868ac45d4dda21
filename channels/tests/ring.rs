//! The ring's behaviour seen from one thread that holds both ends: order, fragmentation,
//! back-pressure, and when a sender notifies.

use channels::layout::{FRAME_BYTES, MAX_MESSAGE_WORDS, SLOT_PAYLOAD_WORDS};
use channels::{Error, Frame, FrameBuffer, FrameError, Notify, Receiver, Sender, Side, Spin, Wait};

/// A sender's notifications go nowhere here: the sender counts them itself.
struct Nobody;

impl Notify for Nobody {
    fn notify(&mut self) {}
}

fn ring(frame: Frame<'_>) -> (Sender<Frame<'_>, Nobody>, Receiver<Frame<'_>>) {
    (Sender::new(frame, Side::A, Nobody).unwrap(), Receiver::new(frame, Side::B).unwrap())
}

/// Message number `index` of a test, `len` words long, every word different.
fn message(index: u64, len: usize) -> Vec<u64> {
    (0..len as u64).map(|word| index << 32 | word).collect()
}

#[test]
fn messages_of_every_length_arrive_in_order_and_intact() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx) = ring(buffer.frame());
    // Two in flight at a time, through many laps of the ring.
    let lengths: Vec<usize> = (0..2000).map(|i| i % 60).collect();
    tx.try_send(&message(0, lengths[0])).unwrap();
    for (index, &len) in lengths.iter().enumerate().skip(1) {
        tx.try_send(&message(index as u64, len)).unwrap();
        let expected = message(index as u64 - 1, lengths[index - 1]);
        assert_eq!(rx.try_recv().unwrap(), Some(&expected[..]));
    }
    assert_eq!(rx.try_recv().unwrap(), Some(&message(1999, lengths[1999])[..]));
    assert_eq!(rx.try_recv().unwrap(), None);
    assert_eq!(tx.notifications(), 0, "a receiver that never slept needs no notification");
}

#[test]
fn a_full_ring_refuses_without_overwriting_and_then_drains_in_order() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx) = ring(buffer.frame());
    let slots = tx.slots() as u64;
    for index in 0..slots {
        tx.try_send(&message(index, 3)).unwrap();
    }
    assert_eq!(tx.try_send(&message(99, 1)), Err(Error::Full));
    assert_eq!(rx.try_recv().unwrap(), Some(&message(0, 3)[..]));
    // One slot is free, but this message needs two: it is refused whole.
    assert_eq!(tx.try_send(&message(99, SLOT_PAYLOAD_WORDS + 1)), Err(Error::Full));
    tx.try_send(&message(slots, 1)).unwrap();
    assert_eq!(tx.try_send(&message(99, 1)), Err(Error::Full));
    for index in 1..slots {
        assert_eq!(rx.try_recv().unwrap(), Some(&message(index, 3)[..]));
    }
    assert_eq!(rx.try_recv().unwrap(), Some(&message(slots, 1)[..]));
    assert_eq!(rx.try_recv().unwrap(), None);
}

#[test]
fn a_message_that_fills_the_ring_exactly_fits() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx) = ring(buffer.frame());
    let whole_ring = message(1, tx.slots() * SLOT_PAYLOAD_WORDS);
    tx.try_send(&whole_ring).unwrap();
    assert_eq!(tx.try_send(&[]), Err(Error::Full));
    assert_eq!(rx.try_recv().unwrap(), Some(&whole_ring[..]));
}

#[test]
fn try_send_refuses_messages_longer_than_the_ring_and_the_maximum() {
    let buffer = FrameBuffer::new();
    let (mut tx, _rx) = ring(buffer.frame());
    assert_eq!(tx.try_send(&message(1, tx.slots() * SLOT_PAYLOAD_WORDS + 1)), Err(Error::LongerThanRing));
    assert_eq!(tx.try_send(&message(1, MAX_MESSAGE_WORDS + 1)), Err(Error::TooLong));
    assert_eq!(tx.send(&message(1, MAX_MESSAGE_WORDS + 1), &mut Spin), Err(Error::TooLong));
}

/// Waits for room in the ring by receiving from it: one thread plays both cores.
struct DrainWhileWaiting<'r, 'f> {
    receiver: &'r mut Receiver<Frame<'f>>,
    received: Vec<Vec<u64>>,
}

impl Wait for DrainWhileWaiting<'_, '_> {
    fn pause(&mut self) {
        if let Some(message) = self.receiver.try_recv().unwrap() {
            self.received.push(message.to_vec());
        }
    }

    fn sleep(&mut self) {
        unreachable!("only the sender waits here");
    }
}

#[test]
fn send_streams_messages_longer_than_the_ring_as_the_receiver_frees_slots() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx) = ring(buffer.frame());
    let mut wait = DrainWhileWaiting { receiver: &mut rx, received: Vec::new() };
    let longest = message(7, MAX_MESSAGE_WORDS);
    tx.send(&message(6, 5), &mut wait).unwrap();
    tx.send(&longest, &mut wait).unwrap();
    tx.send(&message(8, 0), &mut wait).unwrap();
    let mut received = wait.received;
    while let Some(message) = rx.try_recv().unwrap() {
        received.push(message.to_vec());
    }
    assert_eq!(received, [message(6, 5), longest, message(8, 0)]);
}

#[test]
fn a_one_slot_ring_still_keeps_order() {
    // The smallest frame: four lines, a control line and a slot per ring.
    let buffer = FrameBuffer::new();
    let frame = Frame::new(&buffer.words()[..32]).unwrap();
    let (mut tx, mut rx) = ring(frame);
    assert_eq!(tx.slots(), 1);
    for index in 0..10_000 {
        let len = index as usize % 20;
        let mut wait = DrainWhileWaiting { receiver: &mut rx, received: Vec::new() };
        tx.send(&message(index, len), &mut wait).unwrap();
        let mut received = wait.received;
        if let Some(last) = rx.try_recv().unwrap() {
            received.push(last.to_vec());
        }
        assert_eq!(received, [message(index, len)]);
    }
}

#[test]
fn the_two_rings_of_a_frame_are_independent() {
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    let mut a_tx = Sender::new(frame, Side::A, Nobody).unwrap();
    let mut a_rx = Receiver::new(frame, Side::A).unwrap();
    let mut b_tx = Sender::new(frame, Side::B, Nobody).unwrap();
    let mut b_rx = Receiver::new(frame, Side::B).unwrap();
    for index in 0..100 {
        a_tx.try_send(&message(index, 9)).unwrap();
        b_tx.try_send(&message(index + 1000, 2)).unwrap();
        assert_eq!(a_rx.try_recv().unwrap(), Some(&message(index + 1000, 2)[..]));
        assert_eq!(b_rx.try_recv().unwrap(), Some(&message(index, 9)[..]));
    }
}

/// Sends from inside the receiver's sleep: the message arrives while the receiver has
/// announced that it sleeps, as it would from another core.
struct SendWhileAsleep<'s, 'f> {
    sender: &'s mut Sender<Frame<'f>, Nobody>,
    messages: Vec<Vec<u64>>,
    pauses: u32,
}

impl Wait for SendWhileAsleep<'_, '_> {
    const POLL_ROUNDS: u32 = 3;

    fn pause(&mut self) {
        self.pauses += 1;
    }

    fn sleep(&mut self) {
        for message in self.messages.drain(..) {
            self.sender.try_send(&message).unwrap();
        }
    }
}

#[test]
fn a_receiver_polls_then_sleeps_and_is_notified_once_per_sleep() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx) = ring(buffer.frame());
    for sleep in 1..=3 {
        let messages = vec![message(sleep, 1), message(sleep, 8), message(sleep, 2)];
        let mut wait = SendWhileAsleep { sender: &mut tx, messages: messages.clone(), pauses: 0 };
        assert_eq!(rx.recv(&mut wait).unwrap(), messages[0]);
        assert_eq!(wait.pauses, 3, "polls the empty ring before sleeping");
        assert_eq!(rx.sleeps(), sleep);
        assert_eq!(tx.notifications(), sleep, "three messages, one notification");
        assert_eq!(rx.try_recv().unwrap(), Some(&messages[1][..]));
        assert_eq!(rx.try_recv().unwrap(), Some(&messages[2][..]));
    }
    // With a message waiting, the receiver neither polls nor sleeps.
    tx.try_send(&message(4, 1)).unwrap();
    assert_eq!(rx.recv(&mut Spin).unwrap(), message(4, 1));
    assert_eq!((rx.sleeps(), tx.notifications()), (3, 3));
}

#[test]
fn frames_must_be_a_line_aligned_even_number_of_lines() {
    let buffer = FrameBuffer::new();
    let words = buffer.words();
    assert_eq!(Frame::new(&words[..FRAME_BYTES / 8 - 8]).unwrap_err(), FrameError::BadSize);
    assert_eq!(Frame::new(&words[8..]).unwrap_err(), FrameError::BadSize);
    assert_eq!(Frame::new(&words[1..257]).unwrap_err(), FrameError::Misaligned);
    assert_eq!(Frame::new(&words[..16]).unwrap_err(), FrameError::BadSize);
}
