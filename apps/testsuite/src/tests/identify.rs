//! IDENTIFY: what a capability says about itself, and what the first domain is given.
//!
//! The well-known slots (`abi::cap::slot`) are a contract between whoever builds a domain
//! and the program in it; these tests check the CPU driver keeps it for the first domain
//! of a core: the objects the domain runs on, its RAM (all of it in `INITIAL_RAM`, what
//! its own objects left unused in `FREE_RAM`), and the read-only boot module archive.

use crate::framework::{expect_eq, expect_err, expect_ok, scratch, Env, Outcome, TEST_RAM_BYTES};
use crate::sys::{identify, retype, Identity, ALL};
use libos::abi::cap::{slot, CapType, Rights, L2_CNODE_SLOTS, PAGE_SIZE, SLOT_BYTES};
use libos::abi::SysError;

/// The read and grant rights of the boot module archive's frame.
const READ_GRANT: u64 = Rights::READ.union(Rights::GRANT).bits();

pub fn identify_reports_type_rights_owner_base_size_and_badge(env: &Env) -> Outcome {
    let free = expect_ok(identify(slot::FREE_RAM))?;
    let top = free.base + free.size_bytes - TEST_RAM_BYTES;
    let expected = Identity {
        ctype: CapType::Ram as u64,
        rights: ALL,
        owner_core: 0,
        base: top,
        size_bytes: TEST_RAM_BYTES,
        badge: 0,
    };
    expect_eq(expect_ok(identify(env.ram))?, expected)?;
    expect_eq(env.ram_base, top)
}

pub fn identify_of_an_empty_slot_is_slot_empty(_env: &Env) -> Outcome {
    expect_err(identify(scratch(0)), SysError::SlotEmpty)?;
    expect_err(identify(slot::PARENT_ENDPOINT), SysError::SlotEmpty)
}

pub fn the_first_domain_holds_its_well_known_capabilities(_env: &Env) -> Outcome {
    let cnode_bytes = L2_CNODE_SLOTS * SLOT_BYTES;
    // (slot, type, size); the root CNode has 64 slots.
    let expected = [
        (slot::DISPATCHER, CapType::Dispatcher, PAGE_SIZE),
        (slot::ROOT_CNODE, CapType::L1CNode, 64 * SLOT_BYTES),
        (slot::ROOT_VNODE, CapType::VNodeL0, PAGE_SIZE),
        (slot::TASK_CNODE, CapType::L2CNode, cnode_bytes),
        (slot::MODULES_CNODE, CapType::L2CNode, cnode_bytes),
    ];
    for (at, ty, size_bytes) in expected {
        let cap = expect_ok(identify(at))?;
        expect_eq((cap.ctype, cap.size_bytes, cap.rights, cap.owner_core), (ty as u64, size_bytes, ALL, 0))?;
    }
    let kernel = expect_ok(identify(slot::KERNEL))?;
    expect_eq((kernel.ctype, kernel.base, kernel.size_bytes), (CapType::Kernel as u64, 0, 0))?;
    for ram in [slot::INITIAL_RAM, slot::FREE_RAM] {
        let ram = expect_ok(identify(ram))?;
        expect_eq((ram.ctype, ram.rights, ram.base % PAGE_SIZE), (CapType::Ram as u64, ALL, 0))?;
    }
    Ok(())
}

pub fn free_ram_is_the_top_of_initial_ram_from_a_2_mib_boundary(_env: &Env) -> Outcome {
    let initial = expect_ok(identify(slot::INITIAL_RAM))?;
    let free = expect_ok(identify(slot::FREE_RAM))?;
    let offset = free.base.wrapping_sub(initial.base);
    expect_eq((offset > 0, offset % (2 << 20)), (true, 0))?;
    expect_eq(free.base + free.size_bytes, initial.base + initial.size_bytes)
}

pub fn initial_ram_holds_the_domains_objects_at_its_bottom_and_free_ram_at_its_top(_env: &Env) -> Outcome {
    let initial = expect_ok(identify(slot::INITIAL_RAM))?;
    let free = expect_ok(identify(slot::FREE_RAM))?;
    let offsets = [0, free.base - initial.base, initial.size_bytes - PAGE_SIZE];
    for offset in offsets {
        let retyped = retype(slot::INITIAL_RAM, CapType::Frame, PAGE_SIZE, offset, 1, scratch(0));
        expect_err(retyped, SysError::RevokeFirst)?;
    }
    Ok(())
}

pub fn the_boot_module_archive_is_a_read_only_frame(_env: &Env) -> Outcome {
    let archive = expect_ok(identify(slot::MODULE_ARCHIVE))?;
    expect_eq((archive.ctype, archive.rights), (CapType::Frame as u64, READ_GRANT))?;
    expect_eq((archive.size_bytes > 0, archive.size_bytes % PAGE_SIZE), (true, 0))
}

pub fn the_boot_module_archive_is_not_split(_env: &Env) -> Outcome {
    let split = retype(slot::MODULE_ARCHIVE, CapType::Frame, PAGE_SIZE, 0, 1, scratch(0));
    expect_err(split, SysError::InsufficientRights)
}
