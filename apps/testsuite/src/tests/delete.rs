//! DELETE and REVOKE: how capabilities go, and when the memory behind them is free again.
//!
//! Deleting one capability leaves its copies and the object; deleting the last one
//! destroys the object and frees its memory. Revoking deletes every other copy and every
//! descendant, at any depth, and keeps the capability it was called on.

use crate::framework::{expect_eq, expect_err, expect_ok, scratch, Env, Outcome};
use crate::sys::{copy, delete, identify, retype, revoke};
use libos::abi::cap::{CapType, PAGE_SIZE};
use libos::abi::SysError;

pub fn deleting_a_copy_keeps_the_object(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(copy(scratch(0), scratch(1)))?;
    expect_ok(delete(scratch(0)))?;
    expect_err(identify(scratch(0)), SysError::SlotEmpty)?;
    expect_eq(expect_ok(identify(scratch(1)))?.base, env.ram_base)?;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(2)), SysError::RevokeFirst)
}

pub fn deleting_the_last_capability_frees_the_memory(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(copy(scratch(0), scratch(1)))?;
    expect_ok(delete(scratch(0)))?;
    expect_ok(delete(scratch(1)))?;
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, 0, 1, scratch(2)))
}

pub fn deleting_ram_leaves_the_objects_made_from_it(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Ram, 16 * PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(retype(scratch(0), CapType::Frame, PAGE_SIZE, 0, 1, scratch(1)))?;
    expect_ok(delete(scratch(0)))?;
    expect_eq(expect_ok(identify(scratch(1)))?.base, env.ram_base)?;
    // The frame is still a descendant of the test's RAM, so its memory stays taken.
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(2)), SysError::RevokeFirst)
}

pub fn delete_of_an_empty_slot_is_slot_empty(_env: &Env) -> Outcome {
    expect_err(delete(scratch(0)), SysError::SlotEmpty)
}

pub fn revoke_of_an_empty_slot_is_slot_empty(_env: &Env) -> Outcome {
    expect_err(revoke(scratch(0)), SysError::SlotEmpty)
}

pub fn revoke_deletes_every_copy_and_descendant_but_keeps_itself(env: &Env) -> Outcome {
    let region = 64 * PAGE_SIZE;
    expect_ok(retype(env.ram, CapType::Ram, region, 0, 1, scratch(0)))?;
    expect_ok(copy(scratch(0), scratch(1)))?;
    expect_ok(retype(scratch(0), CapType::Frame, PAGE_SIZE, 0, 3, scratch(2)))?;
    expect_ok(copy(scratch(2), scratch(5)))?;
    expect_ok(retype(scratch(1), CapType::VNodeL3, 0, 8 * PAGE_SIZE, 1, scratch(6)))?;
    expect_ok(retype(scratch(1), CapType::Endpoint, 0, 9 * PAGE_SIZE, 1, scratch(7)))?;
    expect_ok(revoke(scratch(0)))?;
    for gone in 1..8 {
        expect_err(identify(scratch(gone)), SysError::SlotEmpty)?;
    }
    expect_eq(expect_ok(identify(scratch(0)))?.size_bytes, region)?;
    // Every byte of it can be used again.
    expect_ok(retype(scratch(0), CapType::Frame, region, 0, 1, scratch(1)))
}

pub fn revoke_reaches_descendants_at_every_depth(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Ram, 1 << 20, 0, 1, scratch(0)))?;
    expect_ok(retype(scratch(0), CapType::Ram, 256 * 1024, 0, 1, scratch(1)))?;
    expect_ok(retype(scratch(1), CapType::Ram, 64 * 1024, 0, 1, scratch(2)))?;
    expect_ok(retype(scratch(2), CapType::Frame, 4 * PAGE_SIZE, 0, 1, scratch(3)))?;
    expect_ok(retype(scratch(3), CapType::Frame, PAGE_SIZE, 0, 2, scratch(4)))?;
    expect_ok(revoke(scratch(0)))?;
    for gone in 1..6 {
        expect_err(identify(scratch(gone)), SysError::SlotEmpty)?;
    }
    Ok(())
}

pub fn revoke_through_a_copy_deletes_the_original(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(copy(scratch(0), scratch(1)))?;
    expect_ok(copy(scratch(1), scratch(2)))?;
    expect_ok(revoke(scratch(1)))?;
    expect_err(identify(scratch(0)), SysError::SlotEmpty)?;
    expect_err(identify(scratch(2)), SysError::SlotEmpty)?;
    expect_eq(expect_ok(identify(scratch(1)))?.base, env.ram_base)
}

pub fn revoke_of_a_capability_alone_changes_nothing(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 0, 2, scratch(0)))?;
    let before = expect_ok(identify(scratch(0)))?;
    expect_ok(revoke(scratch(0)))?;
    expect_eq(expect_ok(identify(scratch(0)))?, before)?;
    // Its neighbour, made by the same retype, is not its descendant.
    expect_eq(expect_ok(identify(scratch(1)))?.base, env.ram_base + 2048)
}

pub fn revoked_memory_can_be_retyped_as_another_type(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Ram, 16 * PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(retype(scratch(0), CapType::Frame, PAGE_SIZE, 0, 16, scratch(1)))?;
    expect_ok(revoke(scratch(0)))?;
    expect_ok(retype(scratch(0), CapType::VNodeL3, 0, 0, 16, scratch(1)))?;
    expect_eq(expect_ok(identify(scratch(16)))?.ctype, CapType::VNodeL3 as u64)
}
