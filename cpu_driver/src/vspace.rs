//! Address spaces built by user code: translation tables are capabilities, and the kernel
//! only checks them and writes descriptors.
//!
//! The seed's three steps of explicit memory management: user code (1) retypes RAM into a
//! translation table (a VNode), (2) asks the kernel to install it in its parent table, and
//! (3) retypes RAM into frames and asks the kernel to map them in a level-3 table. Each
//! mapped frame or table capability records where it is mapped (address-space id and
//! virtual address), so it can be unmapped later by walking from the address space's root;
//! the walk checks the entry still points at the object, so a stale record (its table was
//! deleted meanwhile) does no harm.
//!
//! An L0 table is the root of an address space and gets an address-space id (ASID) when it
//! is made, so switching address spaces needs no TLB flush. User addresses are the lower
//! half of the 48-bit space: L0 entries 0–255.

use crate::caps::{Capability, Mapping, Slot};
use crate::phys;
use abi::cap::{CapType, Rights, PAGE_SIZE};
use abi::SysError;
use boot::paging::{self, Access, Attributes, MemoryKind, LEVEL_SIZE};
use boot::PhysAddr;

/// Address-space ids per core: 8-bit ASIDs; 0 is never given out.
pub const ASIDS: usize = 256;
/// L0 entries that cover user space (the lower half of 2^48).
const USER_L0_ENTRIES: u64 = 256;
const ENTRIES: u64 = 512;

/// The root table of each live ASID on this core (0: free).
static ASID_ROOTS: spin::Mutex<[u64; ASIDS]> = spin::Mutex::new([0; ASIDS]);

/// Gives a new L0 table its ASID; `NotEnoughMemory` when all are in use.
pub fn assign_asid(cap: &mut Capability) -> Result<(), SysError> {
    let mut roots = ASID_ROOTS.lock();
    let asid = (1..ASIDS).find(|&a| roots[a] == 0).ok_or(SysError::NotEnoughMemory)?;
    roots[asid] = cap.base.0;
    cap.aux = asid as u32;
    Ok(())
}

/// The address space rooted at an L0 table is gone: free its ASID and forget its
/// translations.
pub fn release_root(cap: &Capability) {
    let asid = cap.aux as usize;
    let mut roots = ASID_ROOTS.lock();
    if asid < ASIDS && roots[asid] == cap.base.0 {
        roots[asid] = 0;
        tlb::flush_asid(asid as u16);
    }
}

/// The root table of `asid`, if it is live.
pub fn root_of(asid: u16) -> Option<PhysAddr> {
    let root = ASID_ROOTS.lock().get(asid as usize).copied().unwrap_or(0);
    (root != 0).then_some(PhysAddr(root))
}

/// Forgets every ASID (host tests start from a fresh core).
#[cfg(test)]
pub fn tests_reset_asids() -> spin::MutexGuard<'static, [u64; ASIDS]> {
    let mut roots = ASID_ROOTS.lock();
    *roots = [0; ASIDS];
    roots
}

/// The level (0–3) of a translation-table type.
fn level_of(ty: CapType) -> Option<usize> {
    match ty {
        CapType::VNodeL0 => Some(0),
        CapType::VNodeL1 => Some(1),
        CapType::VNodeL2 => Some(2),
        CapType::VNodeL3 => Some(3),
        _ => None,
    }
}

fn entry(table: PhysAddr, index: u64) -> *mut u64 {
    phys::ptr::<u64>(table.offset(index * 8))
}

fn read_entry(table: PhysAddr, index: u64) -> u64 {
    // SAFETY: `table` is a live translation table (a VNode object) and index < 512.
    unsafe { entry(table, index).read_volatile() }
}

fn write_entry(table: PhysAddr, index: u64, value: u64) {
    // SAFETY: as in `read_entry`; the MMU may walk the table at any time, hence volatile.
    unsafe { entry(table, index).write_volatile(value) }
}

/// Where the table `cap` sits: (ASID, virtual address it starts to cover).
fn table_position(cap: &Capability) -> Result<(u16, u64), SysError> {
    if cap.ctype == CapType::VNodeL0 {
        return Ok((cap.aux as u16, 0));
    }
    let m = cap.mapping().ok_or(SysError::NotMapped)?;
    Ok((m.asid, m.vaddr))
}

/// The page attributes for mapping rights `rights` of a frame of type `ty`.
fn page_attributes(ty: CapType, rights: Rights) -> Result<Attributes, SysError> {
    let (r, w, x) =
        (rights.contains(Rights::READ), rights.contains(Rights::WRITE), rights.contains(Rights::EXECUTE));
    if !r || (w && x) {
        // Every user page is readable, and none is both writable and executable.
        return Err(SysError::InvalidArgument);
    }
    let kind = if ty == CapType::DevFrame { MemoryKind::Device } else { MemoryKind::Normal };
    if kind == MemoryKind::Device && x {
        return Err(SysError::InvalidArgument);
    }
    let access = if x {
        Access::UserExecute
    } else if w {
        Access::UserReadWrite
    } else {
        Access::UserRead
    };
    Ok(Attributes { kind, access })
}

/// Maps the object in `child` at entry `index` of the table in `parent`: a translation
/// table of the next level (one entry), or `pages` pages of a frame starting
/// `offset_pages` into it (level-3 tables only), with `rights`.
pub fn map(
    parent: Slot,
    index: u64,
    child: Slot,
    rights: Rights,
    offset_pages: u64,
    pages: u64,
) -> Result<(), SysError> {
    let table = parent.cap();
    let level = level_of(table.ctype).ok_or(SysError::InvalidCapability)?;
    let mut object = child.cap();
    if object.is_null() {
        return Err(SysError::SlotEmpty);
    }
    let (asid, table_va) = table_position(&table)?;
    let limit = if level == 0 { USER_L0_ENTRIES } else { ENTRIES };
    if index >= limit {
        return Err(SysError::RangeError);
    }
    if object.word0 != 0 {
        return Err(SysError::AlreadyMapped);
    }
    let vaddr = table_va + index * LEVEL_SIZE[level];
    if level < 3 {
        if level_of(object.ctype) != Some(level + 1) {
            return Err(SysError::InvalidCapability);
        }
        // A table sits in one place only: were it in two, unmapping a frame from it would
        // flush one virtual address and leave the other's translation stale.
        if crate::caps::mdb::copies(child).any(|c| c.cap().mapping().is_some()) {
            return Err(SysError::AlreadyMapped);
        }
        if offset_pages != 0 || pages > 1 {
            return Err(SysError::RangeError);
        }
        if paging::descriptor_is_valid(read_entry(table.base, index)) {
            return Err(SysError::AlreadyMapped);
        }
        write_entry(table.base, index, paging::table_descriptor(object.base));
        object.set_mapping(Some(Mapping { vaddr, asid, pages: 1, offset_pages: 0 }));
    } else {
        if !object.ctype.is_mappable_frame() {
            return Err(SysError::InvalidCapability);
        }
        if !object.rights.contains(rights) {
            return Err(SysError::InsufficientRights);
        }
        let attrs = page_attributes(object.ctype, rights)?;
        let frame_pages = object.pages();
        if pages == 0
            || offset_pages.checked_add(pages).is_none_or(|e| e > frame_pages)
            || index + pages > ENTRIES
        {
            return Err(SysError::RangeError);
        }
        if (index..index + pages).any(|i| paging::descriptor_is_valid(read_entry(table.base, i))) {
            return Err(SysError::AlreadyMapped);
        }
        // The frame capability's own rights bound what modify-flags may grant later.
        let ceiling = object.rights.bits() << paging::SOFTWARE_SHIFT;
        for i in 0..pages {
            let pa = object.base.offset((offset_pages + i) * PAGE_SIZE);
            write_entry(table.base, index + i, attrs.leaf_descriptor(pa, 3) | ceiling);
        }
        object.set_mapping(Some(Mapping {
            vaddr,
            asid,
            pages: pages as u32,
            offset_pages: offset_pages as u32,
        }));
    }
    tlb::sync_tables();
    child.set_cap(object);
    Ok(())
}

/// Finds the table at `level` that covers `vaddr` in the address space `asid`.
fn walk(asid: u16, vaddr: u64, level: usize) -> Option<PhysAddr> {
    let mut table = root_of(asid)?;
    for l in 0..level {
        let index = (vaddr >> (39 - 9 * l)) & (ENTRIES - 1);
        let desc = read_entry(table, index);
        if !paging::descriptor_is_valid(desc) || desc & 0b10 == 0 {
            return None;
        }
        table = paging::descriptor_address(desc);
    }
    Some(table)
}

/// Removes `slot`'s mapping, if it has one and it is still in place; returns whether
/// something was unmapped.
pub fn unmap(slot: Slot) -> bool {
    let mut cap = slot.cap();
    let Some(m) = cap.mapping() else { return false };
    let level = if cap.ctype.is_mappable_frame() { 3 } else { level_of(cap.ctype).map_or(0, |l| l - 1) };
    let mut removed = false;
    if let Some(table) = walk(m.asid, m.vaddr, level) {
        let first = (m.vaddr >> (39 - 9 * level)) & (ENTRIES - 1);
        for i in 0..u64::from(m.pages.max(1)) {
            let index = first + i;
            let desc = read_entry(table, index);
            let expected = if level == 3 {
                cap.base.offset((u64::from(m.offset_pages) + i) * PAGE_SIZE)
            } else {
                cap.base
            };
            if paging::descriptor_is_valid(desc) && paging::descriptor_address(desc) == expected {
                write_entry(table, index, 0);
                removed = true;
            }
        }
        if removed {
            tlb::flush_range(m.asid, m.vaddr, u64::from(m.pages.max(1)), level);
        }
    }
    cap.set_mapping(None);
    slot.set_cap(cap);
    removed
}

/// Forgets this core's cached translations of `pages` pages from `vaddr` (every page of the
/// address space if `pages` is 0) in the address space rooted at the L0 table `root`. The
/// other half of an unmap on another core, when both cores run this address space: the
/// unmapping core changed the tables (which both walk) and flushed its own TLB only.
#[cfg(target_os = "none")]
pub fn invalidate_local(root: &Capability, vaddr: u64, pages: u64) {
    let asid = root.aux as u16;
    if pages == 0 {
        tlb::flush_asid(asid);
    } else {
        tlb::flush_range(asid, vaddr & !(PAGE_SIZE - 1), pages, 3);
    }
}

/// Changes the rights of `pages` mapped pages from entry `index` of the level-3 table in
/// `table_slot`, within the rights of the frame capabilities they were mapped with.
pub fn modify_flags(table_slot: Slot, index: u64, pages: u64, rights: Rights) -> Result<(), SysError> {
    let table = table_slot.cap();
    if table.ctype != CapType::VNodeL3 {
        return Err(SysError::InvalidCapability);
    }
    if pages == 0 || index.checked_add(pages).is_none_or(|e| e > ENTRIES) {
        return Err(SysError::RangeError);
    }
    let (asid, table_va) = table_position(&table)?;
    // Check every entry before changing any, so a refused call changes nothing.
    for i in index..index + pages {
        with_rights(read_entry(table.base, i), rights)?;
    }
    for i in index..index + pages {
        let desc = read_entry(table.base, i);
        write_entry(table.base, i, with_rights(desc, rights)?);
    }
    tlb::flush_range(asid, table_va + index * PAGE_SIZE, pages, 3);
    Ok(())
}

/// The page descriptor `desc` with its rights changed to `rights`, if it is a mapped page
/// and `rights` stay within the ceiling recorded when it was mapped.
fn with_rights(desc: u64, rights: Rights) -> Result<u64, SysError> {
    if !paging::descriptor_is_valid(desc) {
        return Err(SysError::NotMapped);
    }
    let ceiling =
        Rights::from_bits((desc & paging::SOFTWARE_BITS) >> paging::SOFTWARE_SHIFT).unwrap_or(Rights::NONE);
    if !ceiling.contains(rights) {
        return Err(SysError::InsufficientRights);
    }
    let kind = Attributes::from_descriptor(desc).map_or(MemoryKind::Normal, |a| a.kind);
    let ty = if kind == MemoryKind::Device { CapType::DevFrame } else { CapType::Frame };
    let attrs = page_attributes(ty, rights)?;
    Ok(attrs.leaf_descriptor(paging::descriptor_address(desc), 3) | (desc & paging::SOFTWARE_BITS))
}

/// TLB maintenance for this core's user address spaces (Arm ARM D8.13). Only this core's
/// TLB: the non-broadcast forms. A table write is made visible to the whole inner-shareable
/// domain (`dsb ishst`) all the same, because an address space spanned over several cores
/// has its tables walked by all of them; their TLBs are flushed by their own CPU drivers
/// when their monitors are told (a shootdown by message, not by broadcast).
mod tlb {
    /// Orders table writes before later translations.
    pub fn sync_tables() {
        #[cfg(target_os = "none")]
        // SAFETY: barriers only.
        unsafe {
            core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags))
        };
    }

    /// Forgets every translation of `asid`.
    pub fn flush_asid(asid: u16) {
        #[cfg(target_os = "none")]
        // SAFETY: TLB invalidation by ASID (TLBI ASIDE1); no memory effects.
        unsafe {
            core::arch::asm!("dsb ishst", "tlbi aside1, {}", "dsb nsh", "isb", in(reg) u64::from(asid) << 48, options(nostack))
        };
        #[cfg(not(target_os = "none"))]
        let _ = asid;
    }

    /// Forgets the translations of `count` entries at `level` from `vaddr` in `asid`.
    pub fn flush_range(asid: u16, vaddr: u64, count: u64, level: usize) {
        if level < 3 || count > 64 {
            // A whole table went, or many pages: flushing the ASID is cheaper.
            flush_asid(asid);
            return;
        }
        #[cfg(target_os = "none")]
        for i in 0..count {
            let operand = (u64::from(asid) << 48) | ((vaddr >> 12) + i);
            // SAFETY: TLB invalidation by VA and ASID (TLBI VAE1); no memory effects.
            unsafe { core::arch::asm!("dsb ishst", "tlbi vae1, {}", in(reg) operand, options(nostack)) };
        }
        #[cfg(target_os = "none")]
        // SAFETY: barriers only.
        unsafe {
            core::arch::asm!("dsb nsh", "isb", options(nostack, preserves_flags))
        };
        #[cfg(not(target_os = "none"))]
        let _ = (vaddr, count);
    }
}
