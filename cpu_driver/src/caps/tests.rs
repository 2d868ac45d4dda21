//! Host tests of the capability system: each operation's rules, and a randomized test of
//! the derivation database against a simple model.

use super::ops::{self, DestSlots};
use super::Slot;
use crate::testing::{world, World};
use abi::cap::{CapType, Rights, PAGE_SIZE};
use abi::SysError;
use boot::PhysAddr;
use proptest::prelude::*;

#[test]
fn a_slot_the_kernel_keeps_for_itself_holds_a_copy_that_keeps_memory_in_use() {
    let w = world(256 * 1024);
    w.retype(0, CapType::Endpoint, 0, 0, 1, 10).unwrap();
    // Kernel-held slots live outside any CNode: here, at the top of the test arena.
    let kernel_slot = Slot(PhysAddr(w.ram_base + 200 * 1024));
    unsafe { crate::phys::ptr::<super::Cte>(kernel_slot.0).write(super::Cte::EMPTY) };
    ops::copy(w.slot(10), kernel_slot).unwrap();
    ops::delete(w.slot(10));
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 20), Err(SysError::RevokeFirst));
    ops::revoke(w.ram).unwrap();
    assert!(kernel_slot.cap().is_null(), "revoking the memory reaches the kernel's copy too");
}

#[test]
fn capability_addresses_resolve_through_the_l1_and_l2_cnodes() {
    let w = world(256 * 1024);
    w.retype(0, CapType::L1CNode, 16 * 64, 0, 1, 10).unwrap();
    w.retype(0, CapType::L2CNode, 0, 64 * 1024, 1, 11).unwrap();
    let l1 = w.slot(10).cap();
    ops::copy(w.slot(11), Slot::in_cnode(l1.base, 3)).unwrap();
    let l2 = w.slot(11).cap().base;
    let found = super::lookup(l1.base, 16, abi::CapAddr::new(3, 9)).unwrap();
    assert_eq!(found, Slot::in_cnode(l2, 9));
    assert_eq!(
        super::lookup(l1.base, 16, abi::CapAddr::new(16, 0)),
        Err(SysError::FailedLookup),
        "beyond L1"
    );
    assert_eq!(
        super::lookup(l1.base, 16, abi::CapAddr::new(2, 0)),
        Err(SysError::FailedLookup),
        "no L2 there"
    );
}

#[test]
fn ram_retypes_into_every_memory_type_as_zeroed_objects() {
    let w = world(1 << 20);
    // Dirty the memory first: retype must hand out zeroed objects.
    crate::phys::test_ram_fill(PhysAddr(w.ram_base), 1 << 20, 0xa5);
    let types = [
        (CapType::Frame, 2 * PAGE_SIZE),
        (CapType::L1CNode, 16 * 64),
        (CapType::L2CNode, 0),
        (CapType::VNodeL0, 0),
        (CapType::VNodeL1, 0),
        (CapType::VNodeL2, 0),
        (CapType::VNodeL3, 0),
        (CapType::Dispatcher, 0),
        (CapType::Endpoint, 0),
        (CapType::UrpcFrame, PAGE_SIZE),
        (CapType::Ram, PAGE_SIZE),
    ];
    for (i, (ty, bytes)) in types.iter().enumerate() {
        let offset = i as u64 * 64 * 1024;
        w.retype(0, *ty, *bytes, offset, 1, 10 + i as u64).unwrap_or_else(|e| panic!("{ty:?}: {e:?}"));
        let cap = w.slot(10 + i as u64).cap();
        assert_eq!(cap.ctype, *ty);
        assert_eq!(cap.base, PhysAddr(w.ram_base + offset));
        if *ty != CapType::Ram {
            let first = unsafe { *crate::phys::ptr::<u64>(cap.base) };
            assert_eq!(first, 0, "{ty:?} is zeroed");
        }
    }
}

#[test]
fn fixed_size_types_refuse_other_sizes_and_variable_ones_bad_sizes() {
    let w = world(1 << 20);
    assert_eq!(w.retype(0, CapType::VNodeL3, 8192, 0, 1, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::Frame, 100, 0, 1, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::Frame, 0, 0, 1, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::L1CNode, 24 * 64, 0, 1, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::L1CNode, 8 * 64, 0, 1, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::Kernel, 0, 0, 1, 10), Err(SysError::IllegalOperation));
    assert_eq!(w.retype(0, CapType::DevFrame, PAGE_SIZE, 0, 1, 10), Err(SysError::IllegalOperation));
}

#[test]
fn misaligned_offsets_and_ranges_past_the_end_are_refused() {
    let w = world(64 * 1024);
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 100, 1, 10), Err(SysError::AlignmentError));
    assert_eq!(w.retype(0, CapType::Endpoint, 0, 1024, 1, 10), Err(SysError::AlignmentError));
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 60 * 1024, 2, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 0, 0, 10), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 0, 2, 255), Err(SysError::RangeError));
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, u64::MAX - 4095, 1, 10), Err(SysError::RangeError));
}

#[test]
fn retyping_memory_already_retyped_is_refused_but_disjoint_memory_is_not() {
    let w = world(64 * 1024);
    w.retype(0, CapType::Frame, PAGE_SIZE, 0, 4, 10).unwrap();
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 3 * PAGE_SIZE, 1, 20), Err(SysError::RevokeFirst));
    assert_eq!(w.retype(0, CapType::VNodeL3, 0, 0, 1, 20), Err(SysError::RevokeFirst));
    w.retype(0, CapType::Frame, PAGE_SIZE, 4 * PAGE_SIZE, 1, 20).unwrap();
}

#[test]
fn a_copy_of_ram_sees_what_the_original_retyped() {
    let w = world(64 * 1024);
    ops::copy(w.ram, w.slot(1)).unwrap();
    w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 10).unwrap();
    assert_eq!(w.retype(1, CapType::Frame, PAGE_SIZE, 0, 1, 11), Err(SysError::RevokeFirst));
}

#[test]
fn retype_into_an_occupied_slot_creates_nothing() {
    let w = world(64 * 1024);
    w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 12).unwrap();
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, PAGE_SIZE, 3, 10), Err(SysError::SlotOccupied));
    assert!(w.slot(10).cap().is_null() && w.slot(11).cap().is_null());
    w.retype(0, CapType::Frame, PAGE_SIZE, PAGE_SIZE, 1, 10).unwrap();
}

#[test]
fn frames_split_into_smaller_frames_but_not_into_other_types() {
    let w = world(64 * 1024);
    w.retype(0, CapType::Frame, 4 * PAGE_SIZE, 0, 1, 10).unwrap();
    w.retype(10, CapType::Frame, PAGE_SIZE, PAGE_SIZE, 2, 20).unwrap();
    assert_eq!(w.slot(21).cap().base, PhysAddr(w.ram_base + 2 * PAGE_SIZE));
    assert_eq!(w.retype(10, CapType::VNodeL3, 0, 0, 1, 30), Err(SysError::IllegalOperation));
    w.retype(0, CapType::Endpoint, 0, 8 * PAGE_SIZE, 1, 11).unwrap();
    assert_eq!(w.retype(11, CapType::Endpoint, 0, 0, 1, 30), Err(SysError::InvalidCapability));
}

#[test]
fn copies_keep_rights_and_mints_can_only_shrink_them() {
    let w = world(64 * 1024);
    w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 10).unwrap();
    ops::mint(w.slot(10), w.slot(11), Rights::READ, None).unwrap();
    assert_eq!(w.slot(11).cap().rights, Rights::READ);
    ops::mint(w.slot(11), w.slot(12), Rights::ALL, None).unwrap();
    assert_eq!(w.slot(12).cap().rights, Rights::READ, "a mint cannot add rights");
    ops::copy(w.slot(12), w.slot(13)).unwrap();
    assert_eq!(w.slot(13).cap().rights, Rights::READ);
    assert_eq!(ops::copy(w.slot(10), w.slot(11)), Err(SysError::SlotOccupied));
    assert_eq!(ops::copy(w.slot(40), w.slot(41)), Err(SysError::SlotEmpty));
    assert_eq!(ops::mint(w.slot(10), w.slot(41), Rights::ALL, Some(5)), Err(SysError::InvalidArgument));
}

#[test]
fn badged_endpoints_are_children_of_the_unbadged_one() {
    let w = world(64 * 1024);
    w.retype(0, CapType::Endpoint, 0, 0, 1, 10).unwrap();
    ops::mint(w.slot(10), w.slot(11), Rights::ALL, Some(42)).unwrap();
    assert_eq!(w.slot(11).cap().word0, 42);
    assert_eq!(ops::mint(w.slot(11), w.slot(12), Rights::ALL, Some(7)), Err(SysError::InvalidArgument));
    ops::revoke(w.slot(10)).unwrap();
    assert!(w.slot(11).cap().is_null());
}

#[test]
fn deleting_the_last_capability_makes_the_memory_retypable() {
    let w = world(64 * 1024);
    w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 10).unwrap();
    ops::copy(w.slot(10), w.slot(11)).unwrap();
    ops::delete(w.slot(10));
    assert_eq!(
        w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 20),
        Err(SysError::RevokeFirst),
        "a copy remains"
    );
    ops::delete(w.slot(11));
    w.retype(0, CapType::Frame, PAGE_SIZE, 0, 1, 20).unwrap();
}

#[test]
fn revoke_deletes_every_descendant_and_copy_but_not_itself() {
    let w = world(256 * 1024);
    ops::copy(w.ram, w.slot(1)).unwrap();
    w.retype(0, CapType::Ram, 64 * 1024, 0, 2, 10).unwrap();
    w.retype(10, CapType::Frame, PAGE_SIZE, 0, 3, 20).unwrap();
    w.retype(11, CapType::VNodeL3, 0, 0, 1, 30).unwrap();
    ops::copy(w.slot(20), w.slot(40)).unwrap();
    ops::revoke(w.ram).unwrap();
    assert!(!w.ram.cap().is_null());
    for i in 1..64 {
        assert!(w.slot(i).cap().is_null(), "slot {i} survived the revoke");
    }
    w.retype(0, CapType::Frame, 256 * 1024, 0, 1, 10).unwrap();
}

#[test]
fn deleting_a_cnode_deletes_the_capabilities_inside_it() {
    let w = world(256 * 1024);
    w.retype(0, CapType::L2CNode, 0, 0, 1, 10).unwrap();
    let inner = w.slot(10).cap().base;
    // A frame whose only capability lives inside the CNode.
    ops::retype(
        w.ram,
        CapType::Frame,
        PAGE_SIZE,
        64 * 1024,
        1,
        DestSlots { cnode: inner, first: 3 },
        &mut crate::objects::prepare,
    )
    .unwrap();
    assert_eq!(w.retype(0, CapType::Frame, PAGE_SIZE, 64 * 1024, 1, 20), Err(SysError::RevokeFirst));
    ops::delete(w.slot(10));
    w.retype(0, CapType::Frame, PAGE_SIZE, 64 * 1024, 1, 20).unwrap();
}

#[test]
fn root_tables_get_distinct_address_space_ids_that_are_reused_after_delete() {
    let w = world(64 * 1024);
    w.retype(0, CapType::VNodeL0, 0, 0, 2, 10).unwrap();
    let (a, b) = (w.slot(10).cap().aux, w.slot(11).cap().aux);
    assert!(a != 0 && b != 0 && a != b);
    ops::delete(w.slot(10));
    w.retype(0, CapType::VNodeL0, 0, 0, 1, 12).unwrap();
    assert_eq!(w.slot(12).cap().aux, a);
}

/// The model: for each slot, the capability's (type, base, size) and whether it is a RAM
/// capability made from nothing.
#[derive(Clone, Debug)]
enum Op {
    Retype { src: u8, frames: bool, offset_pages: u8, count: u8, dest: u8 },
    Copy { src: u8, dest: u8 },
    Delete { slot: u8 },
    Revoke { slot: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..24, any::<bool>(), 0u8..16, 1u8..4, 0u8..24).prop_map(
            |(src, frames, offset_pages, count, dest)| Op::Retype { src, frames, offset_pages, count, dest }
        ),
        (0u8..24, 0u8..24).prop_map(|(src, dest)| Op::Copy { src, dest }),
        (1u8..24).prop_map(|slot| Op::Delete { slot }),
        (0u8..24).prop_map(|slot| Op::Revoke { slot }),
    ]
}

type Model = Vec<Option<(CapType, u64, u64)>>;

fn region_within(inner: (u64, u64), outer: (u64, u64)) -> bool {
    inner.0 >= outer.0 && inner.0 + inner.1 <= outer.0 + outer.1
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

/// What the model says `op` does; mirrors the rules, not the implementation.
fn model_apply(model: &mut Model, op: &Op) -> bool {
    let same = |a: &(CapType, u64, u64), b: &(CapType, u64, u64)| a == b;
    let derived = |parent: &(CapType, u64, u64), c: &(CapType, u64, u64)| {
        !same(parent, c)
            && region_within((c.1, c.2), (parent.1, parent.2))
            && (parent.0 == CapType::Ram || (parent.0 == CapType::Frame && c.0 == CapType::Frame))
    };
    match *op {
        Op::Retype { src, frames, offset_pages, count, dest } => {
            let Some(s) = model[src as usize] else { return false };
            let ty = if frames { CapType::Frame } else { CapType::Ram };
            if s.0 != CapType::Ram && !(s.0 == CapType::Frame && ty == CapType::Frame) {
                return false;
            }
            let (offset, total) = (u64::from(offset_pages) * PAGE_SIZE, u64::from(count) * PAGE_SIZE);
            if offset + total > s.2 {
                return false;
            }
            let range = (s.1 + offset, total);
            if model.iter().flatten().any(|c| derived(&s, c) && overlaps((c.1, c.2), range)) {
                return false;
            }
            let dests = dest as usize..dest as usize + count as usize;
            if dests.end > model.len() || dests.clone().any(|d| model[d].is_some()) {
                return false;
            }
            for (i, d) in dests.enumerate() {
                model[d] = Some((ty, range.0 + i as u64 * PAGE_SIZE, PAGE_SIZE));
            }
            true
        }
        Op::Copy { src, dest } => {
            let (Some(s), None) = (model[src as usize], model[dest as usize]) else { return false };
            if src == dest {
                return false;
            }
            model[dest as usize] = Some(s);
            true
        }
        Op::Delete { slot } => {
            model[slot as usize] = None;
            true
        }
        Op::Revoke { slot } => {
            let Some(s) = model[slot as usize] else { return false };
            for (i, c) in model.iter_mut().enumerate() {
                if i != slot as usize && c.is_some_and(|c| same(&s, &c) || derived(&s, &c)) {
                    *c = None;
                }
            }
            true
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Random retypes, copies, deletes and revokes leave every slot as the model predicts,
    /// and the derivation list consistent.
    #[test]
    fn the_derivation_database_agrees_with_a_simple_model(ops_list in proptest::collection::vec(op(), 1..60)) {
        let w = world(16 * PAGE_SIZE);
        let mut model: Model = vec![None; 24];
        model[0] = Some((CapType::Ram, w.ram_base, 16 * PAGE_SIZE));
        for op in &ops_list {
            let expected = model_apply(&mut model, op);
            let result = match *op {
                Op::Retype { src, frames, offset_pages, count, dest } => {
                    let ty = if frames { CapType::Frame } else { CapType::Ram };
                    if dest as u64 + count as u64 > 24 {
                        Err(SysError::RangeError)
                    } else {
                        w.retype(src as u64, ty, PAGE_SIZE, offset_pages as u64 * PAGE_SIZE, count as u64, dest as u64)
                    }
                }
                Op::Copy { src, dest } => ops::copy(w.slot(src as u64), w.slot(dest as u64)),
                Op::Delete { slot } => {
                    ops::delete(w.slot(slot as u64));
                    Ok(())
                }
                Op::Revoke { slot } => ops::revoke(w.slot(slot as u64)),
            };
            prop_assert_eq!(result.is_ok(), expected, "{:?} gave {:?}", op, result);
            for (i, m) in model.iter().enumerate() {
                let cap = w.slot(i as u64).cap();
                let actual = (!cap.is_null()).then_some((cap.ctype, cap.base.0, cap.size));
                prop_assert_eq!(actual, *m, "slot {} after {:?}", i, op);
            }
            check_links(&w)?;
        }
    }
}

/// Every non-empty slot's neighbours link back to it.
fn check_links(w: &World) -> Result<(), TestCaseError> {
    for i in 0..24 {
        let s = w.slot(i);
        if s.cap().is_null() {
            continue;
        }
        if let Some(n) = s.next() {
            prop_assert_eq!(n.prev(), Some(s));
            prop_assert!(!n.cap().is_null());
        }
        if let Some(p) = s.prev() {
            prop_assert_eq!(p.next(), Some(s));
        }
    }
    Ok(())
}

/// An address space: L0 at slot 10, L1 at 11, L2 at 12, L3 at 13, linked so that the L3
/// covers virtual addresses from 0x40_0000.
fn address_space(w: &World) {
    w.retype(0, CapType::VNodeL0, 0, 0, 1, 10).unwrap();
    w.retype(0, CapType::VNodeL1, 0, PAGE_SIZE, 1, 11).unwrap();
    w.retype(0, CapType::VNodeL2, 0, 2 * PAGE_SIZE, 1, 12).unwrap();
    w.retype(0, CapType::VNodeL3, 0, 3 * PAGE_SIZE, 1, 13).unwrap();
    crate::vspace::map(w.slot(10), 0, w.slot(11), Rights::ALL, 0, 1).unwrap();
    crate::vspace::map(w.slot(11), 0, w.slot(12), Rights::ALL, 0, 1).unwrap();
    crate::vspace::map(w.slot(12), 2, w.slot(13), Rights::ALL, 0, 1).unwrap();
}

fn rw() -> Rights {
    Rights::READ.union(Rights::WRITE)
}

#[test]
fn tables_and_frames_map_and_unmap_through_their_capabilities() {
    let w = world(256 * 1024);
    address_space(&w);
    w.retype(0, CapType::Frame, 2 * PAGE_SIZE, 8 * PAGE_SIZE, 1, 20).unwrap();
    crate::vspace::map(w.slot(13), 5, w.slot(20), rw(), 0, 2).unwrap();
    let m = w.slot(20).cap().mapping().unwrap();
    assert_eq!((m.vaddr, m.pages), (0x40_0000 + 5 * PAGE_SIZE, 2));
    assert_eq!(crate::vspace::map(w.slot(13), 5, w.slot(20), rw(), 0, 1), Err(SysError::AlreadyMapped));
    assert!(crate::vspace::unmap(w.slot(20)));
    assert!(w.slot(20).cap().mapping().is_none());
    assert!(!crate::vspace::unmap(w.slot(20)), "nothing left to unmap");
    crate::vspace::map(w.slot(13), 5, w.slot(20), Rights::READ, 1, 1).unwrap();
}

#[test]
fn a_table_is_mapped_in_one_place_only_whichever_copy_is_used() {
    let w = world(256 * 1024);
    address_space(&w);
    ops::copy(w.slot(13), w.slot(14)).unwrap();
    assert_eq!(
        crate::vspace::map(w.slot(12), 3, w.slot(14), Rights::ALL, 0, 1),
        Err(SysError::AlreadyMapped)
    );
    // Frames, unlike tables, may be mapped once per copy: that is how memory is shared.
    w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 1, 20).unwrap();
    ops::copy(w.slot(20), w.slot(21)).unwrap();
    crate::vspace::map(w.slot(13), 0, w.slot(20), rw(), 0, 1).unwrap();
    crate::vspace::map(w.slot(13), 1, w.slot(21), rw(), 0, 1).unwrap();
}

#[test]
fn mapping_refuses_wrong_types_levels_ranges_and_overlaps() {
    let w = world(256 * 1024);
    address_space(&w);
    w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 2, 20).unwrap();
    w.retype(0, CapType::VNodeL3, 0, 10 * PAGE_SIZE, 1, 22).unwrap();
    let map = crate::vspace::map;
    assert_eq!(
        map(w.slot(20), 0, w.slot(21), rw(), 0, 1),
        Err(SysError::InvalidCapability),
        "a frame is no table"
    );
    assert_eq!(
        map(w.slot(10), 1, w.slot(22), Rights::ALL, 0, 1),
        Err(SysError::InvalidCapability),
        "L3 under L0"
    );
    assert_eq!(
        map(w.slot(12), 3, w.slot(20), rw(), 0, 1),
        Err(SysError::InvalidCapability),
        "frame in an L2"
    );
    assert_eq!(map(w.slot(13), 512, w.slot(20), rw(), 0, 1), Err(SysError::RangeError));
    assert_eq!(map(w.slot(10), 256, w.slot(11), Rights::ALL, 0, 1), Err(SysError::RangeError), "kernel half");
    assert_eq!(map(w.slot(13), 511, w.slot(20), rw(), 0, 2), Err(SysError::RangeError), "runs off the table");
    assert_eq!(map(w.slot(13), 0, w.slot(20), rw(), 1, 1), Err(SysError::RangeError), "beyond the frame");
    map(w.slot(13), 7, w.slot(20), rw(), 0, 1).unwrap();
    assert_eq!(map(w.slot(13), 7, w.slot(21), rw(), 0, 1), Err(SysError::AlreadyMapped), "overlap");
    assert_eq!(map(w.slot(13), 9, w.slot(21), Rights::ALL, 0, 1), Err(SysError::InvalidArgument), "W and X");
    assert_eq!(
        map(w.slot(13), 9, w.slot(21), Rights::WRITE, 0, 1),
        Err(SysError::InvalidArgument),
        "unreadable"
    );
    assert_eq!(map(w.slot(22), 0, w.slot(21), rw(), 0, 1), Err(SysError::NotMapped), "table not in the tree");
}

#[test]
fn a_read_only_frame_cannot_be_mapped_or_flagged_writable() {
    let w = world(256 * 1024);
    address_space(&w);
    w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 1, 20).unwrap();
    ops::mint(w.slot(20), w.slot(21), Rights::READ, None).unwrap();
    assert_eq!(crate::vspace::map(w.slot(13), 0, w.slot(21), rw(), 0, 1), Err(SysError::InsufficientRights));
    crate::vspace::map(w.slot(13), 0, w.slot(21), Rights::READ, 0, 1).unwrap();
    assert_eq!(crate::vspace::modify_flags(w.slot(13), 0, 1, rw()), Err(SysError::InsufficientRights));
    crate::vspace::modify_flags(w.slot(13), 0, 1, Rights::READ).unwrap();
    assert_eq!(crate::vspace::modify_flags(w.slot(13), 1, 1, Rights::READ), Err(SysError::NotMapped));
}

#[test]
fn deleting_a_mapped_frame_unmaps_it_and_a_deleted_table_leaves_no_stale_mapping() {
    let w = world(256 * 1024);
    address_space(&w);
    w.retype(0, CapType::Frame, PAGE_SIZE, 8 * PAGE_SIZE, 2, 20).unwrap();
    crate::vspace::map(w.slot(13), 0, w.slot(20), rw(), 0, 1).unwrap();
    crate::vspace::map(w.slot(13), 1, w.slot(21), rw(), 0, 1).unwrap();
    ops::delete(w.slot(20));
    // The entry is free again.
    w.retype(0, CapType::Frame, PAGE_SIZE, 12 * PAGE_SIZE, 1, 23).unwrap();
    crate::vspace::map(w.slot(13), 0, w.slot(23), rw(), 0, 1).unwrap();
    // Delete the L3 table: the frame still mapped in it must not be unmapped "elsewhere".
    ops::delete(w.slot(13));
    assert!(!crate::vspace::unmap(w.slot(21)), "its table is gone: nothing to unmap");
    assert!(w.slot(21).cap().mapping().is_none());
}

#[test]
fn remote_relations_send_delete_of_the_last_copy_revoke_and_retype_to_the_monitor() {
    use abi::method::{remote, DELETE, RETYPE, REVOKE};
    let w = world(256 * 1024);
    w.retype(0, CapType::Ram, PAGE_SIZE * 4, 0, 1, 10).unwrap();
    let ram = w.slot(10);
    assert!(!ops::needs_monitor(ram, DELETE) && !ops::needs_monitor(ram, REVOKE));
    ops::set_remote(ram, remote::COPIES);
    for method in [DELETE, REVOKE, RETYPE] {
        assert!(ops::needs_monitor(ram, method), "method {method}");
    }
    // A local copy inherits the relations; deleting one of two local copies stays local.
    ops::copy(ram, w.slot(11)).unwrap();
    assert_eq!(w.slot(11).remote(), remote::COPIES);
    assert!(!ops::needs_monitor(w.slot(11), DELETE));
    ops::delete(w.slot(11));
    assert!(ops::needs_monitor(ram, DELETE), "now the last copy here");
    // Descendants elsewhere block revoke and retype, not a delete of a copy that has
    // others; an ancestor elsewhere only matters for the last copy's delete.
    ops::set_remote(ram, remote::ANCESTORS);
    assert!(!ops::needs_monitor(ram, REVOKE) && !ops::needs_monitor(ram, RETYPE));
    assert!(ops::needs_monitor(ram, DELETE));
    // The monitor clears them and the operations are local again; a deleted slot forgets.
    ops::set_remote(ram, 0);
    assert!(!ops::needs_monitor(ram, DELETE));
    ops::set_remote(ram, remote::ALL);
    ops::delete(ram);
    assert_eq!(ram.remote(), 0);
}

#[test]
fn the_monitors_anchor_is_not_a_copy_a_program_can_count_on() {
    use abi::method::{remote, DELETE};
    let w = world(256 * 1024);
    w.retype(0, CapType::Ram, PAGE_SIZE * 4, 0, 1, 10).unwrap();
    let (program, anchor) = (w.slot(10), w.slot(11));
    ops::copy(program, anchor).unwrap();
    anchor.set_remote(remote::ANCHOR);
    ops::set_remote(program, remote::COPIES);
    assert_eq!(anchor.remote(), remote::COPIES | remote::ANCHOR, "the mark survives new relations");
    assert_eq!(ops::counted_copies(program), 1);
    assert!(ops::needs_monitor(program, DELETE), "the anchor does not make the program's copy one of two");
    // A copy of the anchor is an ordinary copy.
    ops::copy(anchor, w.slot(12)).unwrap();
    assert_eq!(w.slot(12).remote(), remote::COPIES);
    assert_eq!(ops::counted_copies(program), 2);
    assert!(!ops::needs_monitor(program, DELETE));
    // Deleting the other copies keeps the anchor; a retyped object goes with the descendants.
    w.retype(10, CapType::Frame, PAGE_SIZE, 0, 1, 13).unwrap();
    ops::delete_other_copies(anchor);
    assert!(program.cap().is_null() && w.slot(12).cap().is_null() && !anchor.cap().is_null());
    assert!(!w.slot(13).cap().is_null(), "descendants are not copies");
    ops::delete_descendants(anchor);
    assert!(w.slot(13).cap().is_null());
    assert_eq!(ops::counted_copies(anchor), 0);
}
