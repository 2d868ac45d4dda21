//! A small machine for host tests: a CNode and some RAM in the test arena, with a RAM
//! capability to all of it, as boot would make.

use crate::caps::ops::{self, DestSlots};
use crate::caps::{mdb, Capability, Slot};
use crate::phys::test_ram;
use abi::cap::CapType;
use abi::SysError;
use boot::PhysAddr;

/// The host tests share the kernel's per-core state (address-space ids): one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A CNode of 256 slots at the arena's start, then RAM; slot 0 holds a RAM capability to
/// all of that RAM (made from nothing, as boot does).
pub struct World {
    pub cnode: PhysAddr,
    pub ram: Slot,
    pub ram_base: u64,
    _guard: std::sync::MutexGuard<'static, ()>,
}

const CNODE_BYTES: u64 = 256 * 64;

pub fn world(ram_bytes: u64) -> World {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    test_ram::reset(CNODE_BYTES + ram_bytes);
    drop(crate::vspace::tests_reset_asids());
    crate::dispatch::tests_reset();
    let cnode = PhysAddr(test_ram::BASE);
    let ram_base = test_ram::BASE + CNODE_BYTES;
    let ram = Slot::in_cnode(cnode, 0);
    ram.set_cap(Capability::memory(CapType::Ram, PhysAddr(ram_base), ram_bytes, 0));
    mdb::insert_root(ram);
    World { cnode, ram, ram_base, _guard: guard }
}

impl World {
    pub fn slot(&self, i: u64) -> Slot {
        Slot::in_cnode(self.cnode, i)
    }
    pub fn dest(&self, first: u64) -> DestSlots {
        DestSlots { cnode: self.cnode, first }
    }
    pub fn retype(
        &self,
        src: u64,
        ty: CapType,
        bytes: u64,
        offset: u64,
        count: u64,
        dest: u64,
    ) -> Result<(), SysError> {
        ops::retype(self.slot(src), ty, bytes, offset, count, self.dest(dest), &mut crate::objects::prepare)
    }
}
