//! Preemption: the timer takes the core from a program that never gives it up, and a
//! program taken off the core in the middle of anything (here, a floating-point loop)
//! gets back every register it had, the FP/SIMD ones included.
//!
//! Two children and the suite itself each add up a long series in `f64` registers at the
//! same time on one core, so the 10 ms tick switches between them many times, each
//! switch saving one dispatcher's FP/SIMD registers and loading another's. The suite then
//! compares each child's sum with its own: the same code on the same numbers gives the
//! same bits, unless some register came back changed. The order of the children's
//! messages shows that they really ran interleaved: both say they started before either
//! says it is done.

use super::family::{give_the_core_away, Mailbox};
use crate::child::{self, series, tag, Role, SERIES_TERMS};
use crate::framework::{expect_eq, expect_ok, expect_that, Env, Outcome};
use alloc::vec::Vec;
use libos::abi::cap::Rights;
use libos::spawn::Exit;

/// Where the two children's series start: different sums, so that a register of one
/// turning up in the other changes its result.
const STARTS: [u32; 2] = [1, 1_000_003];

pub fn floating_point_registers_survive_preemption_between_three_programs(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let mut children = Vec::new();
    let mut given = Vec::new();
    for (badge, start) in (1..).zip(STARTS) {
        given.push(mailbox.minted(badge, Rights::ALL)?);
        let endpoint = given.last().map(|held| held.endpoint());
        children.push(child::spawn(Role::Sum, start, endpoint)?);
    }
    // The suite's own sums, while the children compute theirs.
    let expected = STARTS.map(|start| series(start, SERIES_TERMS).to_bits());
    expect_that(expected[0] != expected[1], format_args!("the two series to differ"))?;
    let mut tags = Vec::new();
    for _ in 0..2 * STARTS.len() {
        let (message, _) = mailbox.receive()?;
        let child = message.badge.wrapping_sub(1) as usize;
        expect_that(child < STARTS.len(), format_args!("a child's badge, got {}", message.badge))?;
        if message.words[0] == tag::DONE {
            expect_eq((message.words[1], message.words[2]), (u64::from(STARTS[child]), expected[child]))?;
        }
        tags.push(message.words[0]);
    }
    let first_done = tags.iter().position(|t| *t == tag::DONE);
    expect_that(first_done == Some(2), format_args!("both children to start before either ends: {tags:x?}"))?;
    for (child, bits) in children.into_iter().zip(expected) {
        expect_eq(expect_ok(child.wait())?, Exit::Exited(bits))?;
        expect_ok(child.reclaim())?;
    }
    Ok(())
}

pub fn a_child_spinning_forever_is_preempted_and_killed(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let child = child::spawn(Role::Spin, 0, Some(given.endpoint()))?;
    expect_eq(mailbox.receive()?.0.words[0], tag::SPINNING)?;
    // Each yield hands the core to the spinning child; only the tick brings it back.
    give_the_core_away();
    expect_ok(child.kill())?;
    expect_eq(expect_ok(child.wait())?, Exit::Killed)?;
    expect_ok(child.reclaim())
}
