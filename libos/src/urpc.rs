//! URPC channels between cores, on Flotilla: the `channels` crate's rings over a frame this
//! program maps, woken through a notify capability.
//!
//! The ring logic (`channels`) knows nothing of capabilities. What it needs from the system
//! is here: [`map_shared`] maps a shared frame (a URPC frame another core also maps) into
//! this address space; [`NotifyCap`] is how a sender wakes the peer's receiver (an IPI to
//! the peer core's notify port); [`SleepOn`] is how a receiver sleeps (blocked on an
//! endpoint that its core's notify port is bound to) and [`Yield`] how it passes the time
//! between polls (giving its core to the next dispatcher, never spinning: under QEMU
//! `-icount` a spinning core would keep the peer from running at all).

use crate::cap::{CapRef, EndpointCap};
use crate::error::Error;
use abi::cap::{Rights, PAGE_SIZE};
use abi::method;
use channels::{Frame, Receiver, Sender, Side};
use core::sync::atomic::AtomicU64;

/// A notify capability: invoking it wakes one port of one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifyCap(pub CapRef);

impl channels::Notify for NotifyCap {
    fn notify(&mut self) {
        // A notification that cannot be sent (the capability was deleted) leaves the peer
        // asleep; there is no one to tell, and the peer's own timeouts take over.
        let _ = self.0.invoke(method::NOTIFY_SEND, [0; 6]);
    }
}

/// Waits by yielding between polls and instead of sleeping: for a receiver with no notify
/// port, and for a sender waiting for room in the ring.
///
/// Between polls it executes `yield`, a hint that never traps on hardware and that QEMU's
/// single-threaded round-robin emulation (`-icount`) takes as "run another emulated core
/// now": the peer that must empty the ring gets to run, where a plain spin would keep it
/// waiting for this core's time slice to end. Instead of sleeping it also gives this core
/// to its next dispatcher (a system call).
#[derive(Clone, Copy, Debug, Default)]
pub struct Yield;

impl channels::Wait for Yield {
    fn pause(&mut self) {
        yield_hint();
    }

    fn sleep(&mut self) {
        yield_hint();
        crate::syscall::yield_now();
    }
}

/// `yield`: lets another emulated core run (see [`Yield`]).
pub fn yield_hint() {
    // SAFETY: `yield` is a hint with no effect on memory or registers. Not `nomem`: the
    // caller looks at shared memory next, which may have changed.
    unsafe { core::arch::asm!("yield", options(nostack, preserves_flags)) };
}

/// Sleeps by receiving on an endpoint that this core's notify port for the channel is
/// bound to: the notification arrives as a message. A message that is not a notification
/// (the endpoint may serve other senders too) also ends the sleep, which is harmless: the
/// receiver looks at its ring again and sleeps anew.
#[derive(Clone, Copy, Debug)]
pub struct SleepOn(pub EndpointCap);

impl channels::Wait for SleepOn {
    fn pause(&mut self) {
        yield_hint();
    }

    fn sleep(&mut self) {
        if let Ok(message) = self.0.receive() {
            if let Some(cap) = message.cap {
                crate::cspace::discard(cap);
            }
        }
    }
}

/// Maps `pages` pages of the shared frame `frame`, from `offset_pages` into it, readable
/// and writable, and returns them as words for a channel. The mapping stays for the life of
/// the program.
pub fn map_shared(frame: CapRef, offset_pages: u64, pages: u64) -> Result<&'static [AtomicU64], Error> {
    let bytes = pages * PAGE_SIZE;
    let va = crate::paging::with_current(|vspace| -> Result<u64, Error> {
        let va = vspace.alloc_region(bytes, PAGE_SIZE)?;
        let rights = Rights::READ.union(Rights::WRITE);
        match vspace.map_frame_pages(va, crate::cap::FrameCap(frame), offset_pages, pages, rights) {
            Ok(()) => Ok(va),
            Err(e) => {
                let _ = vspace.free_region(va, bytes);
                Err(e)
            }
        }
    })?;
    // SAFETY: the pages were just mapped readable and writable at `va` for the rest of the
    // program, and are only ever used as atomic words (by the channel endpoints).
    Ok(unsafe { core::slice::from_raw_parts(va as *const AtomicU64, (bytes / 8) as usize) })
}

/// One core's ends of a channel: it sends on one ring and receives on the other.
pub struct Channel {
    pub sender: Sender<Frame<'static>, NotifyCap>,
    pub receiver: Receiver<Frame<'static>>,
}

impl Channel {
    /// This core's ends of the channel in `words` (a whole channel frame, zeroed before
    /// either side first used it), as side `side`, waking the peer through `notify`.
    pub fn open(words: &'static [AtomicU64], side: Side, notify: NotifyCap) -> Result<Channel, Error> {
        let frame = Frame::new(words).map_err(|_| Error::BadChannelFrame)?;
        let sender = Sender::new(frame, side, notify).map_err(|_| Error::BadChannelFrame)?;
        let receiver = Receiver::new(frame, side).map_err(|_| Error::BadChannelFrame)?;
        Ok(Channel { sender, receiver })
    }
}
