//! A faulty peer: the test writes words of the frame directly, as buggy code on the other
//! core could, and checks that each endpoint detects every word no correct peer writes,
//! closes with `Corrupt`, and stays closed; and that random garbage anywhere in the frame
//! never makes an endpoint panic or read out of bounds.

use channels::layout::{self, Fragment, Header, Ring, MAX_MESSAGE_WORDS};
use channels::{Corruption, Error, FrameBuffer, Notify, Receiver, Sender, Side, Spin};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

struct Nobody;

impl Notify for Nobody {
    fn notify(&mut self) {}
}

type TestSender<'f> = Sender<channels::Frame<'f>, Nobody>;
type TestReceiver<'f> = Receiver<channels::Frame<'f>>;

/// The ring A→B of `buffer`, its sender, its receiver, and where its words are.
fn ring(buffer: &FrameBuffer) -> (TestSender<'_>, TestReceiver<'_>, Ring) {
    let frame = buffer.frame();
    let ring = Ring::new(buffer.words().len(), Side::A).unwrap();
    (Sender::new(frame, Side::A, Nobody).unwrap(), Receiver::new(frame, Side::B).unwrap(), ring)
}

fn poke(buffer: &FrameBuffer, index: usize, value: u64) {
    buffer.words()[index].store(value, Relaxed);
}

fn peek(buffer: &FrameBuffer, index: usize) -> u64 {
    buffer.words()[index].load(Relaxed)
}

fn received(rx: &mut TestReceiver<'_>) -> Result<Option<Vec<u64>>, Error> {
    rx.try_recv().map(|message| message.map(<[u64]>::to_vec))
}

/// Writes a fragment header for stream position `position`, as a faulty sender would.
fn publish(
    buffer: &FrameBuffer,
    ring: Ring,
    position: u64,
    kind: Fragment,
    total_words: usize,
    offset_words: usize,
) {
    let header = Header { seq: layout::seq_for(position), kind, total_words, offset_words };
    poke(buffer, ring.header(position), header.encode());
}

/// Checks that the receiver failed with `corruption` and keeps failing with it, even
/// once the frame holds a good message again.
fn assert_receiver_closed(rx: &mut TestReceiver<'_>, tx: &mut TestSender<'_>, corruption: Corruption) {
    let closed = Some(Error::Corrupt(corruption));
    assert_eq!(received(rx).err(), closed);
    // Whether or not the sender still has room, the receiver must not look again.
    let _ = tx.try_send(&[1]);
    assert_eq!(received(rx).err(), closed);
    assert_eq!(rx.recv(&mut Spin).err(), closed);
}

fn assert_sender_closed(tx: &mut TestSender<'_>, corruption: Corruption) {
    let closed = Err(Error::Corrupt(corruption));
    assert_eq!(tx.try_send(&[1]), closed);
    assert_eq!(tx.send(&[1], &mut Spin), closed);
}

#[test]
fn every_header_bit_flip_outside_the_length_field_is_caught() {
    for bit in 0..64 {
        let buffer = FrameBuffer::new();
        let (mut tx, mut rx, ring) = ring(&buffer);
        tx.try_send(&[10, 20, 30]).unwrap();
        let at = ring.header(0);
        poke(&buffer, at, peek(&buffer, at) ^ 1 << bit);
        let expected = match bit {
            0..=31 => Corruption::Sequence,
            // Turning 3 into 2, 1 or 7 leaves a well-formed header: the ring cannot tell,
            // and delivers a message of that length.
            32..=34 => {
                let len = (3 ^ 1 << (bit - 32)) as usize;
                assert_eq!(received(&mut rx).unwrap().unwrap().len(), len, "bit {bit}");
                continue;
            }
            _ => Corruption::Header,
        };
        assert_receiver_closed(&mut rx, &mut tx, expected);
    }
}

#[test]
fn a_skipped_sequence_number_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    let header = Header { seq: layout::seq_for(1), kind: Fragment::Whole, total_words: 1, offset_words: 0 };
    poke(&buffer, ring.header(0), header.encode());
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Sequence);
}

#[test]
fn a_repeated_sequence_number_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    tx.try_send(&[1]).unwrap();
    assert_eq!(received(&mut rx), Ok(Some(vec![1])));
    // Position 1's slot gets position 0's header again.
    poke(&buffer, ring.header(1), peek(&buffer, ring.header(0)));
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Sequence);
}

#[test]
fn a_sender_that_laps_the_receiver_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    let slots = ring.slots() as u64;
    for index in 0..slots {
        tx.try_send(&[index]).unwrap();
    }
    // The slot of position 0 is overwritten with position `slots`, before it was read.
    publish(&buffer, ring, slots, Fragment::Whole, 1, 0);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Sequence);
}

#[test]
fn a_slot_cleared_after_its_first_use_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    let slots = ring.slots() as u64;
    for index in 0..slots {
        tx.try_send(&[index]).unwrap();
        assert_eq!(received(&mut rx), Ok(Some(vec![index])));
    }
    // Back at slot 0: all zeros there is no longer "nothing sent yet".
    poke(&buffer, ring.header(slots), 0);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Sequence);
}

#[test]
fn a_length_beyond_the_maximum_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    publish(&buffer, ring, 0, Fragment::First, MAX_MESSAGE_WORDS + 1, 0);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Header);
}

#[test]
fn a_continuation_without_a_start_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    publish(&buffer, ring, 0, Fragment::Continuation, 14, 7);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Fragments);
}

#[test]
fn a_new_message_inside_a_fragmented_one_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    publish(&buffer, ring, 0, Fragment::First, 14, 0);
    assert_eq!(received(&mut rx), Ok(None));
    publish(&buffer, ring, 1, Fragment::Whole, 3, 0);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Fragments);
}

#[test]
fn fragments_whose_total_length_changes_are_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    publish(&buffer, ring, 0, Fragment::First, 14, 0);
    publish(&buffer, ring, 1, Fragment::Continuation, 21, 7);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Fragments);
}

#[test]
fn fragments_with_a_gap_are_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    publish(&buffer, ring, 0, Fragment::First, 21, 0);
    publish(&buffer, ring, 1, Fragment::Continuation, 21, 14);
    assert_receiver_closed(&mut rx, &mut tx, Corruption::Fragments);
}

#[test]
fn a_released_count_beyond_what_was_sent_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, _rx, ring) = ring(&buffer);
    for index in 0..ring.slots() as u64 {
        tx.try_send(&[index]).unwrap();
    }
    poke(&buffer, ring.released(), ring.slots() as u64 + 1);
    assert_sender_closed(&mut tx, Corruption::Released);
}

#[test]
fn a_released_count_that_goes_backwards_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, mut rx, ring) = ring(&buffer);
    let slots = ring.slots() as u64;
    for index in 0..slots {
        tx.try_send(&[index]).unwrap();
    }
    for index in 0..10 {
        assert_eq!(received(&mut rx), Ok(Some(vec![index])));
    }
    // The sender reads the count (now 10) to refill the ring, and must read it again
    // once the ring is full: by then it has gone back to 5.
    for index in slots..slots + 10 {
        tx.try_send(&[index]).unwrap();
    }
    poke(&buffer, ring.released(), 5);
    assert_sender_closed(&mut tx, Corruption::Released);
}

#[test]
fn garbage_in_the_sleep_word_is_caught() {
    for garbage in [1, 0xdead_beef, layout::asleep(3) | 1 << 40, u64::MAX] {
        let buffer = FrameBuffer::new();
        let (mut tx, _rx, ring) = ring(&buffer);
        poke(&buffer, ring.sleeping(), garbage);
        assert_sender_closed(&mut tx, Corruption::Sleeping);
    }
}

#[test]
fn a_sleep_older_than_one_already_woken_is_caught() {
    let buffer = FrameBuffer::new();
    let (mut tx, _rx, ring) = ring(&buffer);
    poke(&buffer, ring.sleeping(), layout::asleep(5));
    tx.try_send(&[1]).unwrap();
    assert_eq!(tx.notifications(), 1);
    poke(&buffer, ring.sleeping(), layout::asleep(4));
    assert_sender_closed(&mut tx, Corruption::Sleeping);
}

/// One step of a random run: an endpoint operation, or garbage written into the frame.
#[derive(Clone, Debug)]
enum Step {
    Send { side: Side, len: usize },
    Receive { side: Side },
    Scribble { index: usize, value: u64 },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

/// Garbage, biased towards words that look almost right: header-shaped words with
/// nearby sequence numbers, small counts, and sleep announcements.
fn garbage() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0..70u64, 0..4u64, 0..1100u64, 0..1100u64)
            .prop_map(|(seq, kind, total, offset)| { seq | total << 32 | offset << 43 | kind << 54 }),
        0..70u64,
        (0..8u64).prop_map(|episode| 1 << 63 | episode),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (side(), 0..40usize).prop_map(|(side, len)| Step::Send { side, len }),
        4 => side().prop_map(|side| Step::Receive { side }),
        1 => (0..512usize, garbage()).prop_map(|(index, value)| Step::Scribble { index, value }),
    ]
}

/// What one endpoint has reported so far: once `Corrupt`, always the same `Corrupt`.
#[derive(Default)]
struct Verdict(Option<Error>);

impl Verdict {
    fn check<T: std::fmt::Debug>(&mut self, result: &Result<T, Error>) {
        match (self.0, result) {
            (Some(closed), result) => {
                assert_eq!(result.as_ref().err(), Some(&closed), "reopened: {result:?}")
            }
            (None, Err(error @ Error::Corrupt(_))) => self.0 = Some(*error),
            (None, Err(Error::Full) | Ok(_)) => {}
            (None, Err(error)) => panic!("unexpected {error:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_garbage_in_the_frame_never_panics_and_corruption_is_final(
        steps in prop::collection::vec(step(), 1..120)
    ) {
        let buffer = FrameBuffer::new();
        let frame = buffer.frame();
        let mut senders =
            [Sender::new(frame, Side::A, Nobody).unwrap(), Sender::new(frame, Side::B, Nobody).unwrap()];
        let mut receivers = [Receiver::new(frame, Side::B).unwrap(), Receiver::new(frame, Side::A).unwrap()];
        let mut sender_verdicts = [Verdict::default(), Verdict::default()];
        let mut receiver_verdicts = [Verdict::default(), Verdict::default()];
        // Until the first scribble, every message must arrive as sent.
        let mut in_flight = [VecDeque::new(), VecDeque::new()];
        let mut scribbled = false;
        for (number, step) in steps.into_iter().enumerate() {
            match step {
                Step::Send { side, len } => {
                    let ring = side as usize;
                    let message: Vec<u64> =
                        (0..len as u64).map(|word| (number as u64) << 32 | word).collect();
                    let result = senders[ring].try_send(&message);
                    sender_verdicts[ring].check(&result);
                    if result.is_ok() {
                        in_flight[ring].push_back(message);
                    }
                }
                Step::Receive { side } => {
                    // `side` receives what its peer sends: side B takes ring A→B (0).
                    let ring = side.peer() as usize;
                    let result = received(&mut receivers[ring]);
                    receiver_verdicts[ring].check(&result);
                    if let Ok(Some(message)) = &result {
                        prop_assert!(message.len() <= MAX_MESSAGE_WORDS);
                        if !scribbled {
                            prop_assert_eq!(Some(message.clone()), in_flight[ring].pop_front());
                        }
                    }
                }
                Step::Scribble { index, value } => {
                    poke(&buffer, index, value);
                    scribbled = true;
                }
            }
        }
    }
}
