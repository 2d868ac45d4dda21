//! Capabilities as Rust values: a [`CapRef`] names a slot, and typed wrappers say what the
//! slot is expected to hold.
//!
//! The kernel knows capabilities only by their address in the caller's CSpace and checks
//! every invocation, so a wrong type here costs an error, never safety. The wrappers exist
//! for the reader: `fn map(table: VNodeCap, frame: FrameCap)` says at the call site what a
//! bare `CapAddr` would leave to a comment. They are deliberately thin — a newtype and the
//! invocations that make sense for that type — and are built without asking the kernel,
//! so constructing one is free and promises only what the code around it knows.
//!
//! Every invocation of the ABI's method list that is not specific to a subsystem lives
//! here, written once: identify, copy, mint, retype, delete, revoke, unmap, the
//! translation-table and root-CNode methods, and the dispatcher's life cycle. Endpoint
//! methods are in [`crate::lmp`], next to the message type they carry.
//!
//! What none of these do is keep books: a slot emptied by [`CapRef::delete`] is not
//! returned to the slot allocator (that is [`crate::cspace::free_slot`]'s job), because
//! only the caller knows whether the slot came from there.

use abi::cap::{CapType, Rights};
use abi::CapAddr;

#[cfg(target_os = "none")]
use crate::error::Error;
#[cfg(target_os = "none")]
use abi::{method, SysError};

/// A capability slot in this domain's CSpace, by address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapRef(pub CapAddr);

/// What IDENTIFY says about a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapInfo {
    pub ty: CapType,
    pub rights: Rights,
    /// The core whose CPU driver owns the object.
    pub owner_core: u16,
    /// The object's physical address (0 for objects without memory).
    pub base: u64,
    /// The object's size in bytes (0 for objects without memory).
    pub size: u64,
    /// An endpoint's badge (0 for everything else, and for unbadged endpoints).
    pub badge: u64,
}

impl CapInfo {
    /// Decodes IDENTIFY's results (`x1`–`x7`); `None` if the type or rights are ones this
    /// library does not know (a kernel speaking a newer ABI).
    pub fn from_identify(values: [u64; 7]) -> Option<CapInfo> {
        let [header, base, size, badge, ..] = values;
        Some(CapInfo {
            ty: CapType::from_raw(header & 0xff)?,
            rights: Rights::from_bits((header >> 8) & 0xff)?,
            owner_core: (header >> 16) as u16,
            base,
            size,
            badge,
        })
    }
}

impl CapRef {
    pub const fn new(addr: CapAddr) -> CapRef {
        CapRef(addr)
    }

    pub const fn addr(self) -> CapAddr {
        self.0
    }

    /// The slot `n` after this one (in the same L2 CNode, for `n` within it): the slots of
    /// a run from [`crate::cspace::alloc_slots`] or of a multi-object retype.
    pub const fn offset(self, n: u32) -> CapRef {
        CapRef(CapAddr(self.0 .0 + n))
    }

    /// The address as an invocation argument.
    pub const fn raw(self) -> u64 {
        self.0 .0 as u64
    }
}

/// Declares a typed wrapper around [`CapRef`].
macro_rules! typed_cap {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub CapRef);

        impl $name {
            /// The slot, untyped.
            pub const fn cap(self) -> CapRef {
                self.0
            }
        }
    };
}

typed_cap!(
    /// Untyped RAM, to be retyped into objects.
    RamCap
);
typed_cap!(
    /// A frame: RAM that can be mapped.
    FrameCap
);
typed_cap!(
    /// A translation table (level 0 to 3).
    VNodeCap
);
typed_cap!(
    /// A root (L1) CNode: the table of a CSpace's L2 CNodes.
    L1CNodeCap
);
typed_cap!(
    /// A dispatcher: the unit the CPU driver schedules.
    DispatcherCap
);
typed_cap!(
    /// An LMP endpoint (see [`crate::lmp`]).
    EndpointCap
);

#[cfg(target_os = "none")]
impl CapRef {
    /// Invokes `method` on this capability; the seven result words on success.
    pub fn invoke(self, method: u64, args: [u64; 6]) -> Result<[u64; 7], Error> {
        Ok(crate::syscall::invoke(self.0, method, args)?)
    }

    /// What the slot holds.
    pub fn identify(self) -> Result<CapInfo, Error> {
        let values = self.invoke(method::IDENTIFY, [0; 6])?;
        CapInfo::from_identify(values).ok_or(Error::Sys(SysError::InvalidSyscall))
    }

    /// Copies the capability into the empty slot `dest`, with the same rights. A copy of a
    /// mapped frame or table is not mapped.
    pub fn copy_to(self, dest: CapRef) -> Result<(), Error> {
        self.invoke(method::COPY, [dest.raw(), 0, 0, 0, 0, 0]).map(drop)
    }

    /// Copies the capability into `dest` with `rights` ∩ its own; a non-zero `badge` on an
    /// unbadged endpoint makes a badged endpoint (what its receiver sees as the sender).
    pub fn mint_to(self, dest: CapRef, rights: Rights, badge: u64) -> Result<(), Error> {
        self.invoke(method::MINT, [dest.raw(), rights.bits(), badge, 0, 0, 0]).map(drop)
    }

    /// Empties the slot. Deleting the last capability to an object destroys it (unmapping
    /// a mapped frame or table first).
    pub fn delete(self) -> Result<(), Error> {
        self.invoke(method::DELETE, [0; 6]).map(drop)
    }

    /// Deletes every other copy of this capability and everything made from its object,
    /// leaving this slot as it is.
    pub fn revoke(self) -> Result<(), Error> {
        self.invoke(method::REVOKE, [0; 6]).map(drop)
    }

    /// Makes `count` objects of type `ty` from the memory `offset` bytes into this RAM (or
    /// frame) capability, into the empty slots `dest_first`, `dest_first + 1`, … (which must
    /// lie in one L2 CNode). `object_bytes` sizes types whose size varies (RAM, frames, L1
    /// CNodes) and is 0 for the others.
    pub fn retype(
        self,
        ty: CapType,
        object_bytes: u64,
        offset: u64,
        count: u64,
        dest_first: CapRef,
    ) -> Result<(), Error> {
        let args = [ty as u64, object_bytes, offset, count, dest_first.raw(), 0];
        self.invoke(method::RETYPE, args).map(drop)
    }
}

#[cfg(target_os = "none")]
impl RamCap {
    /// Makes one object of type `ty` (`object_bytes` as for [`CapRef::retype`]) at `offset`
    /// into this RAM, in a slot from the slot allocator.
    pub fn make(self, ty: CapType, object_bytes: u64, offset: u64) -> Result<CapRef, Error> {
        let dest = crate::cspace::alloc_slot()?;
        match self.0.retype(ty, object_bytes, offset, 1, dest) {
            Ok(()) => Ok(dest),
            Err(e) => {
                crate::cspace::free_slot(dest);
                Err(e)
            }
        }
    }
}

#[cfg(target_os = "none")]
impl FrameCap {
    /// Unmaps the frame from wherever this capability mapped it.
    pub fn unmap(self) -> Result<(), Error> {
        self.0.invoke(method::UNMAP, [0; 6]).map(drop)
    }
}

#[cfg(target_os = "none")]
impl VNodeCap {
    /// Installs the table `child` (of the next level) at entry `index` of this table.
    pub fn map_table(self, index: u64, child: VNodeCap) -> Result<(), Error> {
        // Rights mean nothing for a table entry; the kernel wants valid bits all the same.
        let args = [index, child.0.raw(), Rights::READ.bits(), 0, 1, 0];
        self.0.invoke(method::VNODE_MAP, args).map(drop)
    }

    /// Maps `pages` pages of `frame`, from `offset_pages` into it, at entries `index`… of
    /// this level-3 table, with `rights` (never both WRITE and EXECUTE).
    pub fn map_pages(
        self,
        index: u64,
        frame: FrameCap,
        rights: Rights,
        offset_pages: u64,
        pages: u64,
    ) -> Result<(), Error> {
        let args = [index, frame.0.raw(), rights.bits(), offset_pages, pages, 0];
        self.0.invoke(method::VNODE_MAP, args).map(drop)
    }
}

#[cfg(target_os = "none")]
impl L1CNodeCap {
    /// Puts a copy of the L2 CNode `l2` into slot `l1_index` of this root CNode, so its
    /// slots get the addresses `l1_index:0` to `l1_index:255` in the CSpace it roots.
    pub fn install(self, l1_index: u32, l2: CapRef) -> Result<(), Error> {
        let args = [u64::from(l1_index), l2.raw(), 0, 0, 0, 0];
        self.0.invoke(method::L1_CNODE_INSTALL, args).map(drop)
    }

    /// Deletes the L2 CNode capability in slot `l1_index` of this root CNode.
    pub fn remove(self, l1_index: u32) -> Result<(), Error> {
        self.0.invoke(method::L1_CNODE_REMOVE, [u64::from(l1_index), 0, 0, 0, 0, 0]).map(drop)
    }
}

#[cfg(target_os = "none")]
impl DispatcherCap {
    /// Ties the (new) dispatcher to the CSpace rooted at `cspace` and the address space
    /// rooted at `vspace`, to start at `entry` with `stack` and `x0` = `arg`; its end is
    /// reported to `exit` if given. All are addresses in the caller's CSpace.
    pub fn setup(
        self,
        cspace: L1CNodeCap,
        vspace: VNodeCap,
        entry: u64,
        stack: u64,
        arg: u64,
        exit: Option<EndpointCap>,
    ) -> Result<(), Error> {
        let exit = exit.map_or(0, |e| e.0.raw());
        let args = [cspace.0.raw(), vspace.0.raw(), entry, stack, arg, exit];
        self.0.invoke(method::DISPATCHER_SETUP, args).map(drop)
    }

    /// Makes the dispatcher runnable on this core.
    pub fn run(self) -> Result<(), Error> {
        self.0.invoke(method::DISPATCHER_RUN, [0; 6]).map(drop)
    }

    /// Stops the dispatcher for good.
    pub fn kill(self) -> Result<(), Error> {
        self.0.invoke(method::DISPATCHER_KILL, [0; 6]).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_results_decode_into_type_rights_owner_and_region() {
        let rights = Rights::READ.union(Rights::GRANT);
        let header = CapType::Frame as u64 | (rights.bits() << 8) | (3 << 16);
        let info = CapInfo::from_identify([header, 0x4000_0000, 0x2000, 0, 0, 0, 0]).unwrap();
        assert_eq!(
            info,
            CapInfo { ty: CapType::Frame, rights, owner_core: 3, base: 0x4000_0000, size: 0x2000, badge: 0 }
        );
    }

    #[test]
    fn identify_results_with_unknown_types_or_rights_are_refused() {
        assert_eq!(CapInfo::from_identify([99, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(CapInfo::from_identify([CapType::Ram as u64 | (0x30 << 8), 0, 0, 0, 0, 0, 0]), None);
    }
}
