//! Same-core message passing (LMP) through endpoint capabilities.
//!
//! An endpoint is a small kernel object: a queue of messages — four words, the sender's
//! badge and optionally one capability — for the one dispatcher bound to receive on it.
//! Sending never blocks: a full queue answers `WouldBlock` (back-pressure, never loss).
//! Receiving blocks until a message arrives; a sender finding the receiver waiting hands
//! the message straight to it. A reply path is simply an endpoint capability sent along.
//!
//! The endpoint holds a copy of its receiver's dispatcher capability, so the dispatcher
//! object outlives every endpoint bound to it, and a send can always tell whether the
//! receiver is still alive (`DeadEndpoint` if not). A capability in flight sits in a slot
//! inside the endpoint object, linked in the derivation database like any other copy.

use crate::caps::{ops, Capability, Cte, Slot};
use crate::dispatch::{self, Dispatcher, State};
use abi::cap::{CapType, Rights};
use abi::SysError;
use boot::PhysAddr;

/// Messages an endpoint queues.
pub const QUEUE: usize = 16;

#[repr(C)]
struct Message {
    words: [u64; 4],
    badge: u64,
    has_cap: u64,
    cap: Cte,
}

/// The endpoint object, laid over its memory.
#[repr(C)]
struct EndpointObject {
    /// A copy of the receiving dispatcher's capability (null: unbound).
    receiver: Cte,
    head: u64,
    count: u64,
    /// Capabilities that refer to this endpoint, badged or not: the object lives while any
    /// does (a badged copy is a child in the derivation database, so the last copy of one
    /// badge is not the last reference to the endpoint).
    references: u64,
    _reserved: u64,
    messages: [Message; QUEUE],
}

const _: () = assert!(core::mem::size_of::<EndpointObject>() <= abi::cap::ENDPOINT_BYTES as usize);

/// An endpoint, by the physical address of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Endpoint(PhysAddr);

impl Endpoint {
    fn object(self) -> &'static mut EndpointObject {
        // SAFETY: made only from the base of a live endpoint object; the kernel is
        // single-threaded per core.
        unsafe { &mut *crate::phys::ptr::<EndpointObject>(self.0) }
    }

    fn field_slot(self, field: *const Cte) -> Slot {
        Slot(self.0.offset(field as u64 - (self.object() as *const EndpointObject as u64)))
    }

    fn receiver_slot(self) -> Slot {
        self.field_slot(&self.object().receiver)
    }

    fn message_slot(self, index: usize) -> Slot {
        self.field_slot(&self.object().messages[index % QUEUE].cap)
    }

    fn receiver(self) -> Option<Dispatcher> {
        let cap = self.receiver_slot().cap();
        (cap.ctype == CapType::Dispatcher).then_some(Dispatcher(cap.base))
    }
}

fn endpoint_of(cap: &Capability) -> Result<Endpoint, SysError> {
    if cap.ctype != CapType::Endpoint {
        return Err(SysError::InvalidCapability);
    }
    Ok(Endpoint(cap.base))
}

/// A new capability to the endpoint `cap` names exists (made, copied or minted).
pub fn add_reference(cap: &Capability) {
    Endpoint(cap.base).object().references += 1;
}

/// A capability to the endpoint `cap` names was deleted; true if it was the last one, so
/// the object must be destroyed.
pub fn drop_reference(cap: &Capability) -> bool {
    let object = Endpoint(cap.base).object();
    object.references = object.references.saturating_sub(1);
    object.references == 0
}

/// Binds the endpoint in `endpoint` to the dispatcher in `dispatcher` as its receiver.
pub fn bind(endpoint: Slot, dispatcher: Slot) -> Result<(), SysError> {
    let ep = endpoint_of(&endpoint.cap())?;
    if dispatcher.cap().ctype != CapType::Dispatcher {
        return Err(SysError::InvalidCapability);
    }
    if ep.receiver().is_some() {
        return Err(SysError::IllegalOperation);
    }
    ops::copy(dispatcher, ep.receiver_slot())
}

/// A message as the receiver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub words: [u64; 4],
    pub badge: u64,
    pub cap_delivered: bool,
}

impl Delivery {
    /// The values a receive returns in x1..x6.
    pub fn values(&self) -> [u64; 6] {
        let [a, b, c, d] = self.words;
        [a, b, c, d, self.badge, u64::from(self.cap_delivered)]
    }
}

/// Sends four words and optionally a copy of the capability in `cap` on the endpoint in
/// `endpoint` (the badge is that capability's).
pub fn send(endpoint: Slot, words: [u64; 4], cap: Option<Slot>) -> Result<(), SysError> {
    let ep_cap = endpoint.cap();
    let ep = endpoint_of(&ep_cap)?;
    deliver(ep, words, ep_cap.word0, cap, ep_cap.rights)
}

/// Sends the kernel's own message `words` (no capability) through `endpoint`, unless the
/// same message already waits in its queue: a notification is a fact, not a count, and one
/// copy of it waiting is as good as many, which would only fill the queue that programs'
/// requests share.
pub fn send_once(endpoint: Slot, words: [u64; 4]) -> Result<(), SysError> {
    let ep_cap = endpoint.cap();
    let ep = endpoint_of(&ep_cap)?;
    let object = ep.object();
    let queued = (0..object.count as usize).any(|i| {
        let message = &object.messages[(object.head as usize + i) % QUEUE];
        message.words == words && message.badge == ep_cap.word0 && message.has_cap == 0
    });
    if queued {
        return Ok(());
    }
    deliver(ep, words, ep_cap.word0, None, ep_cap.rights)
}

fn deliver(
    ep: Endpoint,
    words: [u64; 4],
    badge: u64,
    cap: Option<Slot>,
    rights: Rights,
) -> Result<(), SysError> {
    let receiver = ep.receiver().ok_or(SysError::DeadEndpoint)?;
    if receiver.state() == State::Dead {
        return Err(SysError::DeadEndpoint);
    }
    if let Some(c) = cap {
        if !rights.contains(Rights::GRANT) {
            return Err(SysError::InsufficientRights);
        }
        if c.cap().is_null() {
            return Err(SysError::SlotEmpty);
        }
    }
    // A receiver already waiting on this endpoint takes the message directly.
    let dcb = receiver.dcb();
    if receiver.state() == State::Blocked && dcb.blocked_on == ep.0 .0 {
        let dest = (dcb.receive_slot != 0).then_some(Slot(PhysAddr(dcb.receive_slot)));
        let mut delivered = false;
        if let (Some(c), Some(d)) = (cap, dest) {
            delivered = ops::copy(c, d).is_ok();
        }
        let delivery = Delivery { words, badge, cap_delivered: delivered };
        dcb.blocked_on = 0;
        dcb.receive_slot = 0;
        dispatch::set_result(receiver, Ok(&delivery.values()));
        dispatch::make_runnable(receiver)?;
        return Ok(());
    }
    let object = ep.object();
    if object.count as usize >= QUEUE {
        return Err(SysError::WouldBlock);
    }
    let index = (object.head + object.count) as usize % QUEUE;
    let has_cap = match cap {
        Some(c) => {
            ops::copy(c, ep.message_slot(index))?;
            1
        }
        None => 0,
    };
    let message = &mut ep.object().messages[index];
    message.words = words;
    message.badge = badge;
    message.has_cap = has_cap;
    ep.object().count += 1;
    Ok(())
}

/// What a receive did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// A message was waiting.
    Message(Delivery),
    /// Nothing yet: the dispatcher now waits (its result is written when a message comes).
    Blocked,
}

/// `d` receives on the endpoint in `endpoint`; a capability that comes with the message
/// goes into the empty slot `dest` (or is dropped if there is none).
pub fn receive(d: Dispatcher, endpoint: Slot, dest: Option<Slot>) -> Result<Received, SysError> {
    let ep = endpoint_of(&endpoint.cap())?;
    if ep.receiver() != Some(d) {
        return Err(SysError::IllegalOperation);
    }
    if let Some(slot) = dest {
        if !slot.cap().is_null() {
            return Err(SysError::SlotOccupied);
        }
    }
    let object = ep.object();
    if object.count == 0 {
        let dcb = d.dcb();
        dcb.blocked_on = ep.0 .0;
        dcb.receive_slot = dest.map_or(0, |s| s.0 .0);
        dispatch::block(d);
        return Ok(Received::Blocked);
    }
    let index = object.head as usize % QUEUE;
    let message = &object.messages[index];
    let (words, badge, has_cap) = (message.words, message.badge, message.has_cap != 0);
    let mut delivered = false;
    if has_cap {
        let held = ep.message_slot(index);
        if let Some(slot) = dest {
            delivered = ops::copy(held, slot).is_ok();
        }
        ops::delete(held);
    }
    let object = ep.object();
    object.head = (object.head + 1) % QUEUE as u64;
    object.count -= 1;
    Ok(Received::Message(Delivery { words, badge, cap_delivered: delivered }))
}

/// Sends the kernel's notice of `d`'s end to its exit endpoint, if it has one.
pub fn notify_exit(d: Dispatcher, words: [u64; 4]) {
    let slot = d.exit_slot();
    let cap = slot.cap();
    if let Ok(ep) = endpoint_of(&cap) {
        // A full or dead endpoint loses the notice: the parent can still see the state.
        let _ = deliver(ep, words, cap.word0, None, Rights::NONE);
    }
}

/// The endpoint object is being destroyed: drop queued capabilities, release the
/// receiver, and wake it with `DeadEndpoint` if it was waiting here.
pub fn destroy(cap: &Capability) {
    let ep = Endpoint(cap.base);
    for i in 0..QUEUE {
        ops::delete(ep.message_slot(i));
    }
    if let Some(receiver) = ep.receiver() {
        let dcb = receiver.dcb();
        if receiver.state() == State::Blocked && dcb.blocked_on == ep.0 .0 {
            dcb.blocked_on = 0;
            dispatch::set_result(receiver, Err(SysError::DeadEndpoint));
            let _ = dispatch::make_runnable(receiver);
        }
    }
    ops::delete(ep.receiver_slot());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{world, World};
    use abi::cap::PAGE_SIZE;

    /// A receiver dispatcher (slot 10) set up with a CSpace (20) and address space (21),
    /// and an endpoint (slot 30) bound to it.
    fn receiver(w: &World) -> Dispatcher {
        w.retype(0, CapType::Dispatcher, 0, 0, 1, 10).unwrap();
        w.retype(0, CapType::L1CNode, 16 * 64, PAGE_SIZE, 1, 20).unwrap();
        w.retype(0, CapType::VNodeL0, 0, 2 * PAGE_SIZE, 1, 21).unwrap();
        w.retype(0, CapType::Endpoint, 0, 3 * PAGE_SIZE, 1, 30).unwrap();
        let d = Dispatcher(w.slot(10).cap().base);
        dispatch::setup(d, w.slot(20), w.slot(21), 0x40_0000, 0, 0, None).unwrap();
        dispatch::make_runnable(d).unwrap();
        bind(w.slot(30), w.slot(10)).unwrap();
        d
    }

    fn message(received: Received) -> Delivery {
        match received {
            Received::Message(m) => m,
            Received::Blocked => panic!("expected a message"),
        }
    }

    #[test]
    fn messages_arrive_in_order_with_the_senders_badge() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        ops::mint(w.slot(30), w.slot(31), Rights::ALL, Some(77)).unwrap();
        send(w.slot(31), [1, 2, 3, 4], None).unwrap();
        send(w.slot(30), [5, 6, 7, 8], None).unwrap();
        let first = message(receive(d, w.slot(30), None).unwrap());
        assert_eq!((first.words, first.badge), ([1, 2, 3, 4], 77));
        let second = message(receive(d, w.slot(30), None).unwrap());
        assert_eq!((second.words, second.badge), ([5, 6, 7, 8], 0));
    }

    #[test]
    fn a_full_queue_refuses_rather_than_overwrites() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        for i in 0..QUEUE as u64 {
            send(w.slot(30), [i, 0, 0, 0], None).unwrap();
        }
        assert_eq!(send(w.slot(30), [99, 0, 0, 0], None), Err(SysError::WouldBlock));
        assert_eq!(message(receive(d, w.slot(30), None).unwrap()).words[0], 0);
    }

    #[test]
    fn a_kernel_message_waits_once_however_often_it_is_sent() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        let notified = [abi::method::NOTIFIED, 3, 0, 0];
        for _ in 0..QUEUE + 4 {
            send_once(w.slot(30), notified).unwrap();
        }
        // One waits, and programs still have the rest of the queue.
        send(w.slot(30), [7, 0, 0, 0], None).unwrap();
        assert_eq!(message(receive(d, w.slot(30), None).unwrap()).words, notified);
        assert_eq!(message(receive(d, w.slot(30), None).unwrap()).words[0], 7);
        // Taken, it is queued again the next time.
        send_once(w.slot(30), notified).unwrap();
        send_once(w.slot(30), [abi::method::NOTIFIED, 4, 0, 0]).unwrap();
        assert_eq!(message(receive(d, w.slot(30), None).unwrap()).words, notified);
        assert_eq!(message(receive(d, w.slot(30), None).unwrap()).words[1], 4);
    }

    #[test]
    fn a_capability_travels_with_its_message() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 1, 40).unwrap();
        send(w.slot(30), [0; 4], Some(w.slot(40))).unwrap();
        let got = message(receive(d, w.slot(30), Some(w.slot(41))).unwrap());
        assert!(got.cap_delivered);
        assert_eq!(w.slot(41).cap().base, w.slot(40).cap().base);
        // Nothing of it stays in the endpoint: deleting both copies frees the memory.
        ops::delete(w.slot(40));
        ops::delete(w.slot(41));
        w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 1, 42).unwrap();
    }

    #[test]
    fn sending_a_capability_needs_the_grant_right() {
        let w = world(256 * 1024);
        receiver(&w);
        ops::mint(w.slot(30), w.slot(31), Rights::READ.union(Rights::WRITE), None).unwrap();
        w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 1, 40).unwrap();
        assert_eq!(send(w.slot(31), [0; 4], Some(w.slot(40))), Err(SysError::InsufficientRights));
        send(w.slot(31), [0; 4], None).unwrap();
    }

    #[test]
    fn a_waiting_receiver_is_woken_with_the_message() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        assert_eq!(receive(d, w.slot(30), None), Ok(Received::Blocked));
        assert_eq!(d.state(), State::Blocked);
        send(w.slot(30), [9, 8, 7, 6], None).unwrap();
        assert_eq!(d.state(), State::Runnable);
        assert_eq!(d.dcb().regs[..6], [0, 9, 8, 7, 6, 0]);
    }

    #[test]
    fn only_the_bound_dispatcher_receives_and_a_dead_one_gets_nothing() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        w.retype(0, CapType::Endpoint, 0, 4 * PAGE_SIZE, 1, 32).unwrap();
        assert_eq!(receive(d, w.slot(32), None), Err(SysError::IllegalOperation), "not bound to it");
        assert_eq!(send(w.slot(32), [0; 4], None), Err(SysError::DeadEndpoint), "nobody receives");
        assert_eq!(bind(w.slot(30), w.slot(10)), Err(SysError::IllegalOperation), "already bound");
        dispatch::kill(d);
        assert_eq!(send(w.slot(30), [0; 4], None), Err(SysError::DeadEndpoint));
    }

    #[test]
    fn deleting_an_endpoint_wakes_its_waiting_receiver_with_an_error() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        assert_eq!(receive(d, w.slot(30), None), Ok(Received::Blocked));
        ops::delete(w.slot(30));
        assert_eq!(d.state(), State::Runnable);
        assert_eq!(d.dcb().regs[0], SysError::DeadEndpoint.code());
    }

    #[test]
    fn deleting_the_last_capability_of_one_badge_leaves_the_endpoint_alive() {
        let w = world(256 * 1024);
        let d = receiver(&w);
        ops::mint(w.slot(30), w.slot(31), Rights::ALL, Some(9)).unwrap();
        ops::delete(w.slot(31));
        send(w.slot(30), [1, 0, 0, 0], None).unwrap();
        assert_eq!(message(receive(d, w.slot(30), None).unwrap()).words[0], 1);
        // And the other way round: a badged copy keeps it alive after the original goes.
        ops::mint(w.slot(30), w.slot(32), Rights::ALL, Some(4)).unwrap();
        ops::delete(w.slot(30));
        send(w.slot(32), [2, 0, 0, 0], None).unwrap();
        assert_eq!(message(receive(d, w.slot(32), None).unwrap()).badge, 4);
    }

    #[test]
    fn an_ending_dispatcher_notifies_its_exit_endpoint() {
        let w = world(256 * 1024);
        let parent = receiver(&w);
        w.retype(0, CapType::Dispatcher, 0, 5 * PAGE_SIZE, 1, 11).unwrap();
        let child = Dispatcher(w.slot(11).cap().base);
        ops::mint(w.slot(30), w.slot(33), Rights::ALL, Some(5)).unwrap();
        dispatch::setup(child, w.slot(20), w.slot(21), 0x40_0000, 0, 0, Some(w.slot(33))).unwrap();
        notify_exit(child, [abi::method::exit_notice::EXITED, 3, 0, 0]);
        let notice = message(receive(parent, w.slot(30), None).unwrap());
        assert_eq!(
            (notice.words[0], notice.words[1], notice.badge),
            (abi::method::exit_notice::EXITED, 3, 5)
        );
    }
}
