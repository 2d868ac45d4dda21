//! RETYPE: making objects out of RAM, and smaller frames out of frames.
//!
//! The rules pinned here: which types come from which (RAM gives every memory type but
//! device frames; a frame gives only frames), each type's size (fixed, page multiples, or
//! a power-of-two L1 CNode), natural alignment up to a page, the count and the destination
//! slots, memory that is already in use, and the WRITE right a retype needs because it
//! zeroes what it hands out.

use crate::framework::{expect_eq, expect_err, expect_ok, scratch, Env, Outcome, TEST_RAM_BYTES};
use crate::sys::{copy, delete, identify, mint, retype, retype_with_type_number, revoke, ALL, R, RW};
use libos::abi::cap::{slot, CapType, Rights, PAGE_SIZE, SLOT_BYTES};
use libos::abi::{CapAddr, SysError};

pub fn ram_retypes_into_a_frame_of_the_requested_size(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 2 * PAGE_SIZE, 0, 1, scratch(0)))?;
    let frame = expect_ok(identify(scratch(0)))?;
    expect_eq(
        (frame.ctype, frame.base, frame.size_bytes),
        (CapType::Frame as u64, env.ram_base, 2 * PAGE_SIZE),
    )
}

pub fn ram_retypes_into_every_memory_type_but_device_frames(env: &Env) -> Outcome {
    // (type, object_bytes asked for, size of the object made)
    let kinds = [
        (CapType::Ram, PAGE_SIZE, PAGE_SIZE),
        (CapType::Frame, PAGE_SIZE, PAGE_SIZE),
        (CapType::UrpcFrame, PAGE_SIZE, PAGE_SIZE),
        (CapType::L1CNode, 16 * SLOT_BYTES, 16 * SLOT_BYTES),
        (CapType::L2CNode, 0, 256 * SLOT_BYTES),
        (CapType::VNodeL0, 0, PAGE_SIZE),
        (CapType::VNodeL1, 0, PAGE_SIZE),
        (CapType::VNodeL2, 0, PAGE_SIZE),
        (CapType::VNodeL3, 0, PAGE_SIZE),
        (CapType::Dispatcher, 0, PAGE_SIZE),
        (CapType::Endpoint, 0, 2048),
    ];
    for (i, (ty, object_bytes, size_bytes)) in kinds.into_iter().enumerate() {
        let offset = i as u64 * 64 * 1024;
        expect_ok(retype(env.ram, ty, object_bytes, offset, 1, scratch(i as u32)))?;
        let made = expect_ok(identify(scratch(i as u32)))?;
        expect_eq(
            (made.ctype, made.rights, made.base, made.size_bytes),
            (ty as u64, ALL, env.ram_base + offset, size_bytes),
        )?;
    }
    Ok(())
}

pub fn fixed_size_types_accept_their_exact_size_as_object_bytes(env: &Env) -> Outcome {
    let exact = [
        (CapType::L2CNode, 256 * SLOT_BYTES),
        (CapType::VNodeL3, PAGE_SIZE),
        (CapType::Dispatcher, PAGE_SIZE),
        (CapType::Endpoint, 2048),
    ];
    for (i, (ty, object_bytes)) in exact.into_iter().enumerate() {
        expect_ok(retype(env.ram, ty, object_bytes, i as u64 * 64 * 1024, 1, scratch(i as u32)))?;
    }
    Ok(())
}

pub fn fixed_size_types_refuse_any_other_size(env: &Env) -> Outcome {
    expect_err(retype(env.ram, CapType::VNodeL3, 2 * PAGE_SIZE, 0, 1, scratch(0)), SysError::RangeError)?;
    expect_err(retype(env.ram, CapType::Endpoint, PAGE_SIZE, 0, 1, scratch(0)), SysError::RangeError)?;
    expect_err(retype(env.ram, CapType::Dispatcher, 2048, 0, 1, scratch(0)), SysError::RangeError)?;
    expect_err(retype(env.ram, CapType::L2CNode, PAGE_SIZE, 0, 1, scratch(0)), SysError::RangeError)
}

pub fn frames_and_ram_are_a_nonzero_multiple_of_the_page_size(env: &Env) -> Outcome {
    for ty in [CapType::Frame, CapType::Ram, CapType::UrpcFrame] {
        for object_bytes in [0, 100, PAGE_SIZE + 1, 6000] {
            expect_err(retype(env.ram, ty, object_bytes, 0, 1, scratch(0)), SysError::RangeError)?;
        }
    }
    Ok(())
}

pub fn l1_cnodes_have_a_power_of_two_from_16_to_65536_slots(env: &Env) -> Outcome {
    for slots in [0, 8, 17, 24, 1 << 17] {
        expect_err(
            retype(env.ram, CapType::L1CNode, slots * SLOT_BYTES, 0, 1, scratch(0)),
            SysError::RangeError,
        )?;
    }
    expect_err(retype(env.ram, CapType::L1CNode, 1000, 0, 1, scratch(0)), SysError::RangeError)?;
    expect_ok(retype(env.ram, CapType::L1CNode, 16 * SLOT_BYTES, 0, 1, scratch(0)))?;
    expect_ok(delete(scratch(0)))?;
    // The largest fills the whole of this test's RAM.
    expect_ok(retype(env.ram, CapType::L1CNode, (1 << 16) * SLOT_BYTES, 0, 1, scratch(0)))?;
    expect_eq(expect_ok(identify(scratch(0)))?.size_bytes, TEST_RAM_BYTES)
}

pub fn device_frames_are_never_made_from_ram(env: &Env) -> Outcome {
    expect_err(retype(env.ram, CapType::DevFrame, PAGE_SIZE, 0, 1, scratch(0)), SysError::IllegalOperation)
}

pub fn types_without_memory_are_never_made_by_retype(env: &Env) -> Outcome {
    for ty in [CapType::Null, CapType::Irq, CapType::Kernel, CapType::Notify] {
        expect_err(retype(env.ram, ty, 0, 0, 1, scratch(0)), SysError::IllegalOperation)?;
    }
    Ok(())
}

pub fn unknown_type_numbers_are_invalid_arguments(env: &Env) -> Outcome {
    for ty in [16, 99, 256, u64::MAX] {
        expect_err(retype_with_type_number(env.ram, ty, 0, 0, 1, scratch(0)), SysError::InvalidArgument)?;
    }
    Ok(())
}

pub fn offsets_are_aligned_to_the_object_size_up_to_a_page(env: &Env) -> Outcome {
    let align_error = SysError::AlignmentError;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 100, 1, scratch(0)), align_error)?;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 2048, 1, scratch(0)), align_error)?;
    expect_err(retype(env.ram, CapType::VNodeL3, 0, 2048, 1, scratch(0)), align_error)?;
    expect_err(retype(env.ram, CapType::Dispatcher, 0, 512, 1, scratch(0)), align_error)?;
    expect_err(retype(env.ram, CapType::Endpoint, 0, 1024, 1, scratch(0)), align_error)?;
    // Half a page suffices for an endpoint; a page suffices for anything larger.
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 2048, 1, scratch(0)))?;
    expect_ok(retype(env.ram, CapType::Frame, 4 * PAGE_SIZE, PAGE_SIZE, 1, scratch(1)))?;
    expect_ok(retype(env.ram, CapType::L2CNode, 0, 5 * PAGE_SIZE, 1, scratch(2)))
}

pub fn small_l1_cnodes_align_to_their_own_size(env: &Env) -> Outcome {
    let base = 64 * 1024;
    expect_ok(retype(env.ram, CapType::L1CNode, 16 * SLOT_BYTES, base + 1024, 1, scratch(0)))?;
    expect_err(
        retype(env.ram, CapType::L1CNode, 32 * SLOT_BYTES, base + 3 * 1024, 1, scratch(1)),
        SysError::AlignmentError,
    )?;
    expect_ok(retype(env.ram, CapType::L1CNode, 32 * SLOT_BYTES, base + 2048, 1, scratch(1)))
}

pub fn objects_past_the_end_of_the_ram_are_range_errors(env: &Env) -> Outcome {
    let range_error = SysError::RangeError;
    let end = TEST_RAM_BYTES;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, end, 1, scratch(0)), range_error)?;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, end - PAGE_SIZE, 2, scratch(0)), range_error)?;
    expect_err(retype(env.ram, CapType::Frame, 2 * end, 0, 1, scratch(0)), range_error)?;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 1 << 40, 1, scratch(0)), range_error)?;
    // Sums that overflow 64 bits are out of range too, not wrapped around.
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, u64::MAX - 4095, 1, scratch(0)), range_error)?;
    expect_err(retype(env.ram, CapType::Frame, 1 << 63, 0, 2, scratch(0)), range_error)?;
    // The last page is still in range.
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, end - PAGE_SIZE, 1, scratch(0)))
}

pub fn a_retype_of_zero_objects_is_a_range_error(env: &Env) -> Outcome {
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 0, scratch(0)), SysError::RangeError)
}

pub fn a_retype_makes_at_most_one_l2_cnode_of_objects(env: &Env) -> Outcome {
    expect_err(retype(env.ram, CapType::Endpoint, 0, 0, 257, scratch(0)), SysError::RangeError)?;
    expect_err(retype(env.ram, CapType::Endpoint, 0, 0, 1 << 32, scratch(0)), SysError::RangeError)
}

pub fn a_retype_stops_at_the_last_slot_of_its_l2_cnode(env: &Env) -> Outcome {
    let last = CapAddr::new(0, 255);
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 2, last), SysError::RangeError)?;
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 2, CapAddr::new(0, 254)))?;
    expect_eq(expect_ok(identify(last))?.base, env.ram_base + PAGE_SIZE)
}

pub fn many_objects_fill_consecutive_slots_from_consecutive_memory(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 0, 16, scratch(0)))?;
    for i in 0..16 {
        let endpoint = expect_ok(identify(scratch(i)))?;
        expect_eq(
            (endpoint.ctype, endpoint.base),
            (CapType::Endpoint as u64, env.ram_base + u64::from(i) * 2048),
        )?;
    }
    expect_err(identify(scratch(16)), SysError::SlotEmpty)
}

pub fn memory_already_retyped_is_not_retyped_again(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 4 * PAGE_SIZE, 0, 1, scratch(0)))?;
    let revoke_first = SysError::RevokeFirst;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 3 * PAGE_SIZE, 1, scratch(1)), revoke_first)?;
    expect_err(retype(env.ram, CapType::VNodeL3, 0, 0, 1, scratch(1)), revoke_first)?;
    expect_err(retype(env.ram, CapType::Ram, 8 * PAGE_SIZE, 0, 1, scratch(1)), revoke_first)?;
    expect_err(retype(env.ram, CapType::Endpoint, 0, 2 * PAGE_SIZE + 2048, 1, scratch(1)), revoke_first)?;
    // Right after it, the memory is free.
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 4 * PAGE_SIZE, 1, scratch(1)))
}

pub fn a_copy_of_ram_sees_what_the_original_retyped(env: &Env) -> Outcome {
    expect_ok(copy(env.ram, scratch(0)))?;
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, scratch(1)))?;
    expect_err(retype(scratch(0), CapType::Frame, PAGE_SIZE, 0, 1, scratch(2)), SysError::RevokeFirst)?;
    expect_ok(retype(scratch(0), CapType::Frame, PAGE_SIZE, PAGE_SIZE, 1, scratch(2)))?;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, PAGE_SIZE, 1, scratch(3)), SysError::RevokeFirst)
}

pub fn a_retype_into_an_occupied_slot_creates_nothing(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 1 << 20, 1, scratch(2)))?;
    expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 3, scratch(0)), SysError::SlotOccupied)?;
    expect_err(identify(scratch(0)), SysError::SlotEmpty)?;
    expect_err(identify(scratch(1)), SysError::SlotEmpty)?;
    // The memory was not taken either.
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 2, scratch(0)))
}

pub fn a_retype_from_an_empty_slot_is_slot_empty(_env: &Env) -> Outcome {
    expect_err(retype(scratch(5), CapType::Frame, PAGE_SIZE, 0, 1, scratch(0)), SysError::SlotEmpty)
}

pub fn only_ram_and_frames_are_retyped(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 0, 1, scratch(0)))?;
    expect_ok(retype(env.ram, CapType::VNodeL3, 0, PAGE_SIZE, 1, scratch(1)))?;
    expect_ok(retype(env.ram, CapType::L2CNode, 0, 4 * PAGE_SIZE, 1, scratch(2)))?;
    for source in [scratch(0), scratch(1), scratch(2), slot::KERNEL, slot::ROOT_CNODE, slot::DISPATCHER] {
        expect_err(retype(source, CapType::Frame, PAGE_SIZE, 0, 1, scratch(3)), SysError::InvalidCapability)?;
    }
    Ok(())
}

pub fn frames_split_into_smaller_frames(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 4 * PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(retype(scratch(0), CapType::Frame, PAGE_SIZE, PAGE_SIZE, 2, scratch(1)))?;
    let (first, second) = (expect_ok(identify(scratch(1)))?, expect_ok(identify(scratch(2)))?);
    expect_eq(
        (first.ctype, first.base, second.base, second.size_bytes),
        (CapType::Frame as u64, env.ram_base + PAGE_SIZE, env.ram_base + 2 * PAGE_SIZE, PAGE_SIZE),
    )
}

pub fn frames_split_only_into_frames(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 4 * PAGE_SIZE, 0, 1, scratch(0)))?;
    for ty in [CapType::Ram, CapType::VNodeL3, CapType::Endpoint, CapType::UrpcFrame] {
        let object_bytes = if ty.fixed_size().is_some() { 0 } else { PAGE_SIZE };
        expect_err(retype(scratch(0), ty, object_bytes, 0, 1, scratch(1)), SysError::IllegalOperation)?;
    }
    Ok(())
}

pub fn a_frame_splits_only_within_itself(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 4 * PAGE_SIZE, 0, 1, scratch(0)))?;
    let range_error = SysError::RangeError;
    expect_err(retype(scratch(0), CapType::Frame, PAGE_SIZE, 4 * PAGE_SIZE, 1, scratch(1)), range_error)?;
    expect_err(retype(scratch(0), CapType::Frame, 2 * PAGE_SIZE, 3 * PAGE_SIZE, 1, scratch(1)), range_error)?;
    expect_err(retype(scratch(0), CapType::Frame, 8 * PAGE_SIZE, 0, 1, scratch(1)), range_error)
}

pub fn split_frames_do_not_overlap_until_revoked(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 4 * PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(retype(scratch(0), CapType::Frame, 2 * PAGE_SIZE, 0, 1, scratch(1)))?;
    expect_err(
        retype(scratch(0), CapType::Frame, PAGE_SIZE, PAGE_SIZE, 1, scratch(2)),
        SysError::RevokeFirst,
    )?;
    expect_ok(revoke(scratch(0)))?;
    expect_err(identify(scratch(1)), SysError::SlotEmpty)?;
    expect_ok(retype(scratch(0), CapType::Frame, PAGE_SIZE, PAGE_SIZE, 1, scratch(2)))
}

pub fn retype_needs_the_write_right(env: &Env) -> Outcome {
    let all_but_write = ALL & !Rights::WRITE.bits();
    expect_ok(mint(env.ram, scratch(0), all_but_write, 0))?;
    expect_err(
        retype(scratch(0), CapType::Frame, PAGE_SIZE, 0, 1, scratch(1)),
        SysError::InsufficientRights,
    )?;
    expect_ok(mint(env.ram, scratch(2), RW, 0))?;
    expect_ok(retype(scratch(2), CapType::Frame, PAGE_SIZE, 0, 1, scratch(1)))
}

pub fn a_read_only_frame_is_not_split(env: &Env) -> Outcome {
    expect_ok(retype(env.ram, CapType::Frame, 2 * PAGE_SIZE, 0, 1, scratch(0)))?;
    expect_ok(mint(scratch(0), scratch(1), R, 0))?;
    expect_err(retype(scratch(1), CapType::Frame, PAGE_SIZE, 0, 1, scratch(2)), SysError::InsufficientRights)
}

pub fn new_objects_have_the_rights_of_their_source(env: &Env) -> Outcome {
    expect_ok(mint(env.ram, scratch(0), RW, 0))?;
    expect_ok(retype(scratch(0), CapType::Frame, 2 * PAGE_SIZE, 0, 1, scratch(1)))?;
    expect_eq(expect_ok(identify(scratch(1)))?.rights, RW)?;
    expect_ok(retype(scratch(1), CapType::Frame, PAGE_SIZE, 0, 1, scratch(2)))?;
    expect_eq(expect_ok(identify(scratch(2)))?.rights, RW)
}

pub fn address_space_ids_run_out_and_a_refused_retype_makes_nothing(env: &Env) -> Outcome {
    // 255 ids per core (0 is never given out), one of them this program's own.
    const FREE_IDS: u32 = 254;
    // More roots than scratch slots: they go into the modules CNode, whose only
    // capability is the archive in slot 0.
    let root = |index: u32| CapAddr::new(slot::MODULE_ARCHIVE.l1_index(), 1 + index);
    let all_ids = u64::from(FREE_IDS) + 1;
    expect_err(retype(env.ram, CapType::VNodeL0, 0, 0, all_ids, root(0)), SysError::NotEnoughMemory)?;
    // The roots made before the ids ran out were taken back, ids and memory alike.
    for i in 0..=FREE_IDS {
        expect_err(identify(root(i)), SysError::SlotEmpty)?;
    }
    expect_ok(retype(env.ram, CapType::VNodeL0, 0, 0, u64::from(FREE_IDS), root(0)))?;
    let past_the_last = all_ids * PAGE_SIZE;
    let one_more = retype(env.ram, CapType::VNodeL0, 0, past_the_last, 1, root(FREE_IDS));
    expect_err(one_more, SysError::NotEnoughMemory)?;
    // Deleting a root gives its id back.
    expect_ok(delete(root(0)))?;
    expect_ok(retype(env.ram, CapType::VNodeL0, 0, past_the_last, 1, root(FREE_IDS)))
}

pub fn objects_can_be_placed_in_any_l2_cnode_of_the_cspace(env: &Env) -> Outcome {
    // The last slot of the CNode that holds the program's image frames is free.
    let elsewhere = CapAddr::new(1, 255);
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, elsewhere))?;
    expect_eq(expect_ok(identify(elsewhere))?.base, env.ram_base)?;
    expect_ok(delete(elsewhere))?;
    expect_err(identify(elsewhere), SysError::SlotEmpty)
}
