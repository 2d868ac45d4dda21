//! What the tests with children share: endpoints the suite makes, capabilities held in
//! libos's slots, the checks on how a child ended, and a way to let children run.
//!
//! Each holder gives back what it holds when dropped (the endpoint destroyed, the slot
//! emptied and freed), so a test that ends at a failed expectation leaves nothing of
//! libos's behind to make the next test fail; [`crate::child::Spawned`] does the same
//! for children. A test still gives things back explicitly where the giving back is part
//! of what it checks.

use crate::failure::Failure;
use crate::framework::{expect_eq, expect_ok, failure_at, Outcome};
use alloc::boxed::Box;
use libos::abi::cap::Rights;
use libos::cap::{CapRef, EndpointCap};
use libos::lmp::{Endpoint, Message};
use libos::spawn::Exit;

/// An endpoint the suite made (and, but for [`Mailbox::unbound`], receives on), destroyed
/// when dropped.
pub struct Mailbox {
    cap: EndpointCap,
    endpoint: Option<Endpoint>,
}

impl Mailbox {
    #[track_caller]
    pub fn new() -> Result<Mailbox, Failure> {
        let endpoint = expect_ok(Endpoint::for_self())?;
        Ok(Mailbox { cap: endpoint.cap(), endpoint: Some(endpoint) })
    }

    /// An endpoint bound to no one: nobody receives on it.
    #[track_caller]
    pub fn unbound() -> Result<Mailbox, Failure> {
        let endpoint = expect_ok(Endpoint::new())?;
        Ok(Mailbox { cap: endpoint.cap(), endpoint: Some(endpoint) })
    }

    /// The unbadged endpoint capability (all rights).
    pub fn cap(&self) -> EndpointCap {
        self.cap
    }

    /// A copy of the endpoint capability with `badge` and `rights`, for a sender.
    #[track_caller]
    pub fn minted(&self, badge: u64, rights: Rights) -> Result<Held, Failure> {
        let slot = expect_ok(libos::cspace::alloc_slot())?;
        let held = Held(slot);
        expect_ok(self.cap().0.mint_to(slot, rights, badge))?;
        Ok(held)
    }

    /// Waits for the next message, and takes charge of the capability that came with it.
    #[track_caller]
    pub fn receive(&self) -> Result<(Message, Option<Held>), Failure> {
        let message = expect_ok(self.cap().receive())?;
        Ok((message, message.cap.map(Held)))
    }

    /// Destroys the endpoint now, checking that it could be.
    #[track_caller]
    pub fn destroy(mut self) -> Outcome {
        match self.endpoint.take() {
            Some(endpoint) => expect_ok(endpoint.destroy()),
            None => Ok(()),
        }
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        if let Some(endpoint) = self.endpoint.take() {
            // Reached only when the test failed already; the runner reports what leaked.
            let _ = endpoint.destroy();
        }
    }
}

/// A capability in a slot from libos's slot allocator: the slot is emptied and given back
/// when this is dropped.
pub struct Held(pub CapRef);

impl Held {
    pub fn endpoint(&self) -> EndpointCap {
        EndpointCap(self.0)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // The slot may be empty already (its capability revoked with a child): fine.
        libos::cspace::discard(self.0);
    }
}

/// Expects a message carrying a capability, and gives the capability.
#[track_caller]
pub fn expect_capability(received: (Message, Option<Held>)) -> Result<(Message, Held), Failure> {
    let (message, cap) = received;
    match cap {
        Some(cap) => Ok((message, cap)),
        None => Err(failure_at(format_args!("a capability with {message:?}"))),
    }
}

/// What a child's fault notice says.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub syndrome: u64,
    pub address: u64,
    pub pc: u64,
}

/// Expects `exit` to be a fault, and gives what its notice says.
#[track_caller]
pub fn expect_fault(exit: Exit) -> Result<Fault, Failure> {
    match exit {
        Exit::Faulted { syndrome, address, pc } => Ok(Fault { syndrome, address, pc }),
        other => Err(failure_at(format_args!("a fault, got {other:?}"))),
    }
}

/// A heap object made before a child is started, to check once the child is gone that
/// the suite's own memory is as it was.
///
/// Both ends go through `black_box`: otherwise the optimiser, seeing that nothing else
/// can reach the object, may keep the value in a register or leave the allocation out.
pub struct Canary(Box<u64>);

/// What a canary holds.
const CANARY: u64 = 0xca7a_2157_ca7a_2157;

impl Canary {
    pub fn new() -> Canary {
        Canary(core::hint::black_box(Box::new(CANARY)))
    }

    #[track_caller]
    pub fn check(&self) -> Outcome {
        expect_eq(*core::hint::black_box(&*self.0), CANARY)
    }
}

/// Gives the core away a few times: long enough for a runnable child on this core to run
/// until it blocks or ends (or, spinning, until the tick takes the core back).
pub fn give_the_core_away() {
    for _ in 0..3 {
        libos::syscall::yield_now();
    }
}
