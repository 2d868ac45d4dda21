//! What can go wrong on a channel, by name.
//!
//! Two kinds of failure are kept apart. [`Error::Full`], [`Error::TooLong`] and
//! [`Error::LongerThanRing`] are about *this* call: nothing was written, the channel is
//! fine, and the caller decides what to do. [`Error::Corrupt`] is about the *peer*: a word
//! it writes did not follow the protocol (see [`crate::layout`]). The endpoint that saw it
//! closes for good: every later call returns the same `Corrupt`, because after one
//! impossible word nothing else the peer wrote can be trusted.

/// A channel operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The ring has no room for the message now; nothing was written. Retry once the
    /// receiver has caught up, or use [`crate::Sender::send`], which waits.
    Full,
    /// The message is longer than [`crate::layout::MAX_MESSAGE_WORDS`].
    TooLong,
    /// [`crate::Sender::try_send`] only: the message needs more slots than the ring has,
    /// so it can never be written in one go. [`crate::Sender::send`] streams it.
    LongerThanRing,
    /// The peer broke the protocol, as described; this endpoint is closed.
    Corrupt(Corruption),
}

/// Which rule of the protocol the peer broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// A slot header whose sequence number is neither the next one expected nor the
    /// previous lap's, or a slot cleared after it was used: the sender skipped, repeated
    /// or overran a slot, or scribbled on one.
    Sequence,
    /// A header no correct sender writes: reserved bits set, no fragment kind, a length
    /// beyond the maximum, an offset that does not fit its kind or its length.
    Header,
    /// Fragments that do not make one message: a continuation without a start, a start in
    /// the middle of a message, or a total length or offset that does not match the
    /// message being reassembled.
    Fragments,
    /// The receiver's count of released slots went backwards, or past what was sent.
    Released,
    /// The receiver's sleep word holds neither "awake" nor a sleep announcement, or it
    /// announces a sleep older than one already seen.
    Sleeping,
}

/// A memory region that cannot hold a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Not aligned to a cache line.
    Misaligned,
    /// Not a whole, even number of cache lines, or too small for a control line and a slot
    /// per ring.
    BadSize,
}

impl From<Corruption> for Error {
    fn from(corruption: Corruption) -> Error {
        Error::Corrupt(corruption)
    }
}
