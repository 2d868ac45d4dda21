//! The memory protocol's messages, and their words on a channel.
//!
//! Every message is `[kind, sender_free_bytes, fields…]`, one `u64` per word; the monitor
//! puts its own protocol tag in front. A list of extents is a count followed by that many
//! `base, size_bytes` pairs, in ascending order. The layouts, after the two common words:
//!
//! | kind | message    | fields                                        |
//! |------|------------|-----------------------------------------------|
//! | 1    | `Announce` | `count, (base, size_bytes) × count`           |
//! | 2    | `Request`  | `request, bytes`                              |
//! | 3    | `Refuse`   | `request`                                     |
//! | 4    | `Transfer` | `seq, recipient, request, count, (base, size_bytes) × count` |
//! | 5    | `Ack`      | `seq`                                         |
//! | 6    | `Granted`  | `seq, request`                                |
//!
//! [`Msg::decode`] accepts exactly the messages a correct peer sends: the right number of
//! words for the kind, page-aligned non-empty extents that do not wrap, overlap or go out
//! of order, counts within [`MAX_EXTENTS`], core ids within [`crate::MAX_CORES`], no zero
//! sequence number, request id or byte count. Anything else is an error; it reads words
//! only through slice patterns and checked lengths, so garbage cannot make it panic.

use alloc::vec::Vec;

use super::{Extent, PAGE_BYTES};
use crate::{CoreId, DecodeError, MAX_CORES};

/// The most extents one message carries: an announcement of 64 ranges, or a transfer in 64
/// pieces, is 134 words, well within a channel message.
pub const MAX_EXTENTS: usize = 64;

const ANNOUNCE: u64 = 1;
const REQUEST: u64 = 2;
const REFUSE: u64 = 3;
const TRANSFER: u64 = 4;
const ACK: u64 = 5;
const GRANTED: u64 = 6;

/// One message of the memory protocol between two cores' monitors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Msg {
    /// How many bytes the sender had free when it sent this: every message carries it, so
    /// each replica's idea of who has memory to spare stays roughly current for free.
    pub sender_free_bytes: u64,
    pub body: Body,
}

/// What a [`Msg`] says. Request ids are the requester's, numbered from 1; sequence
/// numbers are the donor's, counting its transfers from 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// Boot: "these ranges are mine". Sent once by every core to every other.
    Announce { ranges: Vec<Extent> },
    /// Requester to donor: "please give me at least `bytes`".
    Request { request: u64, bytes: u64 },
    /// Donor to requester: "I cannot spare that much".
    Refuse { request: u64 },
    /// Donor to every other core: "my `seq`-th transfer: these extents now belong to
    /// `recipient`, for its request `request`".
    Transfer { seq: u64, recipient: CoreId, request: u64, extents: Vec<Extent> },
    /// Any core to the donor: "I have applied your transfer `seq`".
    Ack { seq: u64 },
    /// Donor to recipient: "every replica has applied transfer `seq`: use the memory".
    Granted { seq: u64, request: u64 },
}

impl Msg {
    /// Appends the message's words to `out`.
    pub fn encode(&self, out: &mut Vec<u64>) {
        let kind = match self.body {
            Body::Announce { .. } => ANNOUNCE,
            Body::Request { .. } => REQUEST,
            Body::Refuse { .. } => REFUSE,
            Body::Transfer { .. } => TRANSFER,
            Body::Ack { .. } => ACK,
            Body::Granted { .. } => GRANTED,
        };
        out.extend([kind, self.sender_free_bytes]);
        match &self.body {
            Body::Announce { ranges } => encode_extents(ranges, out),
            Body::Request { request, bytes } => out.extend([*request, *bytes]),
            Body::Refuse { request } => out.push(*request),
            Body::Transfer { seq, recipient, request, extents } => {
                out.extend([*seq, u64::from(recipient.0), *request]);
                encode_extents(extents, out);
            }
            Body::Ack { seq } => out.push(*seq),
            Body::Granted { seq, request } => out.extend([*seq, *request]),
        }
    }

    /// Reads a message from its words, accepting only what a correct peer sends.
    pub fn decode(words: &[u64]) -> Result<Msg, DecodeError> {
        let [kind, sender_free_bytes, fields @ ..] = words else {
            return Err(DecodeError::Length);
        };
        let body = match *kind {
            ANNOUNCE => Body::Announce { ranges: decode_extents(fields)? },
            REQUEST => {
                let [request, bytes] = exactly(fields)?;
                Body::Request { request, bytes }
            }
            REFUSE => {
                let [request] = exactly(fields)?;
                Body::Refuse { request }
            }
            TRANSFER => {
                let [seq, recipient, request, extents @ ..] = fields else {
                    return Err(DecodeError::Length);
                };
                let recipient = u8::try_from(*recipient).map_err(|_| DecodeError::BadField)?;
                let extents = decode_extents(extents)?;
                Body::Transfer { seq: *seq, recipient: CoreId(recipient), request: *request, extents }
            }
            ACK => {
                let [seq] = exactly(fields)?;
                Body::Ack { seq }
            }
            GRANTED => {
                let [seq, request] = exactly(fields)?;
                Body::Granted { seq, request }
            }
            _ => return Err(DecodeError::UnknownKind),
        };
        let msg = Msg { sender_free_bytes: *sender_free_bytes, body };
        msg.check()?;
        Ok(msg)
    }

    /// Whether every field holds a value a correct peer could send. [`Msg::decode`] checks
    /// it, and so does the replica for a message it is handed, however it was made.
    pub fn check(&self) -> Result<(), DecodeError> {
        let fine = self.sender_free_bytes.is_multiple_of(PAGE_BYTES)
            && match &self.body {
                Body::Announce { ranges } => extents_well_formed(ranges),
                Body::Request { request, bytes } => *request != 0 && *bytes != 0,
                Body::Refuse { request } => *request != 0,
                Body::Transfer { seq, recipient, request, extents } => {
                    *seq != 0
                        && usize::from(recipient.0) < MAX_CORES
                        && *request != 0
                        && !extents.is_empty()
                        && extents_well_formed(extents)
                }
                Body::Ack { seq } => *seq != 0,
                Body::Granted { seq, request } => *seq != 0 && *request != 0,
            };
        if fine {
            Ok(())
        } else {
            Err(DecodeError::BadField)
        }
    }
}

/// Whether `extents` could be ranges of physical memory in one message: at most
/// [`MAX_EXTENTS`], each page-aligned, non-empty and not wrapping past the end of the
/// address space, in ascending order without overlap.
pub(super) fn extents_well_formed(extents: &[Extent]) -> bool {
    extents.len() <= MAX_EXTENTS
        && extents.iter().all(|e| e.is_well_formed())
        && extents.windows(2).all(|pair| pair[0].end() <= pair[1].base)
}

fn encode_extents(extents: &[Extent], out: &mut Vec<u64>) {
    out.push(extents.len() as u64);
    for extent in extents {
        out.extend([extent.base, extent.size_bytes]);
    }
}

fn decode_extents(fields: &[u64]) -> Result<Vec<Extent>, DecodeError> {
    let [count, pairs @ ..] = fields else {
        return Err(DecodeError::Length);
    };
    // Checked before it is used as a length, so a huge count cannot overflow below.
    if *count > MAX_EXTENTS as u64 {
        return Err(DecodeError::BadField);
    }
    if pairs.len() != 2 * *count as usize {
        return Err(DecodeError::Length);
    }
    Ok(pairs.chunks_exact(2).map(|pair| Extent { base: pair[0], size_bytes: pair[1] }).collect())
}

fn exactly<const N: usize>(fields: &[u64]) -> Result<[u64; N], DecodeError> {
    fields.try_into().map_err(|_| DecodeError::Length)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn every_kind() -> Vec<Msg> {
        let extents = vec![
            Extent { base: 0x4000_0000, size_bytes: 2 * MIB },
            Extent { base: 0x4040_0000, size_bytes: PAGE_BYTES },
        ];
        let bodies = [
            Body::Announce { ranges: extents.clone() },
            Body::Announce { ranges: Vec::new() },
            Body::Request { request: 7, bytes: 3 * MIB + 1 },
            Body::Refuse { request: u64::MAX },
            Body::Transfer { seq: 12, recipient: CoreId(63), request: 1, extents },
            Body::Ack { seq: 1 },
            Body::Granted { seq: 99, request: 5 },
        ];
        bodies.into_iter().map(|body| Msg { sender_free_bytes: 64 * MIB, body }).collect()
    }

    fn words(msg: &Msg) -> Vec<u64> {
        let mut out = Vec::new();
        msg.encode(&mut out);
        out
    }

    #[test]
    fn every_kind_of_message_round_trips() {
        for msg in every_kind() {
            assert_eq!(Msg::decode(&words(&msg)), Ok(msg));
        }
    }

    #[test]
    fn a_message_with_the_largest_extent_list_round_trips_within_a_channel_message() {
        let extents: Vec<Extent> =
            (0..MAX_EXTENTS as u64).map(|i| Extent { base: i * 2 * MIB, size_bytes: MIB }).collect();
        let msg = Msg {
            sender_free_bytes: 0,
            body: Body::Transfer { seq: 1, recipient: CoreId(2), request: 1, extents },
        };
        let encoded = words(&msg);
        assert!(encoded.len() < 1000);
        assert_eq!(Msg::decode(&encoded), Ok(msg));
    }

    #[test]
    fn every_shortened_or_lengthened_message_is_rejected_for_its_length() {
        for msg in every_kind() {
            let encoded = words(&msg);
            for cut in 0..encoded.len() {
                assert!(Msg::decode(&encoded[..cut]).is_err(), "{msg:?} cut to {cut} words");
            }
            let mut longer = encoded.clone();
            longer.push(0);
            assert_eq!(Msg::decode(&longer), Err(DecodeError::Length), "{msg:?} with a word more");
        }
    }

    #[test]
    fn an_unknown_kind_is_rejected() {
        for kind in [0, 7, u64::MAX] {
            assert_eq!(Msg::decode(&[kind, 0, 1]), Err(DecodeError::UnknownKind));
        }
    }

    #[test]
    fn values_no_correct_peer_sends_are_bad_fields() {
        let bad = [
            // Free bytes not a whole number of pages.
            vec![REFUSE, 100, 1],
            // Zero request id, zero bytes, zero sequence numbers.
            vec![REFUSE, 0, 0],
            vec![REQUEST, 0, 1, 0],
            vec![ACK, 0, 0],
            vec![GRANTED, 0, 0, 1],
            // A recipient beyond the largest core id.
            vec![TRANSFER, 0, 1, 64, 1, 1, 0, PAGE_BYTES],
            // A transfer of nothing.
            vec![TRANSFER, 0, 1, 1, 1, 0],
            // Extents: empty, misaligned, wrapping, out of order, overlapping.
            vec![ANNOUNCE, 0, 1, 0, 0],
            vec![ANNOUNCE, 0, 1, 1, PAGE_BYTES],
            vec![ANNOUNCE, 0, 1, u64::MAX - PAGE_BYTES + 1, 2 * PAGE_BYTES],
            vec![ANNOUNCE, 0, 2, 2 * MIB, MIB, 0, MIB],
            vec![ANNOUNCE, 0, 2, 0, 2 * MIB, MIB, MIB],
            // A count larger than any message carries.
            vec![ANNOUNCE, 0, u64::MAX],
        ];
        for words in bad {
            assert_eq!(Msg::decode(&words), Err(DecodeError::BadField), "{words:x?}");
        }
    }

    #[test]
    fn garbage_never_panics_and_whatever_decodes_round_trips() {
        // A fixed xorshift stream: the same garbage every run. Small values are mixed in,
        // or almost nothing would get past the kind word.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut decoded = 0;
        for _ in 0..100_000 {
            let len = (next() % 12) as usize;
            let garbage: Vec<u64> = (0..len)
                .map(|_| match next() % 4 {
                    0 => next(),
                    1 => next() % 8,
                    _ => (next() % 16) * PAGE_BYTES,
                })
                .collect();
            if let Ok(msg) = Msg::decode(&garbage) {
                decoded += 1;
                assert_eq!(words(&msg), garbage);
            }
        }
        assert!(decoded > 0, "the garbage never hit a valid message; the test is too weak");
    }
}
