//! Typed messages and remote procedure calls over a channel: the run-time half of our
//! Flounder.
//!
//! An interface is described once, in Rust, with [`crate::interface!`], which generates
//! its request enum, a client stub and a server-side dispatch. Everything the generated
//! code has in common lives here: how each argument type is written as words ([`Wire`]),
//! the envelope word that starts every message, and the [`Connection`] that carries
//! requests one way and replies the other over a pair of rings.
//!
//! # A message on the wire
//!
//! A message of the interface is one channel message (fragmented by the ring as needed):
//!
//! | word | contents                                                                 |
//! |------|--------------------------------------------------------------------------|
//! | 0    | the [`Envelope`]: bits 15–0 tag, 17–16 kind, 31–18 zero, 63–32 call id   |
//! | 1…   | the arguments in order (a reply: the result), as their [`Wire`] type says |
//!
//! The tag is the position of the message or call in the interface, counted from 0. The
//! kind says what the message is: 1 a one-way message, 2 a call, 3 the reply to one. A call
//! carries a call id (counted from 1, wrapping, never 0), and its reply must carry the same
//! id and tag; a one-way message carries 0.
//!
//! | type      | words                                                                  |
//! |-----------|------------------------------------------------------------------------|
//! | `u64`     | the value                                                              |
//! | `u32`     | the value; the high half must be zero                                  |
//! | `bool`    | 0 or 1                                                                 |
//! | [`Bytes`] | the length in bytes, then the bytes, eight a word in memory order, the |
//! |           | last word padded with zeros                                            |
//!
//! Both ends of a channel run on the same machine, so "memory order" is the same for both;
//! it lets the receiver hand out the bytes where they lie, without copying.
//!
//! # Validation
//!
//! Decoding checks everything: the envelope's reserved bits and kind, that the tag names a
//! message of the interface and the kind is the one it was declared with, that every
//! argument is there and holds a value of its type, and that no words are left over.
//! Anything else is a [`BadMessage`]. Unlike a [`crate::Error::Corrupt`] ring, a bad
//! message leaves the channel usable (the ring delivered exactly what was sent), so the
//! caller decides: a server reports it and serves the next request; a client whose reply
//! does not match its call has lost track of the server and should give up the connection.
//!
//! # What it does not do
//!
//! One call at a time per connection: a client waits for each reply before its next call,
//! so replies need no matching beyond a check. Requests and one-way messages travel from
//! client to server, replies back; a server that wants to talk first needs a second
//! interface the other way. A request that fails to decode gets no reply: only a client
//! that bypasses the generated stub can send one, and it is left waiting. Capabilities do
//! not travel over channels (the monitors move them).

use crate::error::Error;
use crate::layout::MAX_MESSAGE_WORDS;
use crate::memory::Memory;
use crate::receiver::Receiver;
use crate::sender::Sender;
use crate::wait::{Notify, Wait};

/// A typed call or message failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcError {
    /// The channel failed: the message is too long, or the peer corrupted a ring.
    Channel(Error),
    /// A message arrived that does not decode as this interface says it should.
    BadMessage(BadMessage),
}

/// How a received message fails to be one of the interface's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadMessage {
    /// The envelope has reserved bits set or no kind, a one-way message has a call id, or
    /// the message is empty.
    Envelope,
    /// The tag names no message or call of the interface.
    UnknownTag,
    /// A one-way message sent as a call or the other way round, or a reply sent as a
    /// request.
    WrongKind,
    /// Fewer words than the arguments need.
    Truncated,
    /// More words than the arguments need.
    TrailingWords,
    /// A word its type cannot hold: a `u32` above 2³² − 1, a `bool` other than 0 or 1, a
    /// byte string with nonzero padding.
    Value,
    /// A reply whose tag or call id is not the call's, or a request where a reply belongs.
    UnexpectedReply,
}

impl From<Error> for RpcError {
    fn from(error: Error) -> RpcError {
        RpcError::Channel(error)
    }
}

impl From<BadMessage> for RpcError {
    fn from(bad: BadMessage) -> RpcError {
        RpcError::BadMessage(bad)
    }
}

/// A type that can be an argument or a result in an interface.
pub trait Wire {
    /// The value as messages carry it: the type itself for a scalar, a view into the
    /// received message for [`Bytes`].
    type Value<'a>: Copy + core::fmt::Debug + PartialEq;

    fn encode(value: &Self::Value<'_>, out: &mut Encoder<'_>) -> Result<(), RpcError>;

    fn decode<'a>(input: &mut Decoder<'a>) -> Result<Self::Value<'a>, BadMessage>;
}

impl Wire for u64 {
    type Value<'a> = u64;

    fn encode(value: &u64, out: &mut Encoder<'_>) -> Result<(), RpcError> {
        out.push(*value)
    }

    fn decode(input: &mut Decoder<'_>) -> Result<u64, BadMessage> {
        input.word()
    }
}

impl Wire for u32 {
    type Value<'a> = u32;

    fn encode(value: &u32, out: &mut Encoder<'_>) -> Result<(), RpcError> {
        out.push(u64::from(*value))
    }

    fn decode(input: &mut Decoder<'_>) -> Result<u32, BadMessage> {
        u32::try_from(input.word()?).map_err(|_| BadMessage::Value)
    }
}

impl Wire for bool {
    type Value<'a> = bool;

    fn encode(value: &bool, out: &mut Encoder<'_>) -> Result<(), RpcError> {
        out.push(u64::from(*value))
    }

    fn decode(input: &mut Decoder<'_>) -> Result<bool, BadMessage> {
        match input.word()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(BadMessage::Value),
        }
    }
}

/// A byte string: `&[u8]` on both sides, borrowed from the received message.
#[derive(Clone, Copy, Debug)]
pub struct Bytes;

impl Wire for Bytes {
    type Value<'a> = &'a [u8];

    fn encode(value: &&[u8], out: &mut Encoder<'_>) -> Result<(), RpcError> {
        out.push(value.len() as u64)?;
        for chunk in value.chunks(8) {
            let mut bytes = [0; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            // Native byte order: the word then holds these bytes in memory order, which
            // is how `decode` reads them back.
            out.push(u64::from_ne_bytes(bytes))?;
        }
        Ok(())
    }

    fn decode<'a>(input: &mut Decoder<'a>) -> Result<&'a [u8], BadMessage> {
        let len = usize::try_from(input.word()?).map_err(|_| BadMessage::Value)?;
        let words = input.words(len.div_ceil(8))?;
        // SAFETY: the bytes of `words` are initialised (they are u64s), u8 needs no
        // alignment, and the slice covers exactly `words`, borrowed for 'a like it.
        let bytes = unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) };
        let (text, padding) = bytes.split_at(len);
        if padding.iter().any(|&byte| byte != 0) {
            return Err(BadMessage::Value);
        }
        Ok(text)
    }
}

/// Writes a message's words into a buffer.
#[derive(Debug)]
pub struct Encoder<'b> {
    words: &'b mut [u64],
    written: usize,
}

impl<'b> Encoder<'b> {
    pub fn new(words: &'b mut [u64]) -> Encoder<'b> {
        Encoder { words, written: 0 }
    }

    /// Appends a word; a message that outgrows the buffer is [`Error::TooLong`].
    pub fn push(&mut self, word: u64) -> Result<(), RpcError> {
        let slot = self.words.get_mut(self.written).ok_or(RpcError::Channel(Error::TooLong))?;
        *slot = word;
        self.written += 1;
        Ok(())
    }

    /// Words written so far.
    pub fn written(&self) -> usize {
        self.written
    }
}

/// Reads a message's words in order.
#[derive(Clone, Copy, Debug)]
pub struct Decoder<'a> {
    words: &'a [u64],
}

impl<'a> Decoder<'a> {
    pub fn new(words: &'a [u64]) -> Decoder<'a> {
        Decoder { words }
    }

    /// The next word.
    pub fn word(&mut self) -> Result<u64, BadMessage> {
        let (&first, rest) = self.words.split_first().ok_or(BadMessage::Truncated)?;
        self.words = rest;
        Ok(first)
    }

    /// The next `count` words.
    pub fn words(&mut self, count: usize) -> Result<&'a [u64], BadMessage> {
        if count > self.words.len() {
            return Err(BadMessage::Truncated);
        }
        let (taken, rest) = self.words.split_at(count);
        self.words = rest;
        Ok(taken)
    }

    /// Checks that every word has been read.
    pub fn finish(self) -> Result<(), BadMessage> {
        if self.words.is_empty() {
            Ok(())
        } else {
            Err(BadMessage::TrailingWords)
        }
    }
}

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A one-way message: no reply.
    Message = 1,
    /// A call: the server replies.
    Call = 2,
    /// The reply to a call.
    Reply = 3,
}

/// The first word of every message of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub kind: Kind,
    pub tag: u16,
    pub call_id: u32,
}

const KIND_SHIFT: u32 = 16;
const CALL_ID_SHIFT: u32 = 32;
/// Bits 31–18 of the envelope, which must be zero.
const RESERVED_MASK: u64 = 0xfffc_0000;

impl Envelope {
    pub fn encode(&self) -> u64 {
        u64::from(self.tag) | (self.kind as u64) << KIND_SHIFT | u64::from(self.call_id) << CALL_ID_SHIFT
    }

    pub fn decode(word: u64) -> Result<Envelope, BadMessage> {
        if word & RESERVED_MASK != 0 {
            return Err(BadMessage::Envelope);
        }
        let kind = match word >> KIND_SHIFT & 0b11 {
            1 => Kind::Message,
            2 => Kind::Call,
            3 => Kind::Reply,
            _ => return Err(BadMessage::Envelope),
        };
        // Truncations take the fields out of their bits.
        Ok(Envelope { kind, tag: word as u16, call_id: (word >> CALL_ID_SHIFT) as u32 })
    }

    /// Checks that a request is of the kind its tag was declared with.
    pub fn expect_kind(&self, kind: Kind) -> Result<(), BadMessage> {
        if self.kind != kind {
            Err(BadMessage::WrongKind)
        } else if kind == Kind::Message && self.call_id != 0 {
            Err(BadMessage::Envelope)
        } else {
            Ok(())
        }
    }
}

/// A request of an interface (its generated `Request` enum).
pub trait Message {
    /// The request's tag: its position in the interface.
    fn tag(&self) -> u16;

    /// Writes the request's arguments.
    fn encode_arguments(&self, out: &mut Encoder<'_>) -> Result<(), RpcError>;
}

/// Encodes `message` as a request of kind `kind` into `out`; returns its length in words.
pub fn encode_request(
    message: &impl Message,
    kind: Kind,
    call_id: u32,
    out: &mut [u64],
) -> Result<usize, RpcError> {
    let mut encoder = Encoder::new(out);
    encoder.push(Envelope { kind, tag: message.tag(), call_id }.encode())?;
    message.encode_arguments(&mut encoder)?;
    Ok(encoder.written())
}

/// Encodes the reply `result` to the call `request` into `out`; returns its length in
/// words.
pub fn encode_reply<R: Wire>(
    request: Envelope,
    result: &R::Value<'_>,
    out: &mut [u64],
) -> Result<usize, RpcError> {
    let mut encoder = Encoder::new(out);
    encoder.push(Envelope { kind: Kind::Reply, ..request }.encode())?;
    R::encode(result, &mut encoder)?;
    Ok(encoder.written())
}

/// Splits a received request into its envelope, which must not be a reply's, and its
/// arguments.
pub fn open_request(words: &[u64]) -> Result<(Envelope, Decoder<'_>), BadMessage> {
    let mut decoder = Decoder::new(words);
    let envelope = Envelope::decode(decoder.word().map_err(|_| BadMessage::Envelope)?)?;
    if envelope.kind == Kind::Reply {
        return Err(BadMessage::WrongKind);
    }
    Ok((envelope, decoder))
}

/// The two rings of a channel as one endpoint of an interface sees them: requests go out
/// and replies come in (a client), or the other way round (a server).
#[derive(Debug)]
pub struct Connection<M: Memory, N: Notify, W: Wait> {
    sender: Sender<M, N>,
    receiver: Receiver<M>,
    wait: W,
    /// Where outgoing messages are encoded.
    scratch: [u64; MAX_MESSAGE_WORDS],
    next_call_id: u32,
}

impl<M: Memory, N: Notify, W: Wait> Connection<M, N, W> {
    pub fn new(sender: Sender<M, N>, receiver: Receiver<M>, wait: W) -> Connection<M, N, W> {
        Connection { sender, receiver, wait, scratch: [0; MAX_MESSAGE_WORDS], next_call_id: 1 }
    }

    /// Sends a one-way message.
    pub fn send(&mut self, message: &impl Message) -> Result<(), RpcError> {
        let len = encode_request(message, Kind::Message, 0, &mut self.scratch)?;
        Ok(self.sender.send(&self.scratch[..len], &mut self.wait)?)
    }

    /// Sends a call and waits for its reply; returns the reply's words after the envelope.
    pub fn call(&mut self, request: &impl Message) -> Result<Decoder<'_>, RpcError> {
        let call_id = self.next_call_id;
        self.next_call_id = call_id.wrapping_add(1).max(1);
        let len = encode_request(request, Kind::Call, call_id, &mut self.scratch)?;
        self.sender.send(&self.scratch[..len], &mut self.wait)?;
        let mut reply = Decoder::new(self.receiver.recv(&mut self.wait)?);
        let envelope = Envelope::decode(reply.word().map_err(|_| BadMessage::Envelope)?)?;
        let expected = Envelope { kind: Kind::Reply, tag: request.tag(), call_id };
        if envelope != expected {
            return Err(BadMessage::UnexpectedReply.into());
        }
        Ok(reply)
    }

    /// Waits for one request and hands it to `dispatch`, with a buffer for the reply;
    /// sends the reply if `dispatch` returns its length.
    pub fn serve_one(
        &mut self,
        dispatch: impl FnOnce(&[u64], &mut [u64]) -> Result<Option<usize>, RpcError>,
    ) -> Result<(), RpcError> {
        let request = self.receiver.recv(&mut self.wait)?;
        if let Some(len) = dispatch(request, &mut self.scratch)? {
            self.sender.send(&self.scratch[..len], &mut self.wait)?;
        }
        Ok(())
    }

    pub fn sender(&self) -> &Sender<M, N> {
        &self.sender
    }

    pub fn receiver(&self) -> &Receiver<M> {
        &self.receiver
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<W: Wire>(value: W::Value<'_>) -> Vec<u64> {
        let mut buffer = [0; 16];
        let mut encoder = Encoder::new(&mut buffer);
        W::encode(&value, &mut encoder).unwrap();
        let written = encoder.written();
        buffer[..written].to_vec()
    }

    fn decoded<W: Wire>(words: &[u64]) -> W::Value<'_> {
        let mut decoder = Decoder::new(words);
        let value = W::decode(&mut decoder).unwrap();
        decoder.finish().unwrap();
        value
    }

    #[test]
    fn scalars_take_one_word_each() {
        assert_eq!(encoded::<u64>(u64::MAX), [u64::MAX]);
        assert_eq!(decoded::<u64>(&[u64::MAX]), u64::MAX);
        assert_eq!(encoded::<u32>(7), [7]);
        assert_eq!(decoded::<u32>(&[7]), 7);
        assert_eq!((encoded::<bool>(true), encoded::<bool>(false)), (vec![1], vec![0]));
        assert!(decoded::<bool>(&[1]) && !decoded::<bool>(&[0]));
    }

    #[test]
    fn bytes_take_a_length_word_and_eight_bytes_a_word() {
        for text in [&b""[..], b"12345678", b"hello, world"] {
            let words = encoded::<Bytes>(text);
            assert_eq!(words.len(), 1 + text.len().div_ceil(8));
            assert_eq!(words[0], text.len() as u64);
            assert_eq!(decoded::<Bytes>(&words), text);
        }
        assert_eq!(encoded::<Bytes>(b"hello, world")[1].to_ne_bytes(), *b"hello, w");
    }

    #[test]
    fn words_a_type_cannot_hold_are_bad_values() {
        let decode_u32 = |word| u32::decode(&mut Decoder::new(&[word]));
        assert_eq!(decode_u32(1 << 32), Err(BadMessage::Value));
        assert_eq!(bool::decode(&mut Decoder::new(&[2])), Err(BadMessage::Value));
        let padded = [3, u64::from_ne_bytes(*b"abc\0\0\0\0x")];
        assert_eq!(Bytes::decode(&mut Decoder::new(&padded)), Err(BadMessage::Value));
    }

    #[test]
    fn byte_strings_longer_than_the_message_are_truncated() {
        assert_eq!(Bytes::decode(&mut Decoder::new(&[9, 0])), Err(BadMessage::Truncated));
        assert_eq!(Bytes::decode(&mut Decoder::new(&[u64::MAX])), Err(BadMessage::Truncated));
        assert_eq!(u64::decode(&mut Decoder::new(&[])), Err(BadMessage::Truncated));
    }

    #[test]
    fn an_encoder_refuses_to_outgrow_its_buffer() {
        let mut buffer = [0; 2];
        let mut encoder = Encoder::new(&mut buffer);
        assert_eq!(Bytes::encode(&&[1u8; 9][..], &mut encoder), Err(RpcError::Channel(Error::TooLong)));
    }

    #[test]
    fn envelopes_survive_encoding() {
        for envelope in [
            Envelope { kind: Kind::Message, tag: 0, call_id: 0 },
            Envelope { kind: Kind::Call, tag: u16::MAX, call_id: u32::MAX },
            Envelope { kind: Kind::Reply, tag: 3, call_id: 1 },
        ] {
            assert_eq!(Envelope::decode(envelope.encode()), Ok(envelope));
        }
    }

    #[test]
    fn envelopes_with_reserved_bits_or_no_kind_are_bad() {
        let call = Envelope { kind: Kind::Call, tag: 1, call_id: 5 }.encode();
        for word in [call | 1 << 18, call | 1 << 31, call & !(0b11 << KIND_SHIFT)] {
            assert_eq!(Envelope::decode(word), Err(BadMessage::Envelope), "{word:#x}");
        }
    }

    #[test]
    fn requests_must_have_the_declared_kind_and_one_way_messages_no_call_id() {
        let call = Envelope { kind: Kind::Call, tag: 1, call_id: 5 };
        assert_eq!(call.expect_kind(Kind::Call), Ok(()));
        assert_eq!(call.expect_kind(Kind::Message), Err(BadMessage::WrongKind));
        let message = Envelope { kind: Kind::Message, tag: 1, call_id: 5 };
        assert_eq!(message.expect_kind(Kind::Message), Err(BadMessage::Envelope));
    }

    #[test]
    fn replies_and_empty_messages_are_not_requests() {
        let reply = Envelope { kind: Kind::Reply, tag: 0, call_id: 1 }.encode();
        assert_eq!(open_request(&[reply]).map(|(envelope, _)| envelope), Err(BadMessage::WrongKind));
        assert_eq!(open_request(&[]).map(|(envelope, _)| envelope), Err(BadMessage::Envelope));
    }
}
