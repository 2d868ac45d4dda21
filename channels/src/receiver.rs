//! The receiving end of a ring.
//!
//! A receiver keeps its stream position in its own memory and trusts nothing it reads
//! from the frame: each header it loads must carry exactly the sequence number of the
//! position it expects (a new message) or the one of the previous lap (nothing new yet),
//! and each fragment must continue the message being reassembled. Anything else closes
//! the receiver with [`Error::Corrupt`]. Lengths and offsets come from a header only once
//! it has been checked, and the message buffer is sized for the longest legal message, so
//! a wrong peer can garble what it sends but never make this core read or write outside
//! the frame and the buffer.
//!
//! Receiving a slot is: load the header with `Acquire` (`ldar` on AArch64), and only if
//! it is new, load the payload; then store the new stream position into the released
//! count with `Release` (`stlr`), so that the payload loads are complete before the sender
//! can see the slot as free and write into it again.

use crate::error::{Corruption, Error, FrameError};
use crate::layout::{self, Fragment, Header, Ring, Side, AWAKE, MAX_MESSAGE_WORDS};
use crate::memory::{AtomicWord, Memory};
use crate::wait::Wait;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

/// The receiving end of one ring of a channel, with the buffer messages are reassembled in.
#[derive(Debug)]
pub struct Receiver<M: Memory> {
    memory: M,
    ring: Ring,
    /// The stream position of the next slot to receive; also the count of released slots.
    position: u64,
    /// The total length of the message being reassembled, if one is.
    assembling: Option<usize>,
    /// Words of it received so far.
    assembled: usize,
    message: [u64; MAX_MESSAGE_WORDS],
    /// Sleeps announced so far; the low 32 bits number the announcements.
    sleeps: u64,
    broken: Option<Corruption>,
}

/// What one look at the ring found.
enum Poll {
    /// A whole message of this many words is in the buffer.
    Message(usize),
    /// Fragments arrived, but the message is not complete yet.
    Partial,
    /// Nothing new.
    Empty,
}

impl<M: Memory> Receiver<M> {
    /// The receiver of side `side` of the channel in `memory`: it receives what the peer
    /// (`side.peer()`) sends. The frame must be as [`crate::Sender::new`] requires.
    pub fn new(memory: M, side: Side) -> Result<Receiver<M>, FrameError> {
        let ring = Ring::new(memory.words().len(), side.peer())?;
        Ok(Receiver {
            memory,
            ring,
            position: 0,
            assembling: None,
            assembled: 0,
            message: [0; MAX_MESSAGE_WORDS],
            sleeps: 0,
            broken: None,
        })
    }

    /// The next message if all of it has arrived, `None` if not (yet). Fragments that have
    /// arrived are taken in and their slots released either way.
    pub fn try_recv(&mut self) -> Result<Option<&[u64]>, Error> {
        match self.poll()? {
            Poll::Message(len) => Ok(Some(&self.message[..len])),
            Poll::Partial | Poll::Empty => Ok(None),
        }
    }

    /// The next message, waiting for it: first polling, then sleeping until the sender
    /// notifies this receiver.
    ///
    /// Sleeping is the receiver's half of a Dekker-style handshake (the sender's is
    /// described at `Sender::wake_if_asleep`). The receiver stores its announcement in the
    /// sleep word, issues a sequentially consistent fence, and looks at the ring once
    /// more; the sender stores a header, issues the same fence, and looks at the sleep
    /// word. Whichever fence comes second, that side sees the other's store: either the
    /// receiver finds the message and does not sleep, or the sender finds the announcement
    /// and notifies. Without the fences each core could keep its store in its store buffer
    /// while its load went ahead, both would miss, and the receiver would sleep through a
    /// message: the lost wake-up. Each announcement carries a fresh episode number, so a
    /// sender that has woken one sleep still wakes the next.
    pub fn recv<W: Wait>(&mut self, wait: &mut W) -> Result<&[u64], Error> {
        let len = 'received: loop {
            let mut idle_polls = 0;
            loop {
                match self.poll()? {
                    Poll::Message(len) => break 'received len,
                    Poll::Partial => idle_polls = 0,
                    Poll::Empty if idle_polls < W::POLL_ROUNDS => {
                        idle_polls += 1;
                        wait.pause();
                    }
                    Poll::Empty => break,
                }
            }
            if self.announce_sleep()? {
                wait.sleep();
            }
            self.end_sleep();
        };
        Ok(&self.message[..len])
    }

    /// Announces that this receiver is about to sleep, then looks at the ring once more:
    /// true if it is still empty, so the caller may sleep (it will be notified of the next
    /// message), false if a fragment has arrived (take it with [`Receiver::try_recv`]).
    /// Either way, call [`Receiver::end_sleep`] once awake. This is the handshake of
    /// [`Receiver::recv`], for a core that serves several channels and sleeps only when
    /// all of them are empty: announce on each, and sleep if every one says true.
    pub fn announce_sleep(&mut self) -> Result<bool, Error> {
        if let Some(corruption) = self.broken {
            return Err(Error::Corrupt(corruption));
        }
        let sleeping = self.ring.sleeping();
        self.sleeps += 1;
        // Relaxed, like the sender's load of this word: the fence orders them.
        self.memory.words()[sleeping].store(layout::asleep(self.sleeps as u32), Relaxed);
        // The fence of the handshake: the announcement above before the look below
        // (`dmb ish` on AArch64).
        M::Word::fence(SeqCst);
        // Only a look: the fragment, if there is one, is taken by the next poll.
        match self.next_header() {
            Ok(header) => Ok(header.is_none()),
            Err(corruption) => Err(self.close(corruption)),
        }
    }

    /// Withdraws the announcement of [`Receiver::announce_sleep`].
    pub fn end_sleep(&mut self) {
        // Relaxed: a sender that still sees the announcement after this merely sends one
        // notification too many; a new announcement is made, and fenced, before the next
        // sleep.
        self.memory.words()[self.ring.sleeping()].store(AWAKE, Relaxed);
    }

    /// Sleeps announced so far (each may or may not have needed a notification).
    pub fn sleeps(&self) -> u64 {
        self.sleeps
    }

    fn close(&mut self, corruption: Corruption) -> Error {
        self.broken = Some(corruption);
        Error::Corrupt(corruption)
    }

    /// Takes in every fragment that has arrived, up to the end of the next message.
    fn poll(&mut self) -> Result<Poll, Error> {
        if let Some(corruption) = self.broken {
            return Err(Error::Corrupt(corruption));
        }
        let mut progress = Poll::Empty;
        while let Some(header) = self.next_header().map_err(|corruption| self.close(corruption))? {
            let total = self.accept(header).map_err(|corruption| self.close(corruption))?;
            let words = self.memory.words();
            let at = self.ring.header(self.position);
            let payload = &words[at + 1..at + 1 + header.payload_words()];
            let into = &mut self.message[header.offset_words..header.offset_words + payload.len()];
            for (word, slot_word) in into.iter_mut().zip(payload) {
                // Relaxed: the header's Acquire load above orders these after it.
                *word = slot_word.load(Relaxed);
            }
            self.assembled += payload.len();
            self.position += 1;
            // Release: the payload loads above are complete before the sender, which
            // Acquire-loads this count, can reuse the slot.
            words[self.ring.released()].store(self.position, Release);
            if self.assembled == total {
                self.assembling = None;
                return Ok(Poll::Message(total));
            }
            progress = Poll::Partial;
        }
        Ok(progress)
    }

    /// The header of the slot at the current position if it holds a new fragment, `None`
    /// if that slot has not been written since the receiver last took it.
    fn next_header(&self) -> Result<Option<Header>, Corruption> {
        let slots = self.ring.slots() as u64;
        // Acquire pairs with the sender's Release store of this header: if it is new, the
        // payload stored before it is visible to the loads that follow (`ldar`).
        let word = self.memory.words()[self.ring.header(self.position)].load(Acquire);
        if word == 0 {
            // Zero is the fresh frame; after the first lap, a slot is never zero again.
            return if self.position < slots { Ok(None) } else { Err(Corruption::Sequence) };
        }
        let header = Header::decode(word)?;
        if header.seq == layout::seq_for(self.position) {
            Ok(Some(header))
        } else if self.position >= slots && header.seq == layout::seq_for(self.position - slots) {
            Ok(None)
        } else {
            Err(Corruption::Sequence)
        }
    }

    /// Checks that `header` continues the message being reassembled (or starts one, if
    /// none is), records it, and returns the message's total length.
    fn accept(&mut self, header: Header) -> Result<usize, Corruption> {
        match (header.kind, self.assembling) {
            (Fragment::Whole | Fragment::First, None) => {
                self.assembling = Some(header.total_words);
                self.assembled = 0;
                Ok(header.total_words)
            }
            (Fragment::Continuation, Some(total))
                if header.total_words == total && header.offset_words == self.assembled =>
            {
                Ok(total)
            }
            _ => Err(Corruption::Fragments),
        }
    }
}
