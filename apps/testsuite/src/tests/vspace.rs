//! VNODE_MAP, UNMAP and VNODE_MODIFY_FLAGS: address spaces built from capabilities.
//!
//! Each test that maps anything first builds a tree of its own under entry 1 of the
//! domain's root table ([`Tables`]): level-1, level-2 and level-3 tables made from its
//! RAM, so that entry `i` of the level-3 table maps the virtual address [`page_va`]`(i)`.
//! The program's image lives under entry 0, so nothing here can disturb its code, stack
//! or statics; revoking the test's RAM afterwards cuts the whole tree out again.
//!
//! What is pinned: each table level takes only the next level (and level 3 only frames),
//! the kernel half of the root is out of reach, indices and page counts stay within the
//! table and the frame, an entry holds one thing, a frame capability is mapped at most
//! once and a table (through any of its copies) in one place only, mappings are readable,
//! never both writable and executable, and never beyond the frame capability's rights.
//! And, by reading and writing through the mappings, that a mapped frame really is that
//! frame's memory.

use crate::failure::Failure;
use crate::framework::{expect_eq, expect_err, expect_ok, scratch, Env, Outcome};
use crate::sys::{
    copy, delete, identify, map, mint, modify_flags, retype, revoke, unmap, ALL, NONE, R, RW, RWX, RX,
};
use libos::abi::cap::{slot, CapType, Rights, PAGE_SIZE};
use libos::abi::modules::Archive;
use libos::abi::{CapAddr, SysError};

/// The root table entry the tests' trees hang from.
const ROOT_INDEX: u64 = 1;
/// The virtual address the tests' level-3 table starts to map: the first address root
/// entry [`ROOT_INDEX`] covers (each root entry covers 512 GiB).
const WINDOW: u64 = ROOT_INDEX << 39;

/// The first scratch slot a test may use next to its [`Tables`].
pub const SPARE_SLOT: u32 = 3;
/// Where in the test's RAM a test may make objects next to its [`Tables`].
pub const SPARE_OFFSET: u64 = 64 * 1024;

/// The virtual address entry `index` of the level-3 table maps.
pub const fn page_va(index: u64) -> u64 {
    WINDOW + index * PAGE_SIZE
}

/// A tree of translation tables in scratch slots 0–2, from the first three pages of the
/// test's RAM: level 1 at root entry [`ROOT_INDEX`], level 2 at its entry 0, level 3 at
/// that one's entry 0.
pub struct Tables {
    pub l1: CapAddr,
    pub l2: CapAddr,
    pub l3: CapAddr,
}

impl Tables {
    pub fn build(env: &Env) -> Result<Tables, Failure> {
        let tables = Tables { l1: scratch(0), l2: scratch(1), l3: scratch(2) };
        let levels =
            [(CapType::VNodeL1, tables.l1), (CapType::VNodeL2, tables.l2), (CapType::VNodeL3, tables.l3)];
        let mut parent = (slot::ROOT_VNODE, ROOT_INDEX);
        for (i, (ty, table)) in levels.into_iter().enumerate() {
            expect_ok(retype(env.ram, ty, 0, i as u64 * PAGE_SIZE, 1, table))?;
            expect_ok(map(parent.0, parent.1, table, ALL, 0, 1))?;
            parent = (table, 0);
        }
        Ok(tables)
    }
}

/// Makes a frame of `pages` pages at [`SPARE_OFFSET`] + `page_offset` pages into scratch slot
/// `index`.
fn frame(env: &Env, index: u32, pages: u64, page_offset: u64) -> Result<CapAddr, Failure> {
    let at = scratch(index);
    expect_ok(retype(
        env.ram,
        CapType::Frame,
        pages * PAGE_SIZE,
        SPARE_OFFSET + page_offset * PAGE_SIZE,
        1,
        at,
    ))?;
    Ok(at)
}

/// Reads the word at `va`.
///
/// # Safety
///
/// `va` must be 8-byte aligned and mapped readable in this address space, in memory no
/// Rust reference points into (a frame this test mapped for the purpose).
pub unsafe fn read_word(va: u64) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { (va as *const u64).read_volatile() }
}

/// Writes `value` at `va`.
///
/// # Safety
///
/// As for [`read_word`], and the mapping must be writable.
pub unsafe fn write_word(va: u64, value: u64) {
    // SAFETY: the caller's contract.
    unsafe { (va as *mut u64).write_volatile(value) }
}

/// A value no fresh (zeroed) page holds, different for each `seed`.
pub fn pattern(seed: u64) -> u64 {
    0x0123_4567_89ab_cdef ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

pub fn a_table_entry_holds_one_child_table(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let (l1, l2, l3) = (scratch(3), scratch(4), scratch(5));
    for (i, (ty, table)) in
        [(CapType::VNodeL1, l1), (CapType::VNodeL2, l2), (CapType::VNodeL3, l3)].into_iter().enumerate()
    {
        expect_ok(retype(env.ram, ty, 0, SPARE_OFFSET + i as u64 * PAGE_SIZE, 1, table))?;
    }
    expect_err(map(slot::ROOT_VNODE, ROOT_INDEX, l1, ALL, 0, 1), SysError::AlreadyMapped)?;
    expect_err(map(t.l1, 0, l2, ALL, 0, 1), SysError::AlreadyMapped)?;
    expect_err(map(t.l2, 0, l3, ALL, 0, 1), SysError::AlreadyMapped)?;
    // The entry next to a used one is free.
    expect_ok(map(t.l2, 1, l3, ALL, 0, 1))
}

pub fn a_mapped_frame_is_readable_and_writable_at_its_address(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    let (first, last) = (page_va(0), page_va(0) + PAGE_SIZE - 8);
    // SAFETY: the frame was just mapped read-write at entry 0 and nothing else uses it.
    let (read_first, read_last) = unsafe {
        write_word(first, pattern(1));
        write_word(last, pattern(2));
        (read_word(first), read_word(last))
    };
    expect_eq((read_first, read_last), (pattern(1), pattern(2)))
}

pub fn a_new_frame_reads_as_zeros_whatever_its_memory_held(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    // SAFETY: mapped read-write at entry 0 just above.
    unsafe {
        for word in 0..8 {
            write_word(page_va(0) + word * 512, pattern(word));
        }
    }
    // Deleting the mapped frame unmaps it; the same memory then comes back as a new frame.
    expect_ok(delete(f))?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, R, 0, 1))?;
    for word in 0..8 {
        // SAFETY: mapped readable at entry 0 just above.
        expect_eq(unsafe { read_word(page_va(0) + word * 512) }, 0)?;
    }
    Ok(())
}

pub fn two_mappings_of_one_frame_share_its_memory(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let other = scratch(SPARE_SLOT + 1);
    expect_ok(copy(f, other))?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_ok(map(t.l3, 1, other, R, 0, 1))?;
    // SAFETY: entry 0 is mapped read-write, entry 1 readable, both to the test's frame.
    let seen = unsafe {
        write_word(page_va(0) + 64, pattern(3));
        read_word(page_va(1) + 64)
    };
    expect_eq(seen, pattern(3))
}

pub fn a_frame_of_several_pages_maps_at_consecutive_addresses(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 4, 0)?;
    expect_ok(map(t.l3, 8, f, RW, 0, 4))?;
    for page in 0..4 {
        // SAFETY: entries 8–11 map the frame's four pages read-write.
        unsafe { write_word(page_va(8 + page), pattern(page)) };
    }
    // A mapping that starts two pages into the frame sees its third page.
    let other = scratch(SPARE_SLOT + 1);
    expect_ok(copy(f, other))?;
    expect_ok(map(t.l3, 20, other, R, 2, 1))?;
    // SAFETY: entry 20 maps page 2 of the frame, readable.
    expect_eq(unsafe { read_word(page_va(20)) }, pattern(2))
}

pub fn a_frame_capability_is_mapped_at_most_once(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_err(map(t.l3, 5, f, RW, 0, 1), SysError::AlreadyMapped)
}

pub fn a_translation_table_is_mapped_in_one_place_only(env: &Env) -> Outcome {
    // A table at two places would show each frame mapped in it at a second address that
    // no mapping record names, where unmapping the frame could neither clear nor flush it.
    let t = Tables::build(env)?;
    let (l2_copy, l3_copy) = (scratch(SPARE_SLOT), scratch(SPARE_SLOT + 1));
    expect_ok(copy(t.l2, l2_copy))?;
    expect_ok(copy(t.l3, l3_copy))?;
    expect_err(map(t.l1, 1, l2_copy, ALL, 0, 1), SysError::AlreadyMapped)?;
    expect_err(map(t.l2, 1, l3_copy, ALL, 0, 1), SysError::AlreadyMapped)?;
    // Nor can two copies of a table both be mapped, whichever goes first.
    let (l3, other) = (scratch(SPARE_SLOT + 2), scratch(SPARE_SLOT + 3));
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, SPARE_OFFSET, 1, l3))?;
    expect_ok(copy(l3, other))?;
    expect_ok(map(t.l2, 2, l3, ALL, 0, 1))?;
    expect_err(map(t.l2, 3, other, ALL, 0, 1), SysError::AlreadyMapped)
}

pub fn a_used_entry_is_not_mapped_over(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let g = frame(env, SPARE_SLOT + 1, 2, 1)?;
    expect_ok(map(t.l3, 1, f, RW, 0, 1))?;
    expect_err(map(t.l3, 1, g, RW, 0, 1), SysError::AlreadyMapped)?;
    expect_err(map(t.l3, 0, g, RW, 0, 2), SysError::AlreadyMapped)?;
    expect_ok(map(t.l3, 2, g, RW, 0, 2))
}

pub fn each_table_level_takes_only_the_next_level_down(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let kinds = [CapType::VNodeL0, CapType::VNodeL1, CapType::VNodeL2, CapType::VNodeL3];
    for (i, ty) in kinds.into_iter().enumerate() {
        expect_ok(retype(
            env.ram,
            ty,
            0,
            SPARE_OFFSET + i as u64 * PAGE_SIZE,
            1,
            scratch(SPARE_SLOT + i as u32),
        ))?;
    }
    let [l0, l1, l2, l3] = [0, 1, 2, 3].map(|i| scratch(SPARE_SLOT + i));
    let wrong = [
        (slot::ROOT_VNODE, l0),
        (slot::ROOT_VNODE, l2),
        (slot::ROOT_VNODE, l3),
        (t.l1, l1),
        (t.l1, l3),
        (t.l2, l1),
        (t.l2, l2),
        (t.l3, l3),
    ];
    for (table, child) in wrong {
        // Entry 2 is free at every level.
        expect_err(map(table, 2, child, ALL, 0, 1), SysError::InvalidCapability)?;
    }
    Ok(())
}

pub fn frames_map_only_into_level_3_tables(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    for table in [slot::ROOT_VNODE, t.l1, t.l2] {
        expect_err(map(table, 2, f, RW, 0, 1), SysError::InvalidCapability)?;
    }
    Ok(())
}

pub fn only_frames_map_into_level_3_tables(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let (endpoint, ram, cnode) = (scratch(SPARE_SLOT), scratch(SPARE_SLOT + 1), scratch(SPARE_SLOT + 2));
    expect_ok(retype(env.ram, CapType::Endpoint, 0, SPARE_OFFSET, 1, endpoint))?;
    expect_ok(retype(env.ram, CapType::Ram, PAGE_SIZE, SPARE_OFFSET + PAGE_SIZE, 1, ram))?;
    expect_ok(retype(env.ram, CapType::L2CNode, 0, SPARE_OFFSET + 4 * PAGE_SIZE, 1, cnode))?;
    for child in [endpoint, ram, cnode, slot::KERNEL] {
        expect_err(map(t.l3, 0, child, R, 0, 1), SysError::InvalidCapability)?;
    }
    Ok(())
}

pub fn only_translation_tables_take_mappings(env: &Env) -> Outcome {
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let g = frame(env, SPARE_SLOT + 1, 1, 1)?;
    // Mapping is a method of translation tables only.
    for not_a_table in [f, env.ram, slot::ROOT_CNODE, slot::KERNEL] {
        expect_err(map(not_a_table, 0, g, R, 0, 1), SysError::IllegalOperation)?;
    }
    Ok(())
}

pub fn the_kernel_half_of_the_root_table_is_out_of_reach(env: &Env) -> Outcome {
    let l1 = scratch(SPARE_SLOT);
    expect_ok(retype(env.ram, CapType::VNodeL1, 0, SPARE_OFFSET, 1, l1))?;
    for index in [256, 300, 511, 512] {
        expect_err(map(slot::ROOT_VNODE, index, l1, ALL, 0, 1), SysError::RangeError)?;
    }
    Ok(())
}

pub fn table_indices_stop_at_511(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let (l2, l3) = (scratch(SPARE_SLOT + 1), scratch(SPARE_SLOT + 2));
    expect_ok(retype(env.ram, CapType::VNodeL2, 0, SPARE_OFFSET + PAGE_SIZE, 1, l2))?;
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, SPARE_OFFSET + 2 * PAGE_SIZE, 1, l3))?;
    for index in [512, 4096, u64::MAX] {
        expect_err(map(t.l3, index, f, RW, 0, 1), SysError::RangeError)?;
        expect_err(map(t.l2, index, l3, ALL, 0, 1), SysError::RangeError)?;
        expect_err(map(t.l1, index, l2, ALL, 0, 1), SysError::RangeError)?;
    }
    expect_ok(map(t.l3, 511, f, RW, 0, 1))
}

pub fn a_frame_mapping_stays_within_the_frame_and_the_table(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 2, 0)?;
    // (index, offset_pages, pages)
    let out_of_range =
        [(0, 0, 0), (0, 2, 1), (0, 1, 2), (0, 0, 3), (511, 0, 2), (0, u64::MAX, 1), (0, 0, u64::MAX)];
    for (index, offset_pages, pages) in out_of_range {
        expect_err(map(t.l3, index, f, RW, offset_pages, pages), SysError::RangeError)?;
    }
    expect_ok(map(t.l3, 511, f, RW, 1, 1))
}

pub fn a_child_table_takes_one_entry_from_its_start(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let l3 = scratch(SPARE_SLOT);
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, SPARE_OFFSET, 1, l3))?;
    expect_err(map(t.l2, 1, l3, ALL, 0, 2), SysError::RangeError)?;
    expect_err(map(t.l2, 1, l3, ALL, 1, 1), SysError::RangeError)?;
    expect_ok(map(t.l2, 1, l3, ALL, 0, 1))
}

pub fn mappings_are_never_writable_and_executable(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let write_execute = Rights::WRITE.union(Rights::EXECUTE).bits();
    for rights in [RWX, ALL, write_execute] {
        expect_err(map(t.l3, 0, f, rights, 0, 1), SysError::InvalidArgument)?;
    }
    Ok(())
}

pub fn mappings_are_always_readable(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    for rights in [NONE, Rights::WRITE.bits(), Rights::EXECUTE.bits(), Rights::GRANT.bits()] {
        expect_err(map(t.l3, 0, f, rights, 0, 1), SysError::InvalidArgument)?;
    }
    Ok(())
}

pub fn read_only_and_read_execute_mappings_are_readable(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let g = frame(env, SPARE_SLOT + 1, 1, 1)?;
    expect_ok(map(t.l3, 0, f, R, 0, 1))?;
    expect_ok(map(t.l3, 1, g, RX, 0, 1))?;
    // SAFETY: entries 0 and 1 map fresh frames readable.
    expect_eq(unsafe { (read_word(page_va(0)), read_word(page_va(1))) }, (0, 0))
}

pub fn mapping_rights_stay_within_the_frame_capability(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let read_only = scratch(SPARE_SLOT + 1);
    expect_ok(mint(f, read_only, R, 0))?;
    expect_err(map(t.l3, 0, read_only, RW, 0, 1), SysError::InsufficientRights)?;
    expect_err(map(t.l3, 0, read_only, RX, 0, 1), SysError::InsufficientRights)?;
    expect_ok(map(t.l3, 0, read_only, R, 0, 1))
}

pub fn mapping_rights_bits_beyond_rwxg_are_an_invalid_argument(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let l3 = scratch(SPARE_SLOT + 1);
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, SPARE_OFFSET + PAGE_SIZE, 1, l3))?;
    for rights in [0x10, 0xff, R | 0x100] {
        expect_err(map(t.l3, 0, f, rights, 0, 1), SysError::InvalidArgument)?;
        expect_err(map(t.l2, 1, l3, rights, 0, 1), SysError::InvalidArgument)?;
    }
    Ok(())
}

pub fn a_table_outside_the_tree_takes_no_mappings(env: &Env) -> Outcome {
    let (l1, l2, l3) = (scratch(SPARE_SLOT), scratch(SPARE_SLOT + 1), scratch(SPARE_SLOT + 2));
    for (i, (ty, table)) in
        [(CapType::VNodeL1, l1), (CapType::VNodeL2, l2), (CapType::VNodeL3, l3)].into_iter().enumerate()
    {
        expect_ok(retype(env.ram, ty, 0, SPARE_OFFSET + i as u64 * PAGE_SIZE, 1, table))?;
    }
    let f = frame(env, SPARE_SLOT + 3, 1, 3)?;
    expect_err(map(l3, 0, f, RW, 0, 1), SysError::NotMapped)?;
    expect_err(map(l2, 0, l3, ALL, 0, 1), SysError::NotMapped)?;
    expect_err(map(l1, 0, l2, ALL, 0, 1), SysError::NotMapped)
}

pub fn an_unmapped_frame_maps_again_elsewhere_with_its_contents(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    // SAFETY: mapped read-write at entry 0 just above.
    unsafe { write_word(page_va(0) + 8, pattern(7)) };
    expect_ok(unmap(f))?;
    expect_ok(map(t.l3, 7, f, R, 0, 1))?;
    // SAFETY: mapped readable at entry 7 just above.
    expect_eq(unsafe { read_word(page_va(7) + 8) }, pattern(7))
}

pub fn unmap_of_a_frame_that_is_not_mapped_is_not_mapped(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_err(unmap(f), SysError::NotMapped)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_ok(unmap(f))?;
    expect_err(unmap(f), SysError::NotMapped)
}

pub fn unmap_of_what_cannot_be_mapped_is_not_mapped(env: &Env) -> Outcome {
    let endpoint = scratch(SPARE_SLOT);
    expect_ok(retype(env.ram, CapType::Endpoint, 0, SPARE_OFFSET, 1, endpoint))?;
    for cap in [env.ram, endpoint, slot::ROOT_VNODE, slot::KERNEL] {
        expect_err(unmap(cap), SysError::NotMapped)?;
    }
    Ok(())
}

pub fn an_unmapped_table_is_cut_from_the_tree(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let g = frame(env, SPARE_SLOT + 1, 1, 1)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_ok(unmap(t.l3))?;
    expect_err(map(t.l3, 1, g, RW, 0, 1), SysError::NotMapped)?;
    // Its entry in the level-2 table is free for another table.
    let l3 = scratch(SPARE_SLOT + 2);
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, SPARE_OFFSET + 2 * PAGE_SIZE, 1, l3))?;
    expect_ok(map(t.l2, 0, l3, ALL, 0, 1))?;
    expect_ok(map(l3, 0, g, RW, 0, 1))?;
    // SAFETY: entry 0 of the new level-3 table maps `g` read-write at the same address.
    let seen = unsafe {
        write_word(page_va(0), pattern(9));
        read_word(page_va(0))
    };
    expect_eq(seen, pattern(9))
}

pub fn a_copy_of_a_mapped_frame_starts_unmapped(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let other = scratch(SPARE_SLOT + 1);
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_ok(copy(f, other))?;
    expect_err(unmap(other), SysError::NotMapped)?;
    expect_ok(map(t.l3, 1, other, RW, 0, 1))
}

pub fn deleting_a_mapped_frame_unmaps_it(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let g = frame(env, SPARE_SLOT + 1, 1, 1)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_ok(delete(f))?;
    expect_ok(map(t.l3, 0, g, RW, 0, 1))
}

pub fn revoking_the_memory_of_a_tree_unmaps_it(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    // SAFETY: mapped read-write at entry 0 just above.
    unsafe { write_word(page_va(0), pattern(11)) };
    expect_ok(revoke(env.ram))?;
    expect_err(identify(t.l1), SysError::SlotEmpty)?;
    // Root entry 1 is free again, and the same memory comes back zeroed.
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, R, 0, 1))?;
    // SAFETY: mapped readable at entry 0 just above.
    expect_eq(unsafe { read_word(page_va(0)) }, 0)
}

pub fn modify_flags_to_read_only_keeps_the_page_readable(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    // SAFETY: mapped read-write at entry 0 just above.
    unsafe { write_word(page_va(0), pattern(12)) };
    expect_ok(modify_flags(t.l3, 0, 1, R))?;
    // SAFETY: still mapped, now read-only: reading only.
    expect_eq(unsafe { read_word(page_va(0)) }, pattern(12))?;
    // The frame capability allows writing, so the page may become writable again.
    expect_ok(modify_flags(t.l3, 0, 1, RW))?;
    // SAFETY: mapped read-write again.
    let seen = unsafe {
        write_word(page_va(0), pattern(13));
        read_word(page_va(0))
    };
    expect_eq(seen, pattern(13))
}

pub fn modify_flags_stays_within_the_frame_capability(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    let read_only = scratch(SPARE_SLOT + 1);
    expect_ok(mint(f, read_only, R, 0))?;
    expect_ok(map(t.l3, 0, read_only, R, 0, 1))?;
    expect_err(modify_flags(t.l3, 0, 1, RW), SysError::InsufficientRights)?;
    expect_err(modify_flags(t.l3, 0, 1, RX), SysError::InsufficientRights)?;
    expect_ok(modify_flags(t.l3, 0, 1, R))
}

pub fn modify_flags_never_makes_a_page_writable_and_executable(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    for rights in [RWX, Rights::WRITE.bits(), NONE] {
        expect_err(modify_flags(t.l3, 0, 1, rights), SysError::InvalidArgument)?;
    }
    for rights in [0x10, 0xff] {
        expect_err(modify_flags(t.l3, 0, 1, rights), SysError::InvalidArgument)?;
    }
    Ok(())
}

pub fn modify_flags_over_an_empty_entry_is_not_mapped(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_err(modify_flags(t.l3, 5, 1, R), SysError::NotMapped)?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_err(modify_flags(t.l3, 0, 2, R), SysError::NotMapped)
}

pub fn modify_flags_applies_only_to_level_3_tables(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    // Changing page rights is a method of level-3 tables only.
    for not_level_3 in [t.l2, t.l1, slot::ROOT_VNODE, f, env.ram] {
        expect_err(modify_flags(not_level_3, 0, 1, R), SysError::IllegalOperation)?;
    }
    Ok(())
}

pub fn modify_flags_ranges_stay_within_the_table(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    let f = frame(env, SPARE_SLOT, 1, 0)?;
    expect_ok(map(t.l3, 511, f, RW, 0, 1))?;
    for (index, pages) in [(0, 0), (512, 1), (511, 2), (u64::MAX, 1), (1, u64::MAX)] {
        expect_err(modify_flags(t.l3, index, pages, R), SysError::RangeError)?;
    }
    Ok(())
}

pub fn modify_flags_in_a_table_outside_the_tree_is_not_mapped(env: &Env) -> Outcome {
    let l3 = scratch(SPARE_SLOT);
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, SPARE_OFFSET, 1, l3))?;
    expect_err(modify_flags(l3, 0, 1, R), SysError::NotMapped)
}

pub fn the_boot_module_archive_maps_read_only_and_holds_the_programs(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    // A copy, so that deleting it (the archive frame is not the test's) also unmaps it.
    let archive = scratch(SPARE_SLOT);
    expect_ok(copy(slot::MODULE_ARCHIVE, archive))?;
    let outcome = map_and_read_archive(&t, archive);
    outcome.and(expect_ok(delete(archive)))
}

/// The part of the archive test between making the copy and deleting it: maps all of the
/// archive frame at [`page_va`]`(0)` and looks for the programs in it.
fn map_and_read_archive(t: &Tables, archive: CapAddr) -> Outcome {
    let size_bytes = expect_ok(identify(archive))?.size_bytes;
    let pages = size_bytes / PAGE_SIZE;
    expect_err(map(t.l3, 0, archive, RW, 0, pages), SysError::InsufficientRights)?;
    expect_ok(map(t.l3, 0, archive, R, 0, pages))?;
    // SAFETY: the whole frame is mapped readable from `page_va(0)` until the caller
    // deletes the copy, after this slice is gone; nothing writes it (it is part of the
    // kernel image, mapped read-only everywhere).
    let bytes = unsafe { core::slice::from_raw_parts(page_va(0) as *const u8, size_bytes as usize) };
    let Some(modules) = Archive::new(bytes) else {
        return Err(Failure::new(format_args!("the archive frame holds no module archive")));
    };
    // The first module is what a core starts when the command line names none.
    expect_eq(modules.modules().next().map(|m| m.name), Some("monitor"))?;
    let this_program = modules.find("testsuite").and_then(|m| m.bytes.get(..4));
    expect_eq(this_program, Some(&b"\x7fELF"[..]))
}
