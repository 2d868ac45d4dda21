//! The exhaustive scenarios, and the proof that the checker can fail: each scenario is
//! explored once with the protocol as written, and once with a deliberate bug that the
//! checker must find.
//!
//! Slots are numbered `10 * core + n`, so a reader can tell at a glance where a slot is.

use super::{explore, Action, Explored, Scenario, World};
use crate::caps::node::Fault;
use crate::caps::{ObjectKey, ProtocolError, Request, Rights, Slot};
use crate::CoreId;

/// A RAM region (type 1) and a frame (type 2).
const RAM: ObjectKey = ObjectKey { type_code: 1, base: 0x4000_0000, size_bytes: 0x10_0000 };
const FRAME: ObjectKey = ObjectKey { type_code: 2, base: 0x4100_0000, size_bytes: 0x1000 };
const ALL_RIGHTS: Rights = Rights(0b1111);

fn ask(token: u64, request: Request) -> Action {
    Action::Ask { token, request }
}

fn copy(obj: ObjectKey, from: u64, to: u8, dest: u64) -> Request {
    Request::Copy { obj, from: Slot(from), rights: ALL_RIGHTS, to: CoreId(to), dest: Slot(dest) }
}

fn move_to(obj: ObjectKey, from: u64, to: u8, dest: u64) -> Request {
    Request::Move { obj, from: Slot(from), rights: ALL_RIGHTS, to: CoreId(to), dest: Slot(dest) }
}

fn delete(obj: ObjectKey, slot: u64) -> Request {
    Request::Delete { obj, slot: Slot(slot) }
}

fn revoke(obj: ObjectKey, slot: u64) -> Request {
    Request::Revoke { obj, slot: Slot(slot) }
}

fn retype(obj: ObjectKey, slot: u64) -> Request {
    Request::Retype { obj, slot: Slot(slot) }
}

/// Fails unless the cores holding copies of `obj` are exactly `cores`.
fn copies_only_on(world: &World, obj: ObjectKey, cores: &[u8]) -> Result<(), String> {
    let on: Vec<u8> = (0..world.cores())
        .filter(|&c| world.kernel(c).local(obj).is_some_and(|l| !l.slots.is_empty()))
        .collect();
    if on == cores {
        Ok(())
    } else {
        Err(format!("copies of {obj:?} end on cores {on:?}, expected {cores:?}"))
    }
}

fn expect(world: &World, token: u64, allowed: &[Result<(), ProtocolError>]) -> Result<(), String> {
    match world.result(token) {
        Some(result) if allowed.contains(&result) => Ok(()),
        other => Err(format!("request {token} ended {other:?}, expected one of {allowed:?}")),
    }
}

/// Fails unless exactly one of `tokens` succeeded and the others were refused for
/// descendants.
fn one_winner(world: &World, tokens: &[u64]) -> Result<(), String> {
    let won = tokens.iter().filter(|&&token| world.result(token) == Some(Ok(()))).count();
    if won != 1 {
        return Err(format!("{won} retypes won"));
    }
    for &token in tokens {
        expect(world, token, &[Ok(()), Err(ProtocolError::DescendantsExist)])?;
    }
    Ok(())
}

fn three_retypes() -> Scenario {
    Scenario {
        name: "three cores retype copies of one RAM capability",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21))],
        script: vec![
            vec![ask(1, retype(RAM, 1))],
            vec![ask(2, retype(RAM, 11))],
            vec![ask(3, retype(RAM, 21))],
        ],
        outcome: |world| one_winner(world, &[1, 2, 3]),
    }
}

fn retypes_race_a_holder_dropping_descendants() -> Scenario {
    Scenario {
        name: "three cores retype while the core with descendants drops them",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21)), (1, retype(RAM, 11))],
        script: vec![
            vec![ask(1, retype(RAM, 1))],
            vec![Action::DropDescendants { obj: RAM }, ask(2, retype(RAM, 11))],
            vec![ask(3, retype(RAM, 21))],
        ],
        // Core 1's own retype comes after its drop, so the owner's probe finds nothing
        // there: someone always wins, and only one.
        outcome: |world| one_winner(world, &[1, 2, 3]),
    }
}

fn owner_revokes_during_copies() -> Scenario {
    Scenario {
        name: "the owner revokes while two holders copy and one deletes",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21))],
        script: vec![
            vec![ask(1, revoke(RAM, 1))],
            vec![ask(2, copy(RAM, 11, 2, 22))],
            vec![ask(3, copy(RAM, 21, 1, 12)), ask(4, delete(RAM, 21))],
        ],
        outcome: |world| {
            expect(world, 1, &[Ok(())])?;
            for token in [2, 3] {
                expect(world, token, &[Ok(()), Err(ProtocolError::Revoked), Err(ProtocolError::NotHeld)])?;
            }
            expect(world, 4, &[Ok(()), Err(ProtocolError::NotHeld)])?;
            copies_only_on(world, RAM, &[0])
        },
    }
}

fn holder_revokes_during_copies() -> Scenario {
    Scenario {
        name: "a holder revokes while the owner and another holder copy",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21))],
        script: vec![
            vec![ask(1, copy(RAM, 1, 2, 22))],
            vec![ask(2, revoke(RAM, 11))],
            vec![ask(3, copy(RAM, 21, 0, 2))],
        ],
        outcome: |world| {
            // A copy asked for after the revoke deleted its source finds the slot empty.
            for token in [1, 3] {
                expect(world, token, &[Ok(()), Err(ProtocolError::Revoked), Err(ProtocolError::NotHeld)])?;
            }
            expect(world, 2, &[Ok(())])?;
            copies_only_on(world, RAM, &[1])?;
            match world.owner(RAM) {
                Some(1) => Ok(()),
                other => Err(format!("the revoker should own what is left, not {other:?}")),
            }
        },
    }
}

fn four_cores_revoke() -> Scenario {
    Scenario {
        name: "on four cores, the owner revokes while holders copy, delete and retype",
        cores: 4,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21)), (0, copy(RAM, 1, 3, 31))],
        script: vec![
            vec![ask(1, revoke(RAM, 1))],
            vec![ask(2, copy(RAM, 11, 2, 22))],
            vec![ask(3, delete(RAM, 21))],
            vec![ask(4, retype(RAM, 31))],
        ],
        outcome: |world| {
            expect(world, 1, &[Ok(())])?;
            copies_only_on(world, RAM, &[0])?;
            if (0..world.cores()).any(|c| world.kernel(c).descendants(RAM) > 0) {
                return Err("a descendant survived the revoke".into());
            }
            Ok(())
        },
    }
}

fn last_copies_deleted_everywhere() -> Scenario {
    Scenario {
        name: "four cores delete their last copies at once",
        cores: 4,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21)), (0, copy(RAM, 1, 3, 31))],
        script: vec![
            vec![ask(1, delete(RAM, 1))],
            vec![ask(2, delete(RAM, 11))],
            vec![ask(3, delete(RAM, 21))],
            vec![ask(4, delete(RAM, 31))],
        ],
        outcome: |world| {
            for token in [1, 2, 3, 4] {
                expect(world, token, &[Ok(())])?;
            }
            copies_only_on(world, RAM, &[])
        },
    }
}

fn last_copies_deleted_with_copy_in_flight() -> Scenario {
    Scenario {
        name: "last copies deleted everywhere while the owner's copy is on its way",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21))],
        script: vec![
            vec![ask(1, copy(RAM, 1, 1, 12)), ask(2, delete(RAM, 1))],
            vec![ask(3, delete(RAM, 11))],
            vec![ask(4, delete(RAM, 21))],
        ],
        outcome: |world| {
            for token in [1, 2, 3, 4] {
                expect(world, token, &[Ok(())])?;
            }
            // The copy that was on its way is the last one, and its core owns it.
            copies_only_on(world, RAM, &[1])?;
            match world.owner(RAM) {
                Some(1) => Ok(()),
                other => Err(format!("core 1 should own the last copy, not {other:?}")),
            }
        },
    }
}

fn owner_moves_its_only_copy() -> Scenario {
    Scenario {
        name: "the owner moves its only copy while holders copy to it and delete",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21))],
        script: vec![
            vec![ask(1, move_to(RAM, 1, 2, 22))],
            vec![ask(2, copy(RAM, 11, 0, 2)), ask(3, delete(RAM, 11))],
            vec![ask(4, delete(RAM, 21))],
        ],
        outcome: |world| {
            for token in [1, 2, 3, 4] {
                expect(world, token, &[Ok(())])?;
            }
            copies_only_on(world, RAM, &[0, 2])
        },
    }
}

fn requests_chase_a_moving_owner() -> Scenario {
    Scenario {
        name: "a holder copies and retypes while every other copy is deleted",
        cores: 3,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21))],
        script: vec![
            vec![ask(1, delete(RAM, 1))],
            vec![ask(2, delete(RAM, 11))],
            vec![ask(3, copy(RAM, 21, 0, 2)), ask(4, retype(RAM, 21))],
        ],
        outcome: |world| {
            for token in [1, 2, 3, 4] {
                expect(world, token, &[Ok(())])?;
            }
            copies_only_on(world, RAM, &[0, 2])
        },
    }
}

fn two_capabilities() -> Scenario {
    Scenario {
        name: "a revoke and a retype of one capability, a move and a delete of another",
        cores: 3,
        objects: vec![(0, RAM, Slot(1)), (1, FRAME, Slot(15))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (1, copy(FRAME, 15, 2, 25))],
        script: vec![
            vec![ask(1, revoke(RAM, 1))],
            vec![ask(2, retype(RAM, 11)), ask(3, move_to(FRAME, 15, 0, 6))],
            vec![ask(4, delete(FRAME, 25))],
        ],
        outcome: |world| {
            expect(world, 1, &[Ok(())])?;
            copies_only_on(world, RAM, &[0])?;
            if (0..world.cores()).any(|c| world.kernel(c).descendants(RAM) > 0) {
                return Err("the revoke left a descendant of the RAM capability".into());
            }
            expect(world, 3, &[Ok(())])?;
            expect(world, 4, &[Ok(())])?;
            copies_only_on(world, FRAME, &[0])?;
            match world.owner(FRAME) {
                Some(0) => Ok(()),
                other => Err(format!("the frame's only holder, core 0, should own it, not {other:?}")),
            }
        },
    }
}

fn everything_at_once() -> Scenario {
    Scenario {
        name: "six requests on two capabilities at once: revoke, retype, copy, move, deletes",
        cores: 3,
        objects: vec![(0, RAM, Slot(1)), (1, FRAME, Slot(15))],
        setup: vec![
            (0, copy(RAM, 1, 1, 11)),
            (0, copy(RAM, 1, 2, 21)),
            (1, copy(FRAME, 15, 2, 25)),
            (1, copy(FRAME, 15, 0, 5)),
        ],
        script: vec![
            vec![ask(1, revoke(RAM, 1)), ask(2, move_to(FRAME, 5, 2, 26))],
            vec![ask(3, retype(RAM, 11)), ask(4, delete(FRAME, 15))],
            vec![ask(5, copy(RAM, 21, 0, 2)), ask(6, delete(FRAME, 25))],
        ],
        outcome: |world| {
            expect(world, 1, &[Ok(())])?;
            copies_only_on(world, RAM, &[0])?;
            if (0..world.cores()).any(|c| world.kernel(c).descendants(RAM) > 0) {
                return Err("the revoke left a descendant".into());
            }
            for token in [2, 4, 6] {
                expect(world, token, &[Ok(())])?;
            }
            copies_only_on(world, FRAME, &[2])?;
            match world.owner(FRAME) {
                Some(2) => Ok(()),
                other => Err(format!("the frame's only holder, core 2, should own it, not {other:?}")),
            }
        },
    }
}

fn four_cores_move_revoke_retype() -> Scenario {
    Scenario {
        name: "on four cores, the owner moves its only copy while a holder revokes, one deletes, one retypes and copies",
        cores: 4,
        objects: vec![(0, RAM, Slot(1))],
        setup: vec![(0, copy(RAM, 1, 1, 11)), (0, copy(RAM, 1, 2, 21)), (0, copy(RAM, 1, 3, 31))],
        script: vec![
            vec![ask(1, move_to(RAM, 1, 3, 32))],
            vec![ask(2, revoke(RAM, 11))],
            vec![ask(3, delete(RAM, 21))],
            vec![ask(4, retype(RAM, 31)), ask(5, copy(RAM, 31, 2, 22))],
        ],
        outcome: |world| {
            expect(world, 2, &[Ok(())])?;
            copies_only_on(world, RAM, &[1])?;
            if (0..world.cores()).any(|c| world.kernel(c).descendants(RAM) > 0) {
                return Err("a descendant survived the revoke".into());
            }
            match world.owner(RAM) {
                Some(1) => Ok(()),
                other => Err(format!("the revoker should own what is left, not {other:?}")),
            }
        },
    }
}

fn explored(scenario: Scenario) -> Explored {
    match explore(&scenario, &[]) {
        Ok(explored) => {
            println!("{}: {} states, {} end states", scenario.name, explored.states, explored.end_states);
            explored
        }
        Err(violation) => panic!("{violation}"),
    }
}

/// Explores `scenario` with `fault` and expects a violation mentioning `symptom`.
fn caught(scenario: Scenario, fault: Fault, symptom: &str) {
    match explore(&scenario, &[fault]) {
        Ok(explored) => {
            panic!("{:?} went unnoticed in {} states of {}", fault, explored.states, scenario.name)
        }
        Err(violation) => {
            println!("{fault:?} caught: {violation}");
            assert!(violation.contains(symptom), "{fault:?} caught, but not as {symptom:?}: {violation}");
        }
    }
}

#[test]
fn exactly_one_of_three_concurrent_retypes_wins() {
    explored(three_retypes());
}

#[test]
fn a_retype_is_granted_once_the_only_descendants_are_gone() {
    explored(retypes_race_a_holder_dropping_descendants());
}

#[test]
fn an_owners_revoke_deletes_copies_in_flight() {
    explored(owner_revokes_during_copies());
}

#[test]
fn a_holders_revoke_deletes_copies_in_flight_and_takes_ownership() {
    explored(holder_revokes_during_copies());
}

#[test]
fn a_revoke_on_four_cores_leaves_only_the_revokers_copy() {
    explored(four_cores_revoke());
}

#[test]
fn concurrent_last_deletes_reclaim_exactly_once() {
    explored(last_copies_deleted_everywhere());
}

#[test]
fn no_reclaim_while_a_copy_is_in_flight() {
    explored(last_copies_deleted_with_copy_in_flight());
}

#[test]
fn ownership_moves_with_the_owners_only_copy_and_nothing_is_lost() {
    explored(owner_moves_its_only_copy());
}

#[test]
fn requests_reach_the_owner_however_often_it_moves() {
    explored(requests_chase_a_moving_owner());
}

#[test]
fn operations_on_two_capabilities_interleave_safely() {
    explored(two_capabilities());
}

#[test]
fn many_operations_on_two_capabilities_interleave_safely() {
    explored(everything_at_once());
}

#[test]
fn ownership_moves_during_a_revoke_on_four_cores() {
    explored(four_cores_move_revoke_retype());
}

#[test]
fn checker_catches_granting_every_retype() {
    caught(three_retypes(), Fault::GrantEveryRetype, "two retypes won");
}

#[test]
fn checker_catches_a_revoke_that_ignores_copies_in_flight() {
    caught(owner_revokes_during_copies(), Fault::RevokeIgnoresInFlight, "revoke");
}

#[test]
fn checker_catches_a_reclaim_with_a_copy_in_flight() {
    caught(last_copies_deleted_with_copy_in_flight(), Fault::ReclaimIgnoresInFlight, "reclaimed");
}

#[test]
fn checker_catches_a_former_owner_that_forwards_nothing() {
    caught(owner_moves_its_only_copy(), Fault::StubDropsMessages, "at rest");
}
