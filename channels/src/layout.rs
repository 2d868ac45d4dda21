//! The channel frame, word by word: where each ring lies, what a slot holds, and the bits
//! of every word one endpoint writes for the other to read.
//!
//! This layout is the whole contract between the two cores of a channel. Both endpoints
//! compute every index from [`Ring`] and every word from [`Header`] and the sleep-word
//! functions here, so the sender's and the receiver's idea of the frame cannot drift apart;
//! the integration tests use the same items to play a faulty peer.
//!
//! # The frame
//!
//! A frame is a whole, even number of 64-byte cache lines (at least four), aligned to a
//! line. Its first half is ring A→B, which side [`Side::A`] sends on; its second half is
//! ring B→A. Each ring is one *control line* followed by its *slots*, one line each:
//!
//! ```text
//! byte offset               line                         written only by
//! 0                         ring A→B control line        B (that ring's receiver)
//! 64 · (1 + i)              ring A→B slot i, i < S       A (that ring's sender)
//! H = size / 2              ring B→A control line        A
//! H + 64 · (1 + i)          ring B→A slot i, i < S       B
//! ```
//!
//! with `S = size / 128 − 1` slots per ring: 31 for a 4 KiB frame ([`FRAME_BYTES`]).
//! Every line has exactly one writer, so no line is ever written from both cores: a slot
//! moves from the sender's cache to the receiver's and back only when it is reused, and
//! the control line moves to the sender only when the sender has to look at it.
//!
//! # A control line (written by the ring's receiver)
//!
//! | word | name                    | meaning                                                |
//! |------|-------------------------|--------------------------------------------------------|
//! | 0    | [`RELEASED_WORD`]       | slots released so far: the receiver's stream position  |
//! | 1    | [`SLEEPING_WORD`]       | 0, or the receiver's announcement that it sleeps       |
//! | 2–7  | —                       | zero, never read                                       |
//!
//! The sleep word is 0 while the receiver is awake. To sleep it writes
//! [`asleep`]`(episode)`: bit 63 set, bits 62–32 zero, bits 31–0 a count of its sleeps
//! (wrapping), so that the sender can tell a new sleep from one it has already woken.
//!
//! # A slot (written by the ring's sender)
//!
//! | word | contents                                                                      |
//! |------|-------------------------------------------------------------------------------|
//! | 0    | the header, published last                                                    |
//! | 1–7  | up to [`SLOT_PAYLOAD_WORDS`] payload words: the fragment's share of the message |
//!
//! # The header word
//!
//! | bits  | field          | meaning                                                     |
//! |-------|----------------|-------------------------------------------------------------|
//! | 31–0  | `seq`          | stream position of the slot + 1, modulo 2³² ([`seq_for`])   |
//! | 42–32 | `total_words`  | length of the whole message, 0 ..= [`MAX_MESSAGE_WORDS`]    |
//! | 53–43 | `offset_words` | where this fragment's payload starts in the message         |
//! | 55–54 | `kind`         | 1 whole message, 2 first fragment, 3 continuation (0 never) |
//! | 63–56 | —              | zero                                                        |
//!
//! The stream position counts every slot ever published on the ring, so slot `i` carries
//! positions `i`, `i + S`, `i + 2S`, … Counting `seq` from 1 makes the zero-filled frame
//! (Flotilla's retype hands out zeroed frames) read as "nothing published yet". A receiver
//! expecting position `p` therefore accepts exactly two header values in that slot as
//! legitimate: `seq == seq_for(p)` (new) and, once past the first lap, `seq ==
//! seq_for(p − S)` (the previous lap's message, already consumed: not yet rewritten).
//! Anything else, including a header from a lap ahead of it, is corruption.
//!
//! A message of at most 7 words travels in one `whole` slot; a longer one in a `first`
//! fragment and continuations, each carrying the total length and its own offset, which a
//! receiver checks against the reassembly in progress.

use crate::error::{Corruption, FrameError};

/// Bytes in a machine word.
pub const WORD_BYTES: usize = 8;

/// Bytes in a cache line on the cores Flotilla runs on: the Cortex-A53, A57 and A72 all
/// report `CTR_EL0.DminLine = 4`, i.e. 2⁴ four-byte words (Arm ARM D19.2.34). A slot is
/// one line, so publishing a slot moves exactly one line between the cores.
pub const LINE_BYTES: usize = 64;

/// Words in a cache line, and so in a slot.
pub const LINE_WORDS: usize = LINE_BYTES / WORD_BYTES;

/// The size of the frames Flotilla's monitors use for channels: one 4 KiB page.
pub const FRAME_BYTES: usize = 4096;

/// Payload words in a slot: all of the line but the header.
pub const SLOT_PAYLOAD_WORDS: usize = LINE_WORDS - 1;

/// The longest message, in words. Longer data is the application's to split; the bound
/// keeps the receiver's reassembly buffer (8 KiB) a fixed part of the endpoint.
pub const MAX_MESSAGE_WORDS: usize = 1024;

/// Index, within a slot, of the header word; the payload follows it.
pub const HEADER_WORD: usize = 0;

/// Index, within a control line, of the receiver's count of released slots.
pub const RELEASED_WORD: usize = 0;

/// Index, within a control line, of the receiver's sleep word.
pub const SLEEPING_WORD: usize = 1;

/// The sleep word of an awake receiver.
pub const AWAKE: u64 = 0;

/// Bit 63 of the sleep word: set while the receiver sleeps.
const ASLEEP_BIT: u64 = 1 << 63;

const SEQ_MASK: u64 = 0xffff_ffff;
const TOTAL_SHIFT: u32 = 32;
const OFFSET_SHIFT: u32 = 43;
/// `total_words` and `offset_words` are 11 bits: enough for 0 ..= 1024.
const LENGTH_MASK: u64 = (1 << 11) - 1;
const KIND_SHIFT: u32 = 54;
const KIND_MASK: u64 = 0b11;
const RESERVED_SHIFT: u32 = 56;

/// One of the two cores of a channel. Side A sends on the frame's first ring and receives
/// on the second; side B the other way round. Which core is which is agreed when the
/// channel is set up (the core that offers the frame is A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    /// The other side of the channel.
    pub fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Where one ring of a frame lies: word indices into the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring {
    control: usize,
    first_slot: usize,
    slots: usize,
}

impl Ring {
    /// The ring that carries what `from` sends, in a frame of `frame_words` words.
    pub fn new(frame_words: usize, from: Side) -> Result<Ring, FrameError> {
        let lines = frame_words / LINE_WORDS;
        let slots = (lines / 2).saturating_sub(1);
        // A ring needs its control line and at least one slot. The upper bound keeps a
        // lap shorter than half the 32-bit `seq` space, so that the new and the previous
        // lap's sequence numbers of a slot can never be equal.
        let valid =
            frame_words.is_multiple_of(2 * LINE_WORDS) && slots >= 1 && slots <= (u32::MAX / 2) as usize;
        if !valid {
            return Err(FrameError::BadSize);
        }
        let control = match from {
            Side::A => 0,
            Side::B => frame_words / 2,
        };
        Ok(Ring { control, first_slot: control + LINE_WORDS, slots })
    }

    /// Slots in the ring.
    pub fn slots(self) -> usize {
        self.slots
    }

    /// Index of the receiver's released-slots counter.
    pub fn released(self) -> usize {
        self.control + RELEASED_WORD
    }

    /// Index of the receiver's sleep word.
    pub fn sleeping(self) -> usize {
        self.control + SLEEPING_WORD
    }

    /// Index of the header of the slot that carries stream position `position`; its
    /// payload is the [`SLOT_PAYLOAD_WORDS`] words after it.
    pub fn header(self, position: u64) -> usize {
        // The remainder is below `slots`, which is a usize, so the cast loses nothing.
        let slot = (position % self.slots as u64) as usize;
        self.first_slot + slot * LINE_WORDS + HEADER_WORD
    }
}

/// The `seq` field of the slot that carries stream position `position`.
pub fn seq_for(position: u64) -> u32 {
    // Truncation is the point: `seq` is the position modulo 2^32.
    position.wrapping_add(1) as u32
}

/// How many slots a message of `total_words` words takes (a message of no words still
/// takes one, so that it arrives).
pub fn fragment_count(total_words: usize) -> usize {
    total_words.div_ceil(SLOT_PAYLOAD_WORDS).max(1)
}

/// What part of a message a slot carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// The whole message: at most [`SLOT_PAYLOAD_WORDS`] words.
    Whole = 1,
    /// The start of a longer message.
    First = 2,
    /// A later part of the message begun by the last `First`.
    Continuation = 3,
}

/// A slot header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub seq: u32,
    pub kind: Fragment,
    pub total_words: usize,
    pub offset_words: usize,
}

impl Header {
    /// Words of payload this slot carries: the rest of the message, up to a slot's worth.
    pub fn payload_words(&self) -> usize {
        (self.total_words - self.offset_words).min(SLOT_PAYLOAD_WORDS)
    }

    /// The header word. Fields too wide for their bits are cut to them: a sender encodes
    /// only headers it built from a message it has checked.
    pub fn encode(&self) -> u64 {
        u64::from(self.seq)
            | (self.total_words as u64 & LENGTH_MASK) << TOTAL_SHIFT
            | (self.offset_words as u64 & LENGTH_MASK) << OFFSET_SHIFT
            | (self.kind as u64) << KIND_SHIFT
    }

    /// Decodes a header word, checking that it describes a fragment a correct sender
    /// could have written: reserved bits clear, a known kind, a length within
    /// [`MAX_MESSAGE_WORDS`], and an offset that fits the kind and the length. Whether the
    /// fragment fits the reassembly in progress is the receiver's to check.
    pub fn decode(word: u64) -> Result<Header, Corruption> {
        if word >> RESERVED_SHIFT != 0 {
            return Err(Corruption::Header);
        }
        let total_words = (word >> TOTAL_SHIFT & LENGTH_MASK) as usize;
        let offset_words = (word >> OFFSET_SHIFT & LENGTH_MASK) as usize;
        let kind = match word >> KIND_SHIFT & KIND_MASK {
            1 => Fragment::Whole,
            2 => Fragment::First,
            3 => Fragment::Continuation,
            _ => return Err(Corruption::Header),
        };
        let consistent = total_words <= MAX_MESSAGE_WORDS
            && match kind {
                Fragment::Whole => offset_words == 0 && total_words <= SLOT_PAYLOAD_WORDS,
                Fragment::First => offset_words == 0 && total_words > SLOT_PAYLOAD_WORDS,
                Fragment::Continuation => {
                    offset_words > 0
                        && offset_words < total_words
                        && offset_words.is_multiple_of(SLOT_PAYLOAD_WORDS)
                }
            };
        if !consistent {
            return Err(Corruption::Header);
        }
        Ok(Header { seq: (word & SEQ_MASK) as u32, kind, total_words, offset_words })
    }
}

/// The sleep word announcing sleep number `episode`.
pub fn asleep(episode: u32) -> u64 {
    ASLEEP_BIT | u64::from(episode)
}

/// Decodes a sleep word: `None` for [`AWAKE`], the episode for a sleep announcement, and
/// [`Corruption::Sleeping`] for anything else.
pub fn sleep_episode(word: u64) -> Result<Option<u32>, Corruption> {
    if word == AWAKE {
        Ok(None)
    } else if word & !(ASLEEP_BIT | SEQ_MASK) == 0 && word & ASLEEP_BIT != 0 {
        Ok(Some((word & SEQ_MASK) as u32))
    } else {
        Err(Corruption::Sleeping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: Fragment, total_words: usize, offset_words: usize) -> Header {
        Header { seq: 0x1234_5678, kind, total_words, offset_words }
    }

    #[test]
    fn a_four_kib_frame_has_31_slots_per_ring_and_the_rings_do_not_overlap() {
        let words = FRAME_BYTES / WORD_BYTES;
        let a = Ring::new(words, Side::A).unwrap();
        let b = Ring::new(words, Side::B).unwrap();
        assert_eq!(a.slots(), 31);
        assert_eq!((a.released(), a.sleeping(), a.header(0)), (0, 1, 8));
        assert_eq!(a.header(30), 8 + 30 * 8);
        assert_eq!((b.released(), b.header(0)), (256, 264));
        assert_eq!(b.header(30) + SLOT_PAYLOAD_WORDS, words - 1);
    }

    #[test]
    fn stream_positions_wrap_around_the_slots() {
        let ring = Ring::new(FRAME_BYTES / WORD_BYTES, Side::A).unwrap();
        assert_eq!(ring.header(31), ring.header(0));
        assert_eq!(ring.header(31 * 1000 + 5), ring.header(5));
        assert_eq!(ring.header(u64::MAX), ring.header(u64::MAX % 31));
    }

    #[test]
    fn frames_that_are_not_an_even_number_of_lines_or_too_small_are_refused() {
        for words in [0, 8, 16, 24, 40, 512 + 1, 512 + 8] {
            assert_eq!(Ring::new(words, Side::A), Err(FrameError::BadSize), "{words} words");
        }
        assert_eq!(Ring::new(32, Side::B).unwrap().slots(), 1);
    }

    #[test]
    fn seq_counts_positions_from_one_and_wraps_at_two_to_the_32() {
        assert_eq!(seq_for(0), 1);
        assert_eq!(seq_for(u64::from(u32::MAX) - 1), u32::MAX);
        assert_eq!(seq_for(u64::from(u32::MAX)), 0);
    }

    #[test]
    fn fragment_count_rounds_up_and_never_is_zero() {
        let counts: Vec<usize> = [0, 1, 7, 8, 14, 15, 1024].into_iter().map(fragment_count).collect();
        assert_eq!(counts, [1, 1, 1, 2, 2, 3, 147]);
    }

    #[test]
    fn every_well_formed_header_survives_encoding() {
        for h in [
            header(Fragment::Whole, 0, 0),
            header(Fragment::Whole, 7, 0),
            header(Fragment::First, 8, 0),
            header(Fragment::First, MAX_MESSAGE_WORDS, 0),
            header(Fragment::Continuation, MAX_MESSAGE_WORDS, 1022),
            Header { seq: u32::MAX, ..header(Fragment::Continuation, 15, 14) },
        ] {
            assert_eq!(Header::decode(h.encode()), Ok(h));
        }
    }

    #[test]
    fn headers_no_correct_sender_writes_are_corrupt() {
        let good = header(Fragment::Whole, 3, 0).encode();
        let bad = [
            good | 1 << 56,
            good | 1 << 63,
            good & !(KIND_MASK << KIND_SHIFT),
            header(Fragment::Whole, 8, 0).encode(),
            header(Fragment::Whole, 3, 7).encode(),
            header(Fragment::First, 7, 0).encode(),
            header(Fragment::First, 20, 7).encode(),
            header(Fragment::First, MAX_MESSAGE_WORDS + 1, 0).encode(),
            header(Fragment::Continuation, 20, 0).encode(),
            header(Fragment::Continuation, 20, 8).encode(),
            header(Fragment::Continuation, 14, 14).encode(),
            header(Fragment::Continuation, 2047, 7).encode(),
        ];
        for word in bad {
            assert_eq!(Header::decode(word), Err(Corruption::Header), "{word:#x}");
        }
    }

    #[test]
    fn the_payload_of_a_fragment_is_the_rest_of_the_message_up_to_a_slot() {
        assert_eq!(header(Fragment::Whole, 0, 0).payload_words(), 0);
        assert_eq!(header(Fragment::First, 20, 0).payload_words(), 7);
        assert_eq!(header(Fragment::Continuation, 20, 14).payload_words(), 6);
    }

    #[test]
    fn sleep_words_are_awake_or_a_tagged_episode_and_nothing_else() {
        assert_eq!(sleep_episode(AWAKE), Ok(None));
        assert_eq!(sleep_episode(asleep(0)), Ok(Some(0)));
        assert_eq!(sleep_episode(asleep(u32::MAX)), Ok(Some(u32::MAX)));
        for garbage in [1, 0xdead_beef, ASLEEP_BIT | 1 << 32, u64::MAX, 1 << 62] {
            assert_eq!(sleep_episode(garbage), Err(Corruption::Sleeping), "{garbage:#x}");
        }
    }
}
