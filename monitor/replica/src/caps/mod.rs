//! # Capabilities across cores: the protocol the monitors run
//!
//! Every core's CPU driver keeps its own capability database, and nothing in it can be
//! reached from another core (`docs/DESIGN.md` §1, §5). Yet a program can send a
//! capability to a program on another core, and then revoking it, retyping it or deleting
//! its last copy are questions about *every* core. This module is how the monitors answer
//! them: [`CapNode`], one per core, a state machine that its monitor feeds with requests
//! from its programs ([`CapNode::request`]) and messages from other monitors
//! ([`CapNode::handle`]). Each call returns the [`Effects`] of that one event: messages to
//! send, and requests that are finished. What the node does to its own core's capabilities
//! it does through the [`LocalKernel`] trait, which the monitor implements with its Kernel
//! capability and the model checker with a few maps.
//!
//! The protocol is written out for a reader, message by message and race by race, in
//! `docs/capability-protocol.md`. In one paragraph: every object has an *owner* core, and
//! every operation that reaches beyond one core is decided there, in order. A copy to
//! another core travels from the owner; a retype is granted by the owner; a revoke is
//! marked and then committed on every core the owner lists; when the owner's last copy
//! goes, ownership moves to a core that still holds one, and the old owner forwards what
//! still reaches it until everyone has heard; when the last copy anywhere goes, the owner
//! reclaims the object, once.
//!
//! ## The pieces
//!
//! - this file: the vocabulary ([`ObjectKey`], [`Slot`], [`Request`], [`ProtocolError`],
//!   [`Effects`]);
//! - [`LocalKernel`] (`kernel.rs`): what the protocol asks of its own core's CPU driver;
//! - [`Msg`] (`wire.rs`): the messages between monitors, and their checked encoding;
//! - [`CapNode`] (`node/`): the state machine; `node/owner.rs` is the owner's half;
//! - `model/` (tests only): a model checker that runs these nodes over every interleaving
//!   of their messages, and checks the invariants the document states.
//!
//! ## Principles
//!
//! - **One core orders each object.** Anything that creates or checks relations across
//!   cores is decided by the owner, one operation at a time. Concurrent retypes are a queue
//!   at the owner, not a vote, so exactly one of them can win.
//! - **The owner's books may say too much, never too little.** The owner lists the cores
//!   that may hold copies or descendants. A core goes on the list *before* anything reaches
//!   it and comes off only when it says it holds nothing, so a decision made from the list
//!   ("no descendants anywhere", "no copy left") is safe; the price of a stale entry is a
//!   message too many.
//! - **FIFO channels are part of the argument.** A copy the owner sent before a mark is
//!   installed before the mark arrives; an acknowledgement sent after a core's last message
//!   to the old owner arrives after that message. The code says so where it relies on it.
//! - **No I/O, no clock, no threads, no hidden state.** One event in, its effects out. That
//!   is what lets the model checker run the very code the monitor runs.
//! - **A peer may be wrong.** [`Msg::decode`] checks every word, and a message that no
//!   correct peer sends in the current state is reported in [`Effects::ignored`] and
//!   changes nothing.
//!
//! ## What it deliberately does not do
//!
//! - It neither sends nor receives: the monitor owns the channels and adds its own tag word
//!   in front of each message.
//! - It does not know what a CNode is. Slots are opaque [`Slot`] numbers the monitor gives
//!   and gets back, and a retype's arguments stay with the monitor, which finds them by the
//!   request's token.
//! - It sees only what reaches the monitor: copies and moves to other cores, and what the
//!   CPU driver refused with "retry through monitor". Everything else about a capability
//!   without relations on other cores is the CPU driver's business alone.
//! - Retype is refused while the object has descendants *anywhere*: coarser than the CPU
//!   driver's own rule, which lets disjoint parts of one RAM region be retyped in turn.
//! - Descendants are objects of their own: deleting the last copy of a RAM capability does
//!   not delete what was made from it (as in the CPU driver and in seL4).
//! - It does not survive a core that stops answering: an operation waits for every core it
//!   involves. A core that started is assumed to keep running.

mod kernel;
#[cfg(test)]
mod model;
mod node;
mod wire;

pub use kernel::{LocalKernel, Relations};
pub use node::{CapNode, ObjectView, Standing};
pub use wire::Msg;

use crate::CoreId;
use alloc::vec::Vec;

/// The object a capability names. Every copy of an object, on every core, has the same key,
/// so the key is how monitors name an object to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The capability type's code (`abi::CapType as u8`); never 0, the null capability.
    pub type_code: u8,
    /// The object's physical base address (0 for objects without memory).
    pub base: u64,
    /// The object's size in bytes (0 for objects without memory).
    pub size_bytes: u64,
}

/// A capability's rights: the `abi::Rights` bits, carried without interpretation. A copy
/// travels with the rights the program asked for; the monitor has already checked that
/// they are within the source capability's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rights(pub u8);

/// A capability slot on one core, named however that core's monitor names slots (for
/// example a domain and a capability address packed into one word). The protocol only
/// hands slots back to the [`LocalKernel`] of the core they came from, and compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub u64);

/// A refusal from a CPU driver: its `SysError` code, passed through unchanged so the
/// program sees the kernel's own reason (`SlotOccupied`, `RangeError`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelError(pub u64);

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolError {
    /// The slot the request names holds no capability to the object on this core (or, for a
    /// revoke, stopped holding one before the revoke could start).
    NotHeld,
    /// The destination core is this core or is not in the system.
    BadCore,
    /// A revoke of the object was ordered first: it deleted, or is deleting, the
    /// capability this request works on.
    Revoked,
    /// Retype refused: the object has descendants on some core (perhaps made by a
    /// concurrent retype that was granted first).
    DescendantsExist,
    /// The destination core's CPU driver refused to install the copy.
    DestinationRefused(KernelError),
    /// This core's CPU driver refused the last step (the retype itself, a delete).
    Kernel(KernelError),
}

/// What a program asks its monitor to do with a capability it holds in `slot`/`from`.
/// The CPU driver sent the program here because the capability has (or may get) relations
/// on other cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// Put a copy with `rights` into slot `dest` on core `to`.
    Copy { obj: ObjectKey, from: Slot, rights: Rights, to: CoreId, dest: Slot },
    /// A copy, then delete the source: the capability changes cores.
    Move { obj: ObjectKey, from: Slot, rights: Rights, to: CoreId, dest: Slot },
    /// Delete this copy; if it was the last one anywhere, the object is reclaimed.
    Delete { obj: ObjectKey, slot: Slot },
    /// Delete every other copy and every descendant, on every core, keeping this one.
    Revoke { obj: ObjectKey, slot: Slot },
    /// Make objects from this (RAM) capability; the arguments stay with the monitor, which
    /// the [`LocalKernel::retype`] call finds by the request's token.
    Retype { obj: ObjectKey, slot: Slot },
}

impl Request {
    /// The object the request is about.
    pub fn object(&self) -> ObjectKey {
        match *self {
            Request::Copy { obj, .. }
            | Request::Move { obj, .. }
            | Request::Delete { obj, .. }
            | Request::Revoke { obj, .. }
            | Request::Retype { obj, .. } => obj,
        }
    }

    /// The program's slot the request works through.
    pub fn slot(&self) -> Slot {
        match *self {
            Request::Copy { from, .. } | Request::Move { from, .. } => from,
            Request::Delete { slot, .. } | Request::Revoke { slot, .. } | Request::Retype { slot, .. } => {
                slot
            }
        }
    }

    /// The core a copy or move goes to.
    pub fn destination(&self) -> Option<CoreId> {
        match *self {
            Request::Copy { to, .. } | Request::Move { to, .. } => Some(to),
            _ => None,
        }
    }
}

/// A finished request: the token the monitor gave with it, and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Completion {
    pub token: u64,
    pub result: Result<(), ProtocolError>,
}

/// A message that was dropped because no correct peer sends it in this state. The monitor
/// reports the sender; the node's state is as if the message had never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ignored {
    pub from: CoreId,
    pub reason: IgnoreReason,
}

/// Why a message was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// It names (or comes from) a core that is not in the system, or this core itself.
    UnknownCore,
    /// An answer to a request, copy, probe, mark, commit or handover this core is not
    /// waiting for.
    Unexpected,
    /// Ownership news for an object this core owns, or a copy sent by a core that is not
    /// the object's owner as far as this core knows.
    NotFromOwner,
    /// Too many messages are already held back waiting for an ownership handover.
    TooManyHeld,
}

/// What one event caused: messages for the monitor to send, in order, and finished
/// requests. Sending the messages in the order given matters: the protocol relies on each
/// channel being FIFO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub sends: Vec<(CoreId, Msg)>,
    pub completions: Vec<Completion>,
    pub ignored: Vec<Ignored>,
}
