//! LMP: messages and capabilities through endpoints, to the suite itself and between the
//! suite and its children.
//!
//! A message is four words, the badge of the capability it was sent through, and at most
//! one capability, which needs the GRANT right on the endpoint capability and arrives as
//! a copy in the slot the receiver names (or is dropped if it names none). An endpoint
//! queues 16 messages; a 17th send is refused with `WouldBlock` and loses nothing. Only the
//! dispatcher an endpoint is bound to receives on it, and a receive with nothing queued
//! blocks until a send wakes it, or until the endpoint is destroyed (`DeadEndpoint`). A
//! send to an endpoint whose receiver is gone, or that has none, is `DeadEndpoint`.
//!
//! The tests to itself use libos's [`Endpoint`](libos::lmp::Endpoint) and, where a
//! capability goes back and forth, frames made from the test's RAM; the tests with
//! children give the child a badged copy of an endpoint the suite receives on, in its
//! PARENT_ENDPOINT slot (see [`crate::child::Role`] for what each child does). A receive
//! that wrongly blocked would hang the suite, so every receive here has a message coming
//! whatever the kernel does, save the one that waits for an endpoint's destruction and
//! the two the kernel must refuse before it looks for a message.

use super::family::{expect_capability, give_the_core_away, Mailbox};
use super::vspace::{page_va, read_word, write_word, Tables, SPARE_OFFSET, SPARE_SLOT};
use crate::child::{self, tag, Role, RECEIVE_FAILED};
use crate::failure::Failure;
use crate::framework::{expect_eq, expect_err, expect_ok, expect_that, scratch, Env, Outcome};
use crate::sys::{self, identify, map, retype, R, RW};
use libos::abi::cap::{CapType, Rights, PAGE_SIZE};
use libos::abi::{CapAddr, SysError};
use libos::cap::CapRef;
use libos::spawn::Exit;
use libos::Error;

/// Messages an endpoint queues (the kernel's `lmp::QUEUE`).
const QUEUE: u64 = 16;

/// Rights without GRANT: a sender holding these may send words only.
const NO_GRANT: Rights = Rights::READ.union(Rights::WRITE);

/// A one-page frame made from the test's RAM, in scratch slot `index`.
fn frame(env: &Env, index: u32) -> Result<CapAddr, Failure> {
    let at = scratch(index);
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, SPARE_OFFSET, 1, at))?;
    Ok(at)
}

/// Checks that the frame [`frame`] makes is gone (every copy of it deleted) by making
/// it again.
fn expect_frame_memory_free(env: &Env, index: u32) -> Outcome {
    expect_ok(sys::delete(scratch(index)))?;
    frame(env, index).map(drop)
}

pub fn a_message_to_itself_arrives_with_its_four_words_and_no_badge(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    expect_ok(mailbox.cap().send([1, 2, 3, 4], None))?;
    let (message, cap) = mailbox.receive()?;
    expect_eq((message.words, message.badge, cap.is_none()), ([1, 2, 3, 4], 0, true))?;
    mailbox.destroy()
}

pub fn a_message_through_a_badged_copy_carries_the_badge(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let badged = mailbox.minted(0xbad6e, Rights::ALL)?;
    expect_ok(badged.endpoint().send([5, 0, 0, 0], None))?;
    let (message, _) = mailbox.receive()?;
    expect_eq((message.words[0], message.badge), (5, 0xbad6e))
}

pub fn an_endpoint_queues_16_messages_in_order_and_refuses_the_17th(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    for i in 0..QUEUE {
        expect_ok(mailbox.cap().send([i, 0, 0, 0], None))?;
    }
    expect_err(mailbox.cap().send([QUEUE, 0, 0, 0], None), Error::Sys(SysError::WouldBlock))?;
    for i in 0..QUEUE {
        expect_eq(mailbox.receive()?.0.words[0], i)?;
    }
    // Receiving made room again.
    expect_ok(mailbox.cap().send([99, 0, 0, 0], None))?;
    expect_eq(mailbox.receive()?.0.words[0], 99)
}

pub fn a_capability_sent_to_itself_arrives_as_a_copy_in_a_new_slot(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let sent = frame(env, 0)?;
    expect_ok(mailbox.cap().send([1, 0, 0, 0], Some(CapRef(sent))))?;
    let (_, copy) = expect_capability(mailbox.receive()?)?;
    expect_that(copy.0.addr() != sent, format_args!("the copy in a slot of its own"))?;
    expect_eq(expect_ok(identify(copy.0.addr()))?, expect_ok(identify(sent))?)
}

pub fn sending_a_capability_needs_the_grant_right(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let sender = mailbox.minted(0, NO_GRANT)?;
    let sent = frame(env, 0)?;
    let refused = sender.endpoint().send([1, 0, 0, 0], Some(CapRef(sent)));
    expect_err(refused, Error::Sys(SysError::InsufficientRights))?;
    // Words alone go through, and the refused message left nothing queued before them.
    expect_ok(sender.endpoint().send([2, 0, 0, 0], None))?;
    let (message, cap) = mailbox.receive()?;
    expect_eq((message.words[0], cap.is_none()), (2, true))
}

pub fn sending_a_capability_from_an_empty_slot_is_slot_empty(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let refused = mailbox.cap().send([1, 0, 0, 0], Some(CapRef(scratch(0))));
    expect_err(refused, Error::Sys(SysError::SlotEmpty))?;
    expect_ok(mailbox.cap().send([2, 0, 0, 0], None))?;
    expect_eq(mailbox.receive()?.0.words[0], 2)
}

pub fn a_capability_in_flight_keeps_its_object_alive(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let sent = frame(env, 0)?;
    expect_ok(mailbox.cap().send([1, 0, 0, 0], Some(CapRef(sent))))?;
    expect_ok(sys::delete(sent))?;
    // The queued copy still holds the frame's memory.
    let again = retype(env.ram, CapType::Frame, PAGE_SIZE, SPARE_OFFSET, 1, scratch(1));
    expect_err(again, SysError::RevokeFirst)?;
    let (_, copy) = expect_capability(mailbox.receive()?)?;
    drop(copy);
    frame(env, 1).map(drop)
}

pub fn capabilities_queued_on_a_destroyed_endpoint_are_deleted(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let sent = frame(env, 0)?;
    expect_ok(mailbox.cap().send([1, 0, 0, 0], Some(CapRef(sent))))?;
    mailbox.destroy()?;
    expect_frame_memory_free(env, 0)
}

pub fn a_capability_received_without_a_slot_is_dropped(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let sent = frame(env, 0)?;
    expect_ok(mailbox.cap().send([1, 0, 0, 0], Some(CapRef(sent))))?;
    let received = expect_ok(sys::receive(mailbox.cap().0.addr(), None))?;
    expect_eq((received.words[0], received.cap_delivered), (1, false))?;
    expect_frame_memory_free(env, 0)
}

pub fn a_receive_into_an_occupied_slot_is_slot_occupied_and_keeps_the_message(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let sent = frame(env, 0)?;
    expect_ok(mailbox.cap().send([1, 0, 0, 0], Some(CapRef(sent))))?;
    // The sent frame's own slot is not empty.
    expect_err(sys::receive(mailbox.cap().0.addr(), Some(sent)), SysError::SlotOccupied)?;
    let (message, copy) = expect_capability(mailbox.receive()?)?;
    expect_eq((message.words[0], expect_ok(identify(copy.0.addr()))?), (1, expect_ok(identify(sent))?))
}

pub fn an_endpoint_is_bound_to_one_receiver_once(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let again = sys::bind(mailbox.cap().0.addr(), libos::abi::cap::slot::DISPATCHER);
    expect_err(again, SysError::IllegalOperation)
}

pub fn an_endpoint_nobody_is_bound_to_takes_no_messages(_env: &Env) -> Outcome {
    let unbound = Mailbox::unbound()?;
    expect_err(unbound.cap().send([1, 0, 0, 0], None), Error::Sys(SysError::DeadEndpoint))?;
    // Nor does anyone receive on it (refused at once, not blocked).
    expect_err(sys::receive(unbound.cap().0.addr(), None), SysError::IllegalOperation)
}

pub fn a_child_fills_its_parents_queue_until_the_17th_send_would_block(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(0xf111, Rights::ALL)?;
    let child = child::spawn(Role::FillParentQueue, 0, Some(given.endpoint()))?;
    let filled = (QUEUE << 8) | SysError::WouldBlock.code();
    expect_eq(expect_ok(child.wait())?, Exit::Exited(filled))?;
    for i in 0..QUEUE {
        let (message, _) = mailbox.receive()?;
        expect_eq((message.words[0], message.words[1], message.badge), (tag::QUEUED, i, 0xf111))?;
    }
    // The queue is empty again: the next message is the suite's own.
    expect_ok(mailbox.cap().send([7, 0, 0, 0], None))?;
    expect_eq(mailbox.receive()?.0.words[0], 7)?;
    expect_ok(child.reclaim())
}

pub fn a_child_blocked_in_receive_is_woken_by_its_parents_message(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::AwaitMessage, 0, Some(given.endpoint()))?;
    let (message, endpoint) = expect_capability(mailbox.receive()?)?;
    expect_eq((message.words[0], message.badge), (tag::ENDPOINT, 1))?;
    give_the_core_away();
    expect_ok(endpoint.endpoint().send([0x600d, 0, 0, 0], None))?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(0x600d))?;
    expect_ok(child.reclaim())
}

pub fn a_parent_cannot_receive_on_its_childs_endpoint(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::AwaitMessage, 0, Some(given.endpoint()))?;
    let (_, endpoint) = expect_capability(mailbox.receive()?)?;
    expect_err(sys::receive(endpoint.0.addr(), None), SysError::IllegalOperation)?;
    expect_ok(endpoint.endpoint().send([3, 0, 0, 0], None))?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(3))?;
    expect_ok(child.reclaim())
}

/// Round trips of [`a_ping_pong_with_a_reply_endpoint_in_each_request_makes_8_round_trips`].
const ROUNDS: u64 = 8;

pub fn a_ping_pong_with_a_reply_endpoint_in_each_request_makes_8_round_trips(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(0x5e, Rights::ALL)?;
    let child = child::spawn(Role::Serve, 0, Some(given.endpoint()))?;
    let (_, server) = expect_capability(mailbox.receive()?)?;
    for round in 1..=ROUNDS {
        // Each request brings its own reply endpoint, badged with the round, so the answer
        // says which request it answers.
        let reply = mailbox.minted(round, Rights::ALL)?;
        expect_ok(server.endpoint().send([tag::PING, round * 10, 0, 0], Some(reply.0)))?;
        drop(reply);
        let (answer, _) = mailbox.receive()?;
        expect_eq((answer.words[0], answer.words[1], answer.badge), (tag::PONG, round * 10, round))?;
    }
    expect_ok(server.endpoint().send([tag::STOP, 0, 0, 0], None))?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(ROUNDS))?;
    expect_ok(child.reclaim())
}

pub fn a_frame_from_a_child_maps_in_the_parent_and_holds_what_the_child_wrote(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let written = 0x5eed_f4a3;
    let child = child::spawn(Role::SendFrame, written, Some(given.endpoint()))?;
    let (message, frame) = expect_capability(mailbox.receive()?)?;
    expect_eq(message.words[0], tag::FRAME)?;
    // The child has ended; what it made lives on until it is reclaimed.
    expect_eq(expect_ok(child.wait())?, Exit::Exited(0))?;
    let t = Tables::build(env)?;
    expect_ok(map(t.l3, 0, frame.0.addr(), R, 0, 1))?;
    // SAFETY: page 0 of the tables was just mapped readable, to a frame nothing else uses.
    expect_eq(unsafe { read_word(page_va(0)) }, u64::from(written))?;
    drop(frame);
    expect_ok(child.reclaim())
}

pub fn a_frame_sent_to_a_child_blocked_in_receive_is_read_by_the_child(env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::AwaitFrame, 0, Some(given.endpoint()))?;
    let (_, endpoint) = expect_capability(mailbox.receive()?)?;
    let t = Tables::build(env)?;
    let sent = frame(env, SPARE_SLOT)?;
    expect_ok(map(t.l3, 0, sent, RW, 0, 1))?;
    let written = 0x0dd_ba11_u64;
    // SAFETY: page 0 of the tables was just mapped writable, to a frame nothing else uses.
    unsafe { write_word(page_va(0), written) };
    give_the_core_away();
    expect_ok(endpoint.endpoint().send([tag::FRAME, 0, 0, 0], Some(CapRef(sent))))?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(written))?;
    expect_ok(child.reclaim())
}

pub fn sending_to_an_endpoint_whose_receiver_has_exited_is_dead_endpoint(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::SendEndpointAndExit, 5, Some(given.endpoint()))?;
    let (_, endpoint) = expect_capability(mailbox.receive()?)?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(5))?;
    expect_err(endpoint.endpoint().send([1, 0, 0, 0], None), Error::Sys(SysError::DeadEndpoint))?;
    // Reclaiming the child takes the endpoint, and so the suite's copy of it, along.
    expect_ok(child.reclaim())?;
    expect_err(identify(endpoint.0.addr()), SysError::SlotEmpty)
}

pub fn a_receiver_blocked_on_an_endpoint_that_is_destroyed_wakes_with_dead_endpoint(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::AwaitMessage, 0, Some(given.endpoint()))?;
    let (_, endpoint) = expect_capability(mailbox.receive()?)?;
    give_the_core_away();
    // The suite's copy is the way to the child's original: revoking through it deletes
    // that, and deleting the copy then deletes the last capability, destroying the object.
    expect_ok(endpoint.0.revoke())?;
    expect_ok(endpoint.0.delete())?;
    let woken = RECEIVE_FAILED | SysError::DeadEndpoint.code();
    expect_eq(expect_ok(child.wait())?, Exit::Exited(woken))?;
    expect_ok(child.reclaim())
}

pub fn a_child_holding_its_parents_endpoint_without_grant_sends_words_only(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(3, NO_GRANT)?;
    let child = child::spawn(Role::SendWithoutGrant, 0, Some(given.endpoint()))?;
    let refused = SysError::InsufficientRights.code();
    expect_eq(expect_ok(child.wait())?, Exit::Exited(refused))?;
    let (message, cap) = mailbox.receive()?;
    expect_eq((message.words[0], message.badge, cap.is_none()), (2, 3, true))?;
    expect_ok(child.reclaim())
}
