//! Capabilities across cores: sending one to a program on another core, and deleting,
//! revoking and retyping one whose copies or descendants may be on other cores.
//!
//! A capability that has been sent to another core carries the CPU driver's
//! remote-relations mark, and the CPU driver then refuses a delete of this core's last
//! copy, a revoke and a retype with `RetryThroughMonitor`: only the monitors, together,
//! know what else exists. The functions here try the CPU driver first and, when it says
//! so, attach the capability to this core's monitor (`monitor::attach`) and ask the monitor
//! to run the operation with the others (`docs/capability-protocol.md`). A capability with
//! no relations elsewhere never costs a message.
//!
//! Sending goes by *mailbox*: the sender names the destination core and a number the
//! receiver knows (agreed however the two programs like: an argument, a message); the copy
//! waits in the destination core's monitor under that number until the receiver collects
//! it with [`receive`]. [`send`] returns once the copy is in the mailbox.
//!
//! Only RAM and frame capabilities travel between cores.

use crate::cap::CapRef;
use crate::error::Error;
use crate::monitor::{self, op};
use abi::cap::{CapType, Rights};
use abi::SysError;
use core::sync::atomic::{AtomicU64, Ordering};

/// Whether the sender keeps its capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Copy,
    /// The capability changes cores: the sender's copy is deleted once the other arrived.
    Move,
}

/// Sends a copy of `cap` with `rights` (within its own) to mailbox `mailbox` on `core`.
pub fn send(cap: CapRef, core: u64, mailbox: u64, rights: Rights, mode: Mode) -> Result<(), Error> {
    let nonce = attach(cap)?;
    let moving = u64::from(mode == Mode::Move);
    monitor::call([op::CAP_COPY | core << 8, nonce, mailbox, rights.bits() | moving << 8])?;
    if mode == Mode::Move {
        delete(cap)?;
    }
    Ok(())
}

/// The capability sent to this core under `mailbox`, waiting for it if it has not arrived:
/// in a fresh slot from the slot allocator.
pub fn receive(mailbox: u64) -> Result<CapRef, Error> {
    match monitor::call([op::CAP_RECEIVE, mailbox, 0, 0])? {
        (_, Some(cap)) => Ok(cap),
        (_, None) => Err(Error::Monitor(monitor::status::FAILED)),
    }
}

/// The capability sent to this core under `mailbox` if it is there now;
/// `Error::Monitor(status::NOT_FOUND)` if not (never sent, not yet arrived, or deleted by a
/// revoke before it was collected).
pub fn try_receive(mailbox: u64) -> Result<CapRef, Error> {
    match monitor::call([op::CAP_RECEIVE, mailbox, 1, 0])? {
        (_, Some(cap)) => Ok(cap),
        (_, None) => Err(Error::Monitor(monitor::status::FAILED)),
    }
}

/// Empties `cap`'s slot; if it held the last copy of its object anywhere, the object is
/// destroyed (on whichever core that is decided). The slot is not returned to the
/// allocator, as with [`CapRef::delete`].
pub fn delete(cap: CapRef) -> Result<(), Error> {
    match cap.delete() {
        Err(Error::Sys(SysError::RetryThroughMonitor)) => {
            let nonce = attach(cap)?;
            // The monitor's attached copy makes this one no longer the core's last.
            cap.delete()?;
            monitor::call([op::CAP_DELETE, nonce, 0, 0]).map(drop)
        }
        other => other,
    }
}

/// Deletes every other copy of `cap`'s object and everything made from it, on every core;
/// `cap` stays.
pub fn revoke(cap: CapRef) -> Result<(), Error> {
    match cap.revoke() {
        Err(Error::Sys(SysError::RetryThroughMonitor)) => {
            let nonce = attach(cap)?;
            let kept = monitor::call([op::CAP_REVOKE, nonce, 0, 0])?.1;
            // The revoke deleted this copy with the others: put the one handed back in its
            // place.
            let kept = kept.ok_or(Error::Monitor(monitor::status::FAILED))?;
            let moved = put_back(kept, cap);
            crate::cspace::free_slot(kept);
            moved
        }
        other => other,
    }
}

/// Makes one object of `ty` (`object_bytes` for types whose size varies) from the region
/// `offset` bytes into `cap`, in the empty slot `dest`. Of concurrent retypes of copies of
/// one object on different cores, exactly one succeeds; the others fail with
/// `Error::Monitor(status::DESCENDANTS_EXIST)`.
pub fn retype_one(
    cap: CapRef,
    ty: CapType,
    object_bytes: u64,
    offset: u64,
    dest: CapRef,
) -> Result<(), Error> {
    match cap.retype(ty, object_bytes, offset, 1, dest) {
        Err(Error::Sys(SysError::RetryThroughMonitor)) => {
            let nonce = attach(cap)?;
            let made = monitor::call([op::CAP_RETYPE, nonce, ty as u64 | offset << 8, object_bytes])?.1;
            let made = made.ok_or(Error::Monitor(monitor::status::FAILED))?;
            let moved = put_back(made, dest);
            crate::cspace::free_slot(made);
            moved
        }
        other => other,
    }
}

/// `(reclaimed, records, outstanding)` of this core's monitor (see `op::CAP_INFO`).
pub fn info() -> Result<(u64, u64, u64), Error> {
    let ([reclaimed, records, outstanding], _) = monitor::call([op::CAP_INFO, 0, 0, 0])?;
    Ok((reclaimed, records, outstanding))
}

/// Moves the capability in `from` into the empty slot `to`.
fn put_back(from: CapRef, to: CapRef) -> Result<(), Error> {
    from.copy_to(to)?;
    from.delete()
}

/// Attaches `cap` to this core's monitor under a fresh nonce.
pub(crate) fn attach(cap: CapRef) -> Result<u64, Error> {
    let nonce = fresh_nonce(cap);
    monitor::attach(nonce, cap)?;
    Ok(nonce)
}

/// A number hard to guess and never repeated within this program, for attachments and
/// mailboxes: whoever knows an attachment's nonce may use the capability through the
/// monitor.
pub(crate) fn fresh_nonce(cap: CapRef) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    crate::clock::now().wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ count.rotate_left(40) ^ cap.raw()
}
