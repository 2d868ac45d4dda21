//! DISPATCHER_KILL on children: a child ends at once, blocked, running or stopped by a
//! fault, with a KILLED notice; a child that has already ended is left as it is.
//!
//! Killing a child that has exited or been killed already is accepted (the kernel
//! answers success) and does nothing: no second notice follows the first. The tests see
//! that by sending a message of their own to the child's exit endpoint, which is bound to
//! the suite, and receiving it: had the kill sent a notice, the notice would have come
//! first. A child stopped by a fault has not ended (its parent may run it again), so
//! killing it is what ends it.

use super::family::{expect_capability, expect_fault, give_the_core_away, Mailbox};
use crate::child::{self, tag, FaultKind, Role, Spawned};
use crate::framework::{expect_eq, expect_err, expect_ok, Env, Outcome};
use libos::abi::cap::Rights;
use libos::abi::SysError;
use libos::spawn::Exit;
use libos::Error;

/// The words of the suite's own message on an exit endpoint.
const MARKER: [u64; 4] = [0x3a2c, 0xe2, 0, 0];

/// Expects no notice to be waiting on `child`'s exit endpoint.
fn expect_no_second_notice(child: &Spawned) -> Outcome {
    let exit_endpoint = expect_ok(child.exit_endpoint())?;
    expect_ok(exit_endpoint.send(MARKER, None))?;
    expect_eq(expect_ok(exit_endpoint.receive())?.words, MARKER)
}

pub fn killing_a_child_blocked_in_receive_ends_it_and_its_endpoint_is_dead(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::AwaitMessage, 0, Some(given.endpoint()))?;
    let (_, endpoint) = expect_capability(mailbox.receive()?)?;
    give_the_core_away();
    expect_ok(child.kill())?;
    expect_eq(expect_ok(child.wait())?, Exit::Killed)?;
    expect_err(endpoint.endpoint().send([1, 0, 0, 0], None), Error::Sys(SysError::DeadEndpoint))?;
    expect_ok(child.reclaim())
}

pub fn killing_a_running_child_ends_it_with_a_killed_notice(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::Spin, 0, Some(given.endpoint()))?;
    // The child is spinning (runnable) once it has said so.
    expect_eq(mailbox.receive()?.0.words[0], tag::SPINNING)?;
    expect_ok(child.kill())?;
    expect_eq(expect_ok(child.wait())?, Exit::Killed)?;
    expect_ok(child.reclaim())
}

pub fn killing_an_exited_child_is_accepted_and_changes_nothing(_env: &Env) -> Outcome {
    let child = child::spawn(Role::Exit, 7, None)?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(7))?;
    expect_ok(child.kill())?;
    expect_no_second_notice(&child)?;
    expect_ok(child.reclaim())
}

pub fn killing_a_child_stopped_by_a_fault_ends_it_with_a_killed_notice(_env: &Env) -> Outcome {
    let child = child::spawn(Role::Fault, FaultKind::Undefined as u32, None)?;
    expect_fault(expect_ok(child.wait())?)?;
    // Stopped, not ended: the kill is what ends it, and says so.
    expect_ok(child.kill())?;
    expect_eq(expect_ok(child.wait())?, Exit::Killed)?;
    expect_no_second_notice(&child)?;
    expect_ok(child.reclaim())
}

pub fn killing_a_child_twice_sends_one_notice(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::Spin, 0, Some(given.endpoint()))?;
    expect_eq(mailbox.receive()?.0.words[0], tag::SPINNING)?;
    expect_ok(child.kill())?;
    expect_ok(child.kill())?;
    expect_eq(expect_ok(child.wait())?, Exit::Killed)?;
    expect_no_second_notice(&child)?;
    expect_ok(child.reclaim())
}
