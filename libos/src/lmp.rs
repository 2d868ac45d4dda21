//! LMP: same-core messages through endpoint capabilities.
//!
//! An endpoint is a kernel object with a short queue of messages for the one dispatcher
//! bound to receive on it (`ENDPOINT_BIND`). A message is four words and, optionally, a
//! copy of one capability (`ENDPOINT_SEND`); the receiver also learns the badge of the
//! endpoint capability it was sent through, which is how it tells senders apart: give
//! each sender its own badged copy, minted from the unbadged original. Sending never
//! blocks (a full queue answers `WouldBlock`); receiving blocks until a message comes
//! (`ENDPOINT_RECEIVE`). This is the Barrelfish LMP of `docs/DESIGN.md` §4, and the path
//! by which the kernel tells a parent that its child ended (`abi::method::exit_notice`,
//! used by [`crate::spawn`]).
//!
//! The wrappers here add only slot management: [`EndpointCap::receive`] takes a slot from
//! the slot allocator for a capability that might come with the message, and gives it
//! back if none did. [`Endpoint`] is an endpoint together with the RAM it was made from,
//! so that destroying it is one call.

#[cfg(target_os = "none")]
use crate::cap::{CapRef, DispatcherCap, EndpointCap, RamCap};
#[cfg(target_os = "none")]
use crate::error::Error;
#[cfg(target_os = "none")]
use abi::cap::{slot, CapType, ENDPOINT_BYTES};
#[cfg(target_os = "none")]
use abi::method;

/// A received message.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub words: [u64; 4],
    /// The badge of the capability it was sent through (0: the unbadged original).
    pub badge: u64,
    /// The capability that came with it, in a slot from the slot allocator that is now
    /// the receiver's to delete and free.
    pub cap: Option<CapRef>,
}

#[cfg(target_os = "none")]
impl EndpointCap {
    /// Makes `dispatcher` the one that receives on this endpoint (once per endpoint).
    pub fn bind(self, dispatcher: DispatcherCap) -> Result<(), Error> {
        self.0.invoke(method::ENDPOINT_BIND, [dispatcher.0.raw(), 0, 0, 0, 0, 0]).map(drop)
    }

    /// Queues four words and, if given, a copy of `cap` (which needs the GRANT right) for
    /// the receiver. `WouldBlock` when the queue is full: nothing is lost, try again later.
    pub fn send(self, words: [u64; 4], cap: Option<CapRef>) -> Result<(), Error> {
        let [w0, w1, w2, w3] = words;
        let cap = cap.map_or(0, CapRef::raw);
        self.0.invoke(method::ENDPOINT_SEND, [w0, w1, w2, w3, cap, 0]).map(drop)
    }

    /// Waits for the next message on this endpoint (which must be bound to the calling
    /// dispatcher).
    pub fn receive(self) -> Result<Message, Error> {
        let dest = crate::cspace::alloc_slot()?;
        let received = self.0.invoke(method::ENDPOINT_RECEIVE, [dest.raw(), 0, 0, 0, 0, 0]);
        let delivered = matches!(received, Ok(values) if values[5] == 1);
        if !delivered {
            crate::cspace::free_slot(dest);
        }
        let [w0, w1, w2, w3, badge, ..] = received?;
        Ok(Message { words: [w0, w1, w2, w3], badge, cap: delivered.then_some(dest) })
    }
}

/// An endpoint this program made, with the RAM it is made of.
#[cfg(target_os = "none")]
#[derive(Debug)]
pub struct Endpoint {
    cap: EndpointCap,
    ram: RamCap,
}

#[cfg(target_os = "none")]
impl Endpoint {
    /// A new endpoint, bound to no one yet.
    pub fn new() -> Result<Endpoint, Error> {
        let ram = crate::ram::alloc_ram(ENDPOINT_BYTES, ENDPOINT_BYTES)?;
        match ram.make(CapType::Endpoint, 0, 0) {
            Ok(cap) => Ok(Endpoint { cap: EndpointCap(cap), ram }),
            Err(e) => {
                let _ = crate::ram::free_ram(ram);
                Err(e)
            }
        }
    }

    /// A new endpoint that the calling dispatcher receives on.
    pub fn for_self() -> Result<Endpoint, Error> {
        let endpoint = Endpoint::new()?;
        match endpoint.cap.bind(DispatcherCap(CapRef(slot::DISPATCHER))) {
            Ok(()) => Ok(endpoint),
            Err(e) => {
                let _ = endpoint.destroy();
                Err(e)
            }
        }
    }

    /// The (unbadged) endpoint capability.
    pub fn cap(&self) -> EndpointCap {
        self.cap
    }

    /// Destroys the endpoint and every copy and badged copy of it (a receiver waiting on
    /// it wakes with `DeadEndpoint`), and frees its RAM and slot.
    pub fn destroy(self) -> Result<(), Error> {
        crate::ram::free_ram(self.ram)?;
        crate::cspace::free_slot(self.cap.0);
        Ok(())
    }
}
