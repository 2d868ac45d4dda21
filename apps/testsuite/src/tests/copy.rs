//! COPY and MINT: more capabilities to the same object, with the same or fewer rights.
//!
//! Rights only ever shrink along a chain of copies; a badge is given once, to an unbadged
//! endpoint, and makes a child of it (so revoking the unbadged endpoint removes every
//! badged one); copies go only into empty slots that the capability address resolves to.

use crate::framework::{expect_eq, expect_err, expect_ok, scratch, Env, Outcome};
use crate::sys::{copy, copy_to_raw_address, delete, identify, mint, retype, revoke, ALL, NONE, R, RW};
use libos::abi::cap::{slot, CapType, PAGE_SIZE};
use libos::abi::{CapAddr, SysError};

pub fn a_copy_has_the_type_base_size_and_rights_of_its_original(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 2 * PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(copy(scratch(0), scratch(1)))?;
    expect_eq(expect_ok(identify(scratch(1)))?, expect_ok(identify(scratch(0)))?)
}

pub fn a_copy_into_an_occupied_slot_is_slot_occupied(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(retype(env.ram, CapType::Endpoint, 0, PAGE_SIZE, 1, scratch(1)))?;
    expect_err(copy(scratch(0), scratch(1)), SysError::SlotOccupied)?;
    expect_eq(expect_ok(identify(scratch(1)))?.ctype, CapType::Endpoint as u64)
}

pub fn a_copy_from_an_empty_slot_is_slot_empty(_env: &Env) -> Outcome {
    expect_err(copy(scratch(0), scratch(1)), SysError::SlotEmpty)?;
    expect_err(identify(scratch(1)), SysError::SlotEmpty)
}

pub fn a_capability_is_not_copied_onto_itself(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_err(copy(scratch(0), scratch(0)), SysError::SlotOccupied)
}

pub fn a_copy_to_an_address_that_names_no_slot_fails_lookup(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_err(copy(scratch(0), CapAddr::NULL), SysError::FailedLookup)?;
    expect_err(copy(scratch(0), CapAddr::new(5, 0)), SysError::FailedLookup)?;
    expect_err(copy(scratch(0), CapAddr::new(64, 0)), SysError::FailedLookup)?;
    expect_err(copy_to_raw_address(scratch(0), (1 << 32) | u64::from(scratch(1).0)), SysError::FailedLookup)
}

pub fn mint_keeps_only_the_rights_asked_for(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(mint(scratch(0), scratch(1), R, 0))?;
    expect_ok(mint(scratch(0), scratch(2), RW, 0))?;
    expect_eq((expect_ok(identify(scratch(1)))?.rights, expect_ok(identify(scratch(2)))?.rights), (R, RW))
}

pub fn mint_never_adds_rights(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(mint(scratch(0), scratch(1), R, 0))?;
    expect_ok(mint(scratch(1), scratch(2), ALL, 0))?;
    expect_eq(expect_ok(identify(scratch(2)))?.rights, R)?;
    expect_ok(copy(scratch(2), scratch(3)))?;
    expect_eq(expect_ok(identify(scratch(3)))?.rights, R)
}

pub fn a_capability_minted_with_no_rights_can_make_nothing(env: &Env) -> Outcome {
    expect_ok(mint(env.ram, scratch(0), NONE, 0))?;
    expect_eq(expect_ok(identify(scratch(0)))?.rights, NONE)?;
    expect_err(retype(scratch(0), CapType::Frame, PAGE_SIZE, 0, 1, scratch(1)), SysError::InsufficientRights)
}

pub fn mint_with_rights_bits_beyond_rwxg_is_an_invalid_argument(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    for rights in [0x10, 0xff, u64::MAX] {
        expect_err(mint(scratch(0), scratch(1), rights, 0), SysError::InvalidArgument)?;
    }
    expect_err(identify(scratch(1)), SysError::SlotEmpty)
}

pub fn only_an_unbadged_endpoint_takes_a_badge(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(retype(env.ram, CapType::Endpoint, 0, PAGE_SIZE, 1, scratch(1)))?;
    expect_err(mint(scratch(0), scratch(2), ALL, 5), SysError::InvalidArgument)?;
    expect_err(mint(env.ram, scratch(2), ALL, 5), SysError::InvalidArgument)?;
    expect_ok(mint(scratch(1), scratch(2), ALL, 42))?;
    expect_eq((expect_ok(identify(scratch(1)))?.badge, expect_ok(identify(scratch(2)))?.badge), (0, 42))?;
    expect_err(mint(scratch(2), scratch(3), ALL, 7), SysError::InvalidArgument)
}

pub fn mint_with_badge_zero_copies_the_badge_it_has(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 0, 1, scratch(0)))?;
    expect_ok(mint(scratch(0), scratch(1), ALL, 42))?;
    expect_ok(mint(scratch(1), scratch(2), R, 0))?;
    let copied = expect_ok(identify(scratch(2)))?;
    expect_eq((copied.badge, copied.rights), (42, R))
}

pub fn badged_endpoints_are_children_of_the_unbadged_one(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 0, 1, scratch(0)))?;
    expect_ok(mint(scratch(0), scratch(1), ALL, 42))?;
    expect_ok(copy(scratch(1), scratch(2)))?;
    expect_ok(mint(scratch(0), scratch(3), ALL, 43))?;
    expect_ok(revoke(scratch(0)))?;
    for badged in [scratch(1), scratch(2), scratch(3)] {
        expect_err(identify(badged), SysError::SlotEmpty)?;
    }
    expect_eq(expect_ok(identify(scratch(0)))?.badge, 0)
}

pub fn capabilities_of_any_type_can_be_copied(_env: &Env) -> Outcome {
    let originals = [slot::KERNEL, slot::DISPATCHER, slot::ROOT_VNODE, slot::MODULES_CNODE];
    for (i, original) in originals.into_iter().enumerate() {
        let copied = scratch(i as u32);
        expect_ok(copy(original, copied))?;
        expect_eq(expect_ok(identify(copied))?, expect_ok(identify(original))?)?;
    }
    // None of these is derived from the test's RAM: they are this test's to delete.
    for i in 0..originals.len() {
        expect_ok(delete(scratch(i as u32)))?;
    }
    Ok(())
}
