//! The operations every capability supports: identify, copy, mint, retype, delete, revoke.
//!
//! Each checks everything user code controls and returns a [`SysError`] rather than
//! trusting it; none can leave the derivation database inconsistent.

use super::{mdb, Capability, Slot};
use abi::cap::{
    CapType, Rights, L1_CNODE_MAX_SLOTS, L1_CNODE_MIN_SLOTS, L2_CNODE_SLOTS, PAGE_SIZE, SLOT_BYTES,
};
use abi::SysError;
use boot::PhysAddr;

/// The most objects one retype makes (one L2 CNode's worth of slots).
pub const MAX_RETYPE_COUNT: u64 = L2_CNODE_SLOTS;

/// A run of consecutive destination slots in one L2 CNode.
#[derive(Clone, Copy, Debug)]
pub struct DestSlots {
    /// The L2 CNode's physical address.
    pub cnode: PhysAddr,
    /// Index of the first slot.
    pub first: u64,
}

impl DestSlots {
    pub fn slot(&self, i: u64) -> Slot {
        Slot::in_cnode(self.cnode, self.first + i)
    }
}

/// Copies the capability in `src` into the empty slot `dest`, with the same rights. A copy
/// is never mapped, whatever its source is.
pub fn copy(src: Slot, dest: Slot) -> Result<(), SysError> {
    mint(src, dest, Rights::ALL, None)
}

/// Copies `src` into `dest` with `rights` ∩ the original's. For an unbadged endpoint a
/// non-zero `badge` makes a badged child endpoint; a badge on anything else is an error.
pub fn mint(src: Slot, dest: Slot, rights: Rights, badge: Option<u64>) -> Result<(), SysError> {
    let original = src.cap();
    if original.is_null() {
        return Err(SysError::SlotEmpty);
    }
    if !dest.cap().is_null() {
        return Err(SysError::SlotOccupied);
    }
    if src == dest {
        return Err(SysError::SlotOccupied);
    }
    let mut cap = original;
    cap.rights = original.rights.intersect(rights);
    if cap.ctype.is_mappable_frame() || cap.ctype.is_vnode() {
        cap.set_mapping(None);
    }
    match badge {
        Some(b) if b != 0 => {
            if cap.ctype != CapType::Endpoint || original.word0 != 0 {
                return Err(SysError::InvalidArgument);
            }
            cap.word0 = b;
            dest.set_cap(cap);
            dest.set_remote(0);
            mdb::insert_child(src, None, dest);
        }
        _ => {
            dest.set_cap(cap);
            // A copy has the same relations elsewhere as its source, but is no anchor.
            dest.set_remote(src.remote() & !abi::method::remote::ANCHOR);
            mdb::insert_after(src, dest);
        }
    }
    crate::objects::referenced(&cap);
    Ok(())
}

/// The size of one object of type `ty`, given the caller's `object_bytes`.
fn object_size(ty: CapType, object_bytes: u64) -> Result<u64, SysError> {
    if let Some(fixed) = ty.fixed_size() {
        return if object_bytes == 0 || object_bytes == fixed {
            Ok(fixed)
        } else {
            Err(SysError::RangeError)
        };
    }
    match ty {
        CapType::Ram | CapType::Frame | CapType::DevFrame | CapType::UrpcFrame => {
            if object_bytes == 0 || !object_bytes.is_multiple_of(PAGE_SIZE) {
                Err(SysError::RangeError)
            } else {
                Ok(object_bytes)
            }
        }
        CapType::L1CNode => {
            let slots = object_bytes / SLOT_BYTES;
            let ok = object_bytes.is_multiple_of(SLOT_BYTES)
                && slots.is_power_of_two()
                && (L1_CNODE_MIN_SLOTS..=L1_CNODE_MAX_SLOTS).contains(&slots);
            if ok {
                Ok(object_bytes)
            } else {
                Err(SysError::RangeError)
            }
        }
        _ => Err(SysError::IllegalOperation),
    }
}

/// Which types a capability of type `from` can be retyped into.
fn may_retype(from: CapType, to: CapType) -> bool {
    match from {
        CapType::Ram => to.is_memory_object() && to != CapType::DevFrame,
        CapType::Frame | CapType::DevFrame => to == from,
        _ => false,
    }
}

/// Makes `count` objects of type `ty` from the memory `offset` bytes into `src`, with a
/// capability to each in `dest`. Refused if any of that memory is already in use by a
/// descendant of the source (`RevokeFirst`), so no two live objects ever overlap.
/// `prepare` gives each new capability its type-specific state (an address-space id for
/// an L0 table) and may refuse.
pub fn retype(
    src: Slot,
    ty: CapType,
    object_bytes: u64,
    offset: u64,
    count: u64,
    dest: DestSlots,
    prepare: &mut dyn FnMut(&mut Capability) -> Result<(), SysError>,
) -> Result<(), SysError> {
    let source = src.cap();
    if source.is_null() {
        return Err(SysError::SlotEmpty);
    }
    if !matches!(source.ctype, CapType::Ram | CapType::Frame | CapType::DevFrame) {
        return Err(SysError::InvalidCapability);
    }
    if !may_retype(source.ctype, ty) {
        return Err(SysError::IllegalOperation);
    }
    // Retyping zeroes the new objects: only a capability that may write the memory may.
    if !source.rights.contains(Rights::WRITE) {
        return Err(SysError::InsufficientRights);
    }
    let size = object_size(ty, object_bytes)?;
    if count == 0 || count > MAX_RETYPE_COUNT || dest.first + count > L2_CNODE_SLOTS {
        return Err(SysError::RangeError);
    }
    // Objects are naturally aligned up to a page (tables, CNodes, dispatchers need it).
    let align = size.clamp(SLOT_BYTES, PAGE_SIZE);
    let start = source.base.0.checked_add(offset).ok_or(SysError::RangeError)?;
    if !offset.is_multiple_of(align) || !start.is_multiple_of(align) {
        return Err(SysError::AlignmentError);
    }
    let total = size.checked_mul(count).ok_or(SysError::RangeError)?;
    if offset.checked_add(total).is_none_or(|end| end > source.size) {
        return Err(SysError::RangeError);
    }
    let end = start + total;
    if mdb::descendants(src).any(|d| d.cap().region().is_some_and(|(b, e)| b < end && start < e)) {
        return Err(SysError::RevokeFirst);
    }
    if (0..count).any(|i| !dest.slot(i).cap().is_null()) {
        return Err(SysError::SlotOccupied);
    }
    let mut previous = None;
    for i in 0..count {
        let mut cap = Capability::memory(ty, PhysAddr(start + i * size), size, source.owner);
        cap.rights = source.rights;
        if ty == CapType::L1CNode {
            cap.aux = (size / SLOT_BYTES) as u32;
        }
        if let Err(e) = prepare(&mut cap) {
            // Undo what this call created so far: nothing else has seen it.
            for j in 0..i {
                delete(dest.slot(j));
            }
            return Err(e);
        }
        if ty != CapType::DevFrame && ty != CapType::Ram {
            crate::phys::zero(cap.base, size);
        }
        let slot = dest.slot(i);
        slot.set_cap(cap);
        slot.set_remote(0);
        mdb::insert_child(src, previous, slot);
        crate::objects::referenced(&cap);
        previous = Some(slot);
    }
    Ok(())
}

/// Empties `slot`. If it held the last capability to its object, the object is destroyed:
/// a CNode's slots are deleted in turn, and other objects are released by
/// [`crate::objects::destroy`]. A mapped frame or table is unmapped first.
pub fn delete(slot: Slot) {
    delete_at_depth(slot, 0);
}

/// CNodes hold CNodes; bound the recursion so a deep (or cyclic) chain cannot overflow the
/// kernel stack. Beyond the bound the capability is removed without destroying the
/// object's contents; revoking the memory it came from still reclaims them.
const MAX_CNODE_DEPTH: u32 = 4;

fn delete_at_depth(slot: Slot, depth: u32) {
    let cap = slot.cap();
    if cap.is_null() {
        return;
    }
    crate::objects::unmap(slot);
    let last = crate::objects::released(&cap, mdb::is_final(slot));
    mdb::unlink(slot);
    slot.set_cap(Capability::NULL);
    slot.set_remote(0);
    if !last {
        return;
    }
    match cap.ctype {
        CapType::L1CNode | CapType::L2CNode if depth < MAX_CNODE_DEPTH => {
            for i in 0..cap.size / SLOT_BYTES {
                delete_at_depth(Slot::in_cnode(cap.base, i), depth + 1);
            }
        }
        _ => crate::objects::destroy(&cap),
    }
}

/// Records `relations` (`abi::method::remote` bits) on every copy of `slot`'s capability.
/// A copy's anchor mark stays as it is.
pub fn set_remote(slot: Slot, relations: u64) {
    for copy in mdb::copies(slot) {
        copy.set_remote(relations | copy.remote() & abi::method::remote::ANCHOR);
    }
}

/// How many capabilities to `slot`'s object this core holds, the monitor's anchor not
/// counted.
pub fn counted_copies(slot: Slot) -> usize {
    mdb::copies(slot).filter(|c| c.remote() & abi::method::remote::ANCHOR == 0).count()
}

/// Deletes every copy of `slot`'s object except `slot` itself and anchors.
pub fn delete_other_copies(slot: Slot) {
    let cap = slot.cap();
    // Each delete changes the list: look the next victim up afresh.
    while slot.cap() == cap {
        let victim = mdb::copies(slot).find(|&c| c != slot && c.remote() & abi::method::remote::ANCHOR == 0);
        match victim {
            Some(v) => delete(v),
            None => return,
        }
    }
}

/// Deletes every descendant of `slot`'s object.
pub fn delete_descendants(slot: Slot) {
    let cap = slot.cap();
    while slot.cap() == cap {
        match mdb::first_descendant(slot) {
            Some(v) => delete(v),
            None => return,
        }
    }
}

/// Whether a program may carry out `method` (delete, revoke or retype) on `slot` by itself,
/// or must ask its monitor because the object has relations on other cores that this core's
/// database cannot see. Deleting a copy that is not this core's last is always local.
pub fn needs_monitor(slot: Slot, method: u64) -> bool {
    let relations = slot.remote() & abi::method::remote::ALL;
    match method {
        abi::method::DELETE => relations != 0 && counted_copies(slot) <= 1,
        abi::method::REVOKE => {
            relations & (abi::method::remote::COPIES | abi::method::remote::DESCENDANTS) != 0
        }
        abi::method::RETYPE => {
            relations & (abi::method::remote::COPIES | abi::method::remote::DESCENDANTS) != 0
        }
        _ => false,
    }
}

/// Deletes every other copy of `slot`'s capability and every descendant of its object,
/// leaving `slot` itself.
pub fn revoke(slot: Slot) -> Result<(), SysError> {
    let cap = slot.cap();
    if cap.is_null() {
        return Err(SysError::SlotEmpty);
    }
    // Deleting one capability can delete others (a CNode's contents), so look the next
    // victim up afresh each time.
    loop {
        if slot.cap() != cap {
            // `slot` itself lived in something the revoke destroyed.
            return Ok(());
        }
        let victim = mdb::other_copy(slot).or_else(|| mdb::first_descendant(slot));
        match victim {
            Some(v) => delete(v),
            None => return Ok(()),
        }
    }
}
