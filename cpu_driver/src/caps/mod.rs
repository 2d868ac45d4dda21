//! Capabilities: typed, unforgeable references to kernel objects, held in CNode slots.
//!
//! A slot is a capability table entry ([`Cte`], 64 bytes): the capability itself and its
//! links in the derivation database ([`mdb`]), which records which capabilities are copies
//! of each other and which objects were made from which memory. The kernel has no heap:
//! CNodes, and so the slots, are objects user code made by retyping RAM, and a slot is named
//! by its physical address.
//!
//! The operations ([`ops`]) are the ones every capability supports — identify, copy, mint,
//! retype, delete, revoke — with the rules that keep the system sound: rights only shrink,
//! no two live objects overlap in memory, revoking removes every copy and descendant, and
//! deleting the last capability to an object destroys it.

pub mod mdb;
pub mod ops;

use crate::phys;
use abi::cap::{CapType, Rights, PAGE_SIZE};
use boot::PhysAddr;

/// A capability, as stored in a slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    pub ctype: CapType,
    pub rights: Rights,
    /// The core whose CPU driver owns the object.
    pub owner: u16,
    /// Type-specific: an L1 CNode's slot count, an L0 table's address-space id.
    pub aux: u32,
    /// The object's physical address (0 for types without memory).
    pub base: PhysAddr,
    /// The object's size in bytes (0 for types without memory).
    pub size: u64,
    /// Type-specific: an endpoint's badge; for a mapped frame or table, where it is
    /// mapped (see [`Mapping`]).
    pub word0: u64,
    /// Type-specific: for a mapped frame, pages mapped and the offset into the frame.
    pub word1: u64,
}

impl Capability {
    pub const NULL: Capability = Capability {
        ctype: CapType::Null,
        rights: Rights::NONE,
        owner: 0,
        aux: 0,
        base: PhysAddr(0),
        size: 0,
        word0: 0,
        word1: 0,
    };

    /// A capability to a memory object at `[base, base + size)`.
    pub fn memory(ctype: CapType, base: PhysAddr, size: u64, owner: u16) -> Capability {
        Capability { ctype, rights: Rights::ALL, owner, base, size, ..Capability::NULL }
    }

    pub fn is_null(&self) -> bool {
        self.ctype == CapType::Null
    }

    /// The physical memory the object occupies, if it has any.
    pub fn region(&self) -> Option<(u64, u64)> {
        (self.ctype.is_memory_object() && self.size > 0).then_some((self.base.0, self.base.0 + self.size))
    }

    /// True if `self` and `other` are capabilities to the same object (copies), whatever
    /// their rights and mappings.
    pub fn same_object(&self, other: &Capability) -> bool {
        self.ctype == other.ctype
            && self.base == other.base
            && self.size == other.size
            && self.aux == other.aux
            && (self.ctype != CapType::Endpoint || self.word0 == other.word0)
            && !self.is_null()
    }

    /// True if `child` was (or could have been) derived from `self`: memory retyped out of
    /// RAM or split out of a frame, or a badged endpoint minted from an unbadged one.
    pub fn is_ancestor_of(&self, child: &Capability) -> bool {
        if self.same_object(child) {
            return false;
        }
        let within = || match (self.region(), child.region()) {
            (Some((b, e)), Some((cb, ce))) => cb >= b && ce <= e,
            _ => false,
        };
        match self.ctype {
            CapType::Ram => child.ctype.is_memory_object() && within(),
            CapType::Frame | CapType::DevFrame | CapType::UrpcFrame => child.ctype == self.ctype && within(),
            CapType::Endpoint => {
                child.ctype == CapType::Endpoint
                    && child.base == self.base
                    && self.word0 == 0
                    && child.word0 != 0
            }
            _ => false,
        }
    }

    /// Where this frame or table is mapped, if it is.
    pub fn mapping(&self) -> Option<Mapping> {
        let mappable =
            self.ctype.is_mappable_frame() || (self.ctype.is_vnode() && self.ctype != CapType::VNodeL0);
        (mappable && self.word0 != 0).then_some(Mapping {
            vaddr: self.word0 & ((1 << 48) - 1),
            asid: (self.word0 >> 48) as u16,
            pages: (self.word1 & 0xffff_ffff) as u32,
            offset_pages: (self.word1 >> 32) as u32,
        })
    }

    pub fn set_mapping(&mut self, mapping: Option<Mapping>) {
        match mapping {
            Some(m) => {
                // The record must never read as "unmapped": address 0 is never mapped
                // (user space starts above it), so vaddr | asid is never 0 for a real one.
                self.word0 = m.vaddr | (u64::from(m.asid) << 48);
                self.word1 = u64::from(m.pages) | (u64::from(m.offset_pages) << 32);
            }
            None => {
                self.word0 = 0;
                self.word1 = 0;
            }
        }
    }

    /// Pages in a frame capability.
    pub fn pages(&self) -> u64 {
        self.size / PAGE_SIZE
    }
}

/// Where a frame or translation table is mapped: enough to find the entry again from the
/// address space's root, and to check it still points at this object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub vaddr: u64,
    pub asid: u16,
    pub pages: u32,
    pub offset_pages: u32,
}

/// A capability table entry: one CNode slot.
#[repr(C)]
pub struct Cte {
    pub cap: Capability,
    /// Physical address of the previous and next slot in the derivation database (0: none).
    prev: u64,
    next: u64,
    /// Relations of this copy's object on other cores (`abi::method::remote` bits), as the
    /// monitor recorded them: the kernel sees only its own core's database, so only the
    /// monitor knows whether deleting, revoking or retyping here is the whole story.
    remote: u64,
}

const _: () = assert!(core::mem::size_of::<Cte>() == abi::cap::SLOT_BYTES as usize);

impl Cte {
    /// An empty slot, for slots the kernel keeps in its own (per-core) memory.
    pub const EMPTY: Cte = Cte { cap: Capability::NULL, prev: 0, next: 0, remote: 0 };
}

/// A slot, by its physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(pub PhysAddr);

impl Slot {
    fn cte(self) -> *mut Cte {
        phys::ptr::<Cte>(self.0)
    }

    pub fn cap(self) -> Capability {
        // SAFETY: a `Slot` is only made for slots inside live CNodes (or kernel objects'
        // own slots), which hold a `Cte`.
        unsafe { (*self.cte()).cap }
    }

    pub fn set_cap(self, cap: Capability) {
        // SAFETY: as in `cap`.
        unsafe { (*self.cte()).cap = cap }
    }

    /// The relations on other cores recorded for this copy (`abi::method::remote` bits).
    pub fn remote(self) -> u64 {
        // SAFETY: as in `cap`.
        unsafe { (*self.cte()).remote }
    }

    pub fn set_remote(self, relations: u64) {
        // SAFETY: as in `cap`.
        unsafe { (*self.cte()).remote = relations }
    }

    fn prev(self) -> Option<Slot> {
        // SAFETY: as in `cap`.
        let p = unsafe { (*self.cte()).prev };
        (p != 0).then_some(Slot(PhysAddr(p)))
    }

    fn next(self) -> Option<Slot> {
        // SAFETY: as in `cap`.
        let n = unsafe { (*self.cte()).next };
        (n != 0).then_some(Slot(PhysAddr(n)))
    }

    fn set_links(self, prev: Option<Slot>, next: Option<Slot>) {
        // SAFETY: as in `cap`.
        unsafe {
            (*self.cte()).prev = prev.map_or(0, |s| s.0 .0);
            (*self.cte()).next = next.map_or(0, |s| s.0 .0);
        }
    }

    /// Slot `index` of the CNode at `cnode`.
    pub fn in_cnode(cnode: PhysAddr, index: u64) -> Slot {
        Slot(cnode.offset(index * abi::cap::SLOT_BYTES))
    }
}

/// The slot a capability address names in the CSpace rooted at the L1 CNode `root`
/// (`root_slots` slots): the L1 slot must hold an L2 CNode.
pub fn lookup(root: PhysAddr, root_slots: u64, addr: abi::CapAddr) -> Result<Slot, abi::SysError> {
    let l1 = u64::from(addr.l1_index());
    if l1 >= root_slots {
        return Err(abi::SysError::FailedLookup);
    }
    let l2 = Slot::in_cnode(root, l1).cap();
    if l2.ctype != CapType::L2CNode {
        return Err(abi::SysError::FailedLookup);
    }
    Ok(Slot::in_cnode(l2.base, u64::from(addr.l2_index())))
}

#[cfg(test)]
mod tests;
