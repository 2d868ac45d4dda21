//! Capability types, rights and addresses.
//!
//! A capability is an unforgeable reference to a kernel object, held in a slot of a
//! kernel-protected CNode. User code names a slot by its [`CapAddr`] in its own two-level
//! CSpace: a root (L1) CNode whose slots hold L2 CNodes, whose slots hold capabilities.

use core::fmt;

/// The type of a capability (and of the object it refers to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CapType {
    /// An empty slot.
    Null = 0,
    /// Untyped RAM: can be retyped into any other object.
    Ram = 1,
    /// RAM that can be mapped into an address space.
    Frame = 2,
    /// Device registers that can be mapped (never zeroed, never cached).
    DevFrame = 3,
    /// The root CNode of a CSpace: 2^k slots, each holding an L2 CNode.
    L1CNode = 4,
    /// A second-level CNode: [`L2_CNODE_SLOTS`] slots of capabilities.
    L2CNode = 5,
    /// Translation tables, levels 0 (the root of an address space) to 3.
    VNodeL0 = 6,
    VNodeL1 = 7,
    VNodeL2 = 8,
    VNodeL3 = 9,
    /// A dispatcher: the unit the CPU driver schedules.
    Dispatcher = 10,
    /// A same-core message endpoint (LMP).
    Endpoint = 11,
    /// The right to receive one interrupt.
    Irq = 12,
    /// The monitor's privilege: operations on the CPU driver itself.
    Kernel = 13,
    /// A frame shared between cores for a URPC channel.
    UrpcFrame = 14,
    /// The right to wake a port on one core with an inter-processor interrupt: how a URPC
    /// sender tells a sleeping receiver on another core that a message is waiting.
    Notify = 15,
}

impl CapType {
    pub const ALL: [CapType; 16] = [
        CapType::Null,
        CapType::Ram,
        CapType::Frame,
        CapType::DevFrame,
        CapType::L1CNode,
        CapType::L2CNode,
        CapType::VNodeL0,
        CapType::VNodeL1,
        CapType::VNodeL2,
        CapType::VNodeL3,
        CapType::Dispatcher,
        CapType::Endpoint,
        CapType::Irq,
        CapType::Kernel,
        CapType::UrpcFrame,
        CapType::Notify,
    ];

    pub fn from_raw(raw: u64) -> Option<CapType> {
        CapType::ALL.iter().copied().find(|t| *t as u64 == raw)
    }

    /// The size in bytes of one object of this type, for types whose size is fixed.
    /// `None` for types whose size the retype chooses (RAM, frames, L1 CNodes) and for
    /// types that are not made from memory.
    pub const fn fixed_size(self) -> Option<u64> {
        match self {
            CapType::L2CNode => Some(L2_CNODE_SLOTS * SLOT_BYTES),
            CapType::VNodeL0 | CapType::VNodeL1 | CapType::VNodeL2 | CapType::VNodeL3 => Some(PAGE_SIZE),
            CapType::Dispatcher => Some(DISPATCHER_BYTES),
            CapType::Endpoint => Some(ENDPOINT_BYTES),
            _ => None,
        }
    }

    /// True for types whose objects are made by retyping RAM.
    pub const fn is_memory_object(self) -> bool {
        !matches!(self, CapType::Null | CapType::Irq | CapType::Kernel | CapType::Notify)
    }

    /// True for the translation-table types.
    pub const fn is_vnode(self) -> bool {
        matches!(self, CapType::VNodeL0 | CapType::VNodeL1 | CapType::VNodeL2 | CapType::VNodeL3)
    }

    /// True for types that can be mapped as pages.
    pub const fn is_mappable_frame(self) -> bool {
        matches!(self, CapType::Frame | CapType::DevFrame | CapType::UrpcFrame)
    }
}

/// The page size.
pub const PAGE_SIZE: u64 = 4096;
/// Bytes per CNode slot (one capability table entry).
pub const SLOT_BYTES: u64 = 64;
/// Slots in an L2 CNode.
pub const L2_CNODE_SLOTS: u64 = 256;
/// Bits of a [`CapAddr`] that select the slot in an L2 CNode.
pub const L2_BITS: u32 = 8;
/// The smallest and largest L1 CNodes, in slots.
pub const L1_CNODE_MIN_SLOTS: u64 = 16;
pub const L1_CNODE_MAX_SLOTS: u64 = 1 << 16;
/// Bytes of a dispatcher object (saved registers, FP state, scheduling state).
pub const DISPATCHER_BYTES: u64 = 4096;
/// Bytes of an endpoint object (its queue of messages).
pub const ENDPOINT_BYTES: u64 = 2048;

/// Access rights of a capability. A copy or mint can only keep or drop rights.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    pub const READ: Rights = Rights(1 << 0);
    pub const WRITE: Rights = Rights(1 << 1);
    pub const EXECUTE: Rights = Rights(1 << 2);
    /// May be passed to another dispatcher in a message.
    pub const GRANT: Rights = Rights(1 << 3);
    pub const ALL: Rights = Rights(0b1111);
    pub const NONE: Rights = Rights(0);

    pub const fn from_bits(bits: u64) -> Option<Rights> {
        if bits & !0b1111 == 0 {
            Some(Rights(bits as u8))
        } else {
            None
        }
    }
    pub const fn bits(self) -> u64 {
        self.0 as u64
    }
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersect(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |r: Rights, c| if self.contains(r) { c } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            flag(Rights::READ, 'r'),
            flag(Rights::WRITE, 'w'),
            flag(Rights::EXECUTE, 'x'),
            flag(Rights::GRANT, 'g')
        )
    }
}

/// The address of a slot in a CSpace: bits 31:8 select the L1 slot (an L2 CNode), bits 7:0
/// the slot in that L2 CNode.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CapAddr(pub u32);

impl CapAddr {
    /// Address 0 never names a capability (slot 0 of the task CNode stays empty), so a
    /// forgotten initialisation fails loudly.
    pub const NULL: CapAddr = CapAddr(0);

    pub const fn new(l1_index: u32, l2_index: u32) -> CapAddr {
        CapAddr((l1_index << L2_BITS) | (l2_index & 0xff))
    }
    pub const fn l1_index(self) -> u32 {
        self.0 >> L2_BITS
    }
    pub const fn l2_index(self) -> u32 {
        self.0 & 0xff
    }
}

impl fmt::Debug for CapAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapAddr({}:{})", self.l1_index(), self.l2_index())
    }
}

/// Well-known slots of every domain's task CNode (the L2 CNode in L1 slot 0), filled in
/// by whoever creates the domain.
pub mod slot {
    use super::CapAddr;
    /// This domain's dispatcher (on the core the program started on).
    pub const DISPATCHER: CapAddr = CapAddr::new(0, 1);
    /// The root (L1) CNode of this CSpace.
    pub const ROOT_CNODE: CapAddr = CapAddr::new(0, 2);
    /// The root (L0) translation table of this address space.
    pub const ROOT_VNODE: CapAddr = CapAddr::new(0, 3);
    /// The task CNode itself.
    pub const TASK_CNODE: CapAddr = CapAddr::new(0, 4);
    /// The endpoint this domain reports its exit or fault to (its parent's), if any.
    pub const PARENT_ENDPOINT: CapAddr = CapAddr::new(0, 5);
    /// RAM for this domain's own allocations.
    pub const INITIAL_RAM: CapAddr = CapAddr::new(0, 6);
    /// The monitor's privilege (only in the monitor's CSpace).
    pub const KERNEL: CapAddr = CapAddr::new(0, 7);
    /// The L2 CNode whose slot 0 holds a read-only frame of the whole boot module archive
    /// (`crate::modules`), for starting programs (first domains only).
    pub const MODULES_CNODE: CapAddr = CapAddr::new(0, 8);
    /// RAM nothing has been made from yet: a child of [`INITIAL_RAM`] covering what the
    /// domain's own objects left free (first domains only).
    pub const FREE_RAM: CapAddr = CapAddr::new(0, 9);
    /// The console UART's registers, as a device frame (boot core's first domain only).
    pub const CONSOLE_DEVICE: CapAddr = CapAddr::new(0, 10);
    /// The console UART's interrupt, as an IRQ capability (boot core's first domain only,
    /// when the device tree names the interrupt).
    pub const CONSOLE_IRQ: CapAddr = CapAddr::new(0, 11);
    /// Monitors only: the frame of the boot channels, one page per core but the boot core,
    /// zeroed at boot. The boot core's monitor holds all of them (page `k - 1` for core
    /// `k`), every other core's monitor its own page: the first channel to the boot core,
    /// over which the monitors set up everything else.
    pub const BOOT_CHANNEL: CapAddr = CapAddr::new(0, 12);
    /// An endpoint to this core's monitor, for requests (`crate::monitor`): put in every
    /// domain by its creator (a spawned program gets a copy of its parent's).
    pub const MONITOR: CapAddr = CapAddr::new(0, 13);
    /// A one-page frame holding the program's arguments, a vector of strings
    /// (`libos::args`), if its starter gave any.
    pub const ARGUMENTS: CapAddr = CapAddr::new(0, 14);
    /// The boot module archive frame, in the modules CNode (L1 slot 2).
    pub const MODULE_ARCHIVE: CapAddr = CapAddr::new(2, 0);
    /// First slot a program's own slot allocator may use.
    pub const FIRST_FREE: u32 = 16;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_addresses_split_into_l1_and_l2_indexes() {
        let a = CapAddr::new(3, 17);
        assert_eq!((a.l1_index(), a.l2_index()), (3, 17));
        assert_eq!(a.0, (3 << 8) | 17);
    }

    #[test]
    fn rights_only_shrink_by_intersection() {
        let rw = Rights::READ.union(Rights::WRITE);
        assert_eq!(rw.intersect(Rights::ALL), rw);
        assert!(!rw.intersect(Rights::READ).contains(Rights::WRITE));
        assert_eq!(Rights::from_bits(0x10), None);
        assert_eq!(format!("{:?}", rw), "rw--");
    }

    #[test]
    fn types_round_trip_through_their_numbers() {
        for t in CapType::ALL {
            assert_eq!(CapType::from_raw(t as u64), Some(t));
        }
        assert_eq!(CapType::from_raw(99), None);
    }
}
