//! The sending end of a ring.
//!
//! A sender owns the ring's slots: it is the only writer of every slot, and it keeps the
//! authoritative count of what it has published in its own memory. From the frame it only
//! reads the two words the receiver writes, its count of released slots and its sleep
//! word, and it checks both before believing them.
//!
//! Publishing a slot is: store the payload words, then store the header with `Release`
//! ordering (`stlr` on AArch64). A receiver that loads the header with `Acquire` and sees
//! the new sequence number is then guaranteed to see the payload stored before it. Reusing
//! a slot waits until the receiver's released count covers it, loaded with `Acquire`: the
//! receiver stored that count with `Release` after reading the slot, so the sender's new
//! payload cannot reach the receiver's earlier reads. The released count is cached, and
//! loaded from the frame only when the cache says the ring is full, so under load the
//! receiver's control line crosses to this core about once a lap, not once a message.

use crate::error::{Corruption, Error, FrameError};
use crate::layout::{self, Fragment, Header, Ring, Side, MAX_MESSAGE_WORDS, SLOT_PAYLOAD_WORDS};
use crate::memory::{AtomicWord, Memory};
use crate::wait::{Notify, Wait};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

/// The sending end of one ring of a channel.
#[derive(Debug)]
pub struct Sender<M: Memory, N: Notify> {
    memory: M,
    ring: Ring,
    notify: N,
    /// Slots published so far: the stream position of the next one.
    published: u64,
    /// The receiver's released count as last loaded and checked.
    released: u64,
    /// `published` when the receiver's sleep word was last looked at.
    announced: u64,
    /// The sleep episode last notified: each sleep needs one notification, not one per
    /// message published while it lasts.
    woken: Option<u32>,
    notifications: u64,
    broken: Option<Corruption>,
}

impl<M: Memory, N: Notify> Sender<M, N> {
    /// The sender of side `side` of the channel in `memory`, waking the peer's receiver
    /// through `notify`. The frame must be all zeros when a channel's endpoints are first
    /// made (a fresh frame is); frames are not reused for another channel.
    pub fn new(memory: M, side: Side, notify: N) -> Result<Sender<M, N>, FrameError> {
        let ring = Ring::new(memory.words().len(), side)?;
        Ok(Sender {
            memory,
            ring,
            notify,
            published: 0,
            released: 0,
            announced: 0,
            woken: None,
            notifications: 0,
            broken: None,
        })
    }

    /// Sends `message` now if the ring has room for all of it, and fails with
    /// [`Error::Full`] otherwise, having written nothing: a full ring is never overwritten.
    /// A garbled sleep word is only seen after publishing, so that `Corrupt` comes with the
    /// message already out; the sender is closed either way.
    pub fn try_send(&mut self, message: &[u64]) -> Result<(), Error> {
        self.check_open()?;
        let fragments = Self::fragments_for(message)?;
        if fragments > self.ring.slots() {
            return Err(Error::LongerThanRing);
        }
        if self.free_slots(fragments)? < fragments {
            return Err(Error::Full);
        }
        for index in 0..fragments {
            self.publish(message, index);
        }
        self.wake_if_asleep()
    }

    /// Sends `message`, waiting (with `wait.pause()`) for room as needed. A message longer
    /// than the ring streams through it: fragments go out as the receiver frees slots.
    pub fn send<W: Wait>(&mut self, message: &[u64], wait: &mut W) -> Result<(), Error> {
        self.check_open()?;
        let fragments = Self::fragments_for(message)?;
        for index in 0..fragments {
            while self.free_slots(1)? == 0 {
                // The receiver must hear of what is already out before this core waits
                // for it: it may be asleep, and it frees slots only when it is awake.
                self.wake_if_asleep()?;
                wait.pause();
            }
            self.publish(message, index);
        }
        self.wake_if_asleep()
    }

    /// Notifications sent so far: at most one per sleep of the receiver.
    pub fn notifications(&self) -> u64 {
        self.notifications
    }

    /// Slots in the ring: the most whole fragments that can be in flight.
    pub fn slots(&self) -> usize {
        self.ring.slots()
    }

    fn check_open(&self) -> Result<(), Error> {
        self.broken.map_or(Ok(()), |corruption| Err(Error::Corrupt(corruption)))
    }

    fn close(&mut self, corruption: Corruption) -> Error {
        self.broken = Some(corruption);
        Error::Corrupt(corruption)
    }

    fn fragments_for(message: &[u64]) -> Result<usize, Error> {
        if message.len() > MAX_MESSAGE_WORDS {
            return Err(Error::TooLong);
        }
        Ok(layout::fragment_count(message.len()))
    }

    /// Free slots, as far as this sender knows, reloading the receiver's released count if
    /// fewer than `wanted` seem free.
    fn free_slots(&mut self, wanted: usize) -> Result<usize, Error> {
        let slots = self.ring.slots() as u64;
        let in_flight = self.published - self.released;
        if slots - in_flight >= wanted as u64 {
            return Ok((slots - in_flight) as usize);
        }
        let words = self.memory.words();
        // Acquire pairs with the receiver's Release store of this count, made after it
        // read the slots it releases: our next stores into those slots come after its
        // reads (`ldar` on AArch64).
        let released = words[self.ring.released()].load(Acquire);
        // The receiver can release only what was published, and never un-release.
        if released < self.released || released > self.published {
            return Err(self.close(Corruption::Released));
        }
        self.released = released;
        Ok((slots - (self.published - released)) as usize)
    }

    /// Publishes fragment `index` of `message` in the next slot, which must be free.
    fn publish(&mut self, message: &[u64], index: usize) {
        let offset_words = index * SLOT_PAYLOAD_WORDS;
        let kind = match (index, layout::fragment_count(message.len())) {
            (_, 1) => Fragment::Whole,
            (0, _) => Fragment::First,
            _ => Fragment::Continuation,
        };
        let header =
            Header { seq: layout::seq_for(self.published), kind, total_words: message.len(), offset_words };
        let payload = &message[offset_words..offset_words + header.payload_words()];
        let words = self.memory.words();
        let at = self.ring.header(self.published);
        for (slot_word, &word) in words[at + 1..].iter().zip(payload) {
            // Relaxed: these stores are ordered before the header's Release store below,
            // which is what the receiver synchronises with.
            slot_word.store(word, Relaxed);
        }
        // Release: everything stored above is visible to a receiver that Acquire-loads
        // this header (`stlr` on AArch64; equivalently `dmb ishst` before a plain `str`).
        words[at].store(header.encode(), Release);
        self.published += 1;
    }

    /// Notifies the receiver if it announced that it sleeps, once per announcement.
    ///
    /// This is the sender's half of a Dekker-style handshake; the receiver's half is in
    /// [`crate::Receiver::recv`]. The sender stores headers, then loads the sleep word; the
    /// receiver stores the sleep word, then loads a header. Each side's store must be
    /// ordered before its own load, or both could miss the other's store: the receiver
    /// would sleep on a message the sender never woke it for. Release and Acquire do not
    /// order a store before a later load; a sequentially consistent fence on each side
    /// does (`dmb ish` on AArch64). The two fences are ordered one way or the other, and
    /// whichever side's fence comes second sees the other side's store.
    fn wake_if_asleep(&mut self) -> Result<(), Error> {
        if self.announced == self.published {
            return Ok(());
        }
        self.announced = self.published;
        M::Word::fence(SeqCst);
        // Relaxed: the fence above orders this load after the header stores.
        let word = self.memory.words()[self.ring.sleeping()].load(Relaxed);
        let Some(episode) = layout::sleep_episode(word).map_err(|corruption| self.close(corruption))? else {
            return Ok(());
        };
        if let Some(woken) = self.woken {
            if episode == woken {
                return Ok(());
            }
            // The receiver only counts its sleeps up, and this core sees its stores to one
            // word in order, so an episode behind the last one (modulo 2^32) is garbage.
            if episode.wrapping_sub(woken) > u32::MAX / 2 {
                return Err(self.close(Corruption::Sleeping));
            }
        }
        self.woken = Some(episode);
        self.notifications += 1;
        self.notify.notify();
        Ok(())
    }
}
