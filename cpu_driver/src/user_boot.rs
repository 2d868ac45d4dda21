//! Each core's first user-level domain, built by the CPU driver from a boot module.
//!
//! Every later domain is built by user code from capabilities; the first cannot be, so the
//! CPU driver builds it the same way a user program would — retyping RAM into CNodes,
//! translation tables, frames and a dispatcher through the same capability operations,
//! and mapping through the same checked calls — so the capabilities it hands over are
//! exactly consistent with what the domain can do with them afterwards.
//!
//! The domain's CSpace (see `abi::cap::slot` for the well-known slots):
//! - L1 slot 0: the task CNode: its dispatcher, root CNode, root table, itself, the RAM
//!   all of this came from (and that the domain may use), and the Kernel capability;
//! - L1 slot 1: the page CNode: the frames and tables of the program's own image;
//! - L1 slot 2: the modules CNode: slot 0 holds a read-only frame of the whole boot module
//!   archive.

use crate::caps::ops::{self, DestSlots};
use crate::caps::{mdb, Capability, Slot};
use crate::dispatch::{self, Dispatcher};
use crate::vspace;
use abi::cap::{slot, CapType, Rights, L2_CNODE_SLOTS, PAGE_SIZE, SLOT_BYTES};
use abi::elf::ElfImage;
use abi::SysError;
use boot::{PhysAddr, PhysRange};

/// Slots in the domain's root CNode.
const ROOT_SLOTS: u64 = 64;
const L2_BYTES: u64 = L2_CNODE_SLOTS * SLOT_BYTES;
const L1_PAGE_CNODE: u64 = 1;
const L1_MODULES_CNODE: u64 = 2;
const TWO_MIB: u64 = 2 << 20;

/// Why the first domain could not be built.
#[derive(Clone, Copy, Debug)]
pub enum BootError {
    BadElf(abi::elf::ElfError),
    TooLittleMemory,
    Caps(SysError),
    /// The image needs more frames and tables than the page CNode has slots.
    ImageTooLarge,
}

impl From<SysError> for BootError {
    fn from(e: SysError) -> Self {
        BootError::Caps(e)
    }
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::BadElf(e) => write!(f, "{e}"),
            BootError::TooLittleMemory => write!(f, "too little memory for the first domain"),
            BootError::Caps(e) => write!(f, "capability operation failed: {e}"),
            BootError::ImageTooLarge => write!(f, "the program needs more than one page CNode of frames"),
        }
    }
}

/// Hands out consecutive slots of one L2 CNode.
struct SlotCursor {
    cnode: PhysAddr,
    next: u64,
}

impl SlotCursor {
    fn take(&mut self) -> Result<DestSlots, BootError> {
        if self.next >= L2_CNODE_SLOTS {
            return Err(BootError::ImageTooLarge);
        }
        let dest = DestSlots { cnode: self.cnode, first: self.next };
        self.next += 1;
        Ok(dest)
    }
}

/// The capabilities being assembled.
struct Builder {
    task: PhysAddr,
    ram: Slot,
    /// Bytes of the RAM capability already retyped.
    used: u64,
    pages: SlotCursor,
}

impl Builder {
    fn task_slot(&self, addr: abi::CapAddr) -> Slot {
        Slot::in_cnode(self.task, u64::from(addr.l2_index()))
    }

    /// Retypes the next `bytes` of RAM (aligned to `align`) into one object in `dest`.
    fn make(&mut self, ty: CapType, bytes: u64, align: u64, dest: DestSlots) -> Result<Slot, BootError> {
        let offset = self.used.next_multiple_of(align);
        let size = ty.fixed_size().unwrap_or(bytes);
        let object_bytes = if ty.fixed_size().is_some() { 0 } else { bytes };
        ops::retype(self.ram, ty, object_bytes, offset, 1, dest, &mut crate::objects::prepare)?;
        self.used = offset + size;
        Ok(dest.slot(0))
    }

    /// The level-3 table covering `vaddr`, made (with any missing L1/L2 above it) if needed.
    fn table_for(&mut self, root: Slot, vaddr: u64) -> Result<Slot, BootError> {
        let mut parent = root;
        for (level, ty) in [(0usize, CapType::VNodeL1), (1, CapType::VNodeL2), (2, CapType::VNodeL3)] {
            let index = (vaddr >> (39 - 9 * level)) & 511;
            // A table already mapped at this entry is one this builder made: find its slot.
            let existing = (0..self.pages.next).map(|i| Slot::in_cnode(self.pages.cnode, i)).find(|s| {
                let cap = s.cap();
                cap.ctype == ty
                    && cap.mapping().is_some_and(|m| m.vaddr == vaddr & !((1u64 << (39 - 9 * level)) - 1))
            });
            parent = match existing {
                Some(table) => table,
                None => {
                    let dest = self.pages.take()?;
                    let table = self.make(ty, PAGE_SIZE, PAGE_SIZE, dest)?;
                    vspace::map(parent, index, table, Rights::ALL, 0, 1)?;
                    table
                }
            };
        }
        Ok(parent)
    }
}

/// What a first domain gets besides its RAM and the boot modules.
pub struct Devices<'a> {
    /// The console UART's registers and interrupt (the boot core's first domain).
    pub console: Option<&'a boot::bootinfo::UartInfo>,
    /// The boot channel page(s): physical address and size.
    pub boot_channel: Option<(PhysAddr, u64)>,
}

/// Builds the first domain on this core from `module` (an ELF file), with `ram` as all the
/// memory it owns, read-only access to the boot module archive (`archive`: physical
/// address and size) and `devices`, and makes it runnable with `arg` in x0.
pub fn start(
    ram: PhysRange,
    module: &[u8],
    archive: (PhysAddr, u64),
    devices: Devices<'_>,
    arg: u64,
    core: u16,
) -> Result<Dispatcher, BootError> {
    let image = ElfImage::parse(module).map_err(BootError::BadElf)?;
    let base = ram.base.checked_align_up(PAGE_SIZE).ok_or(BootError::TooLittleMemory)?;
    let header = PAGE_SIZE + L2_BYTES;
    if ram.size_bytes < header + (1 << 20) {
        return Err(BootError::TooLittleMemory);
    }
    // The root and task CNodes come first, made from nothing: capabilities must live in a
    // CNode before anything can be retyped into one.
    let (root_pa, task_pa) = (base, base.offset(PAGE_SIZE));
    crate::phys::zero(root_pa, header);
    let root_slot = Slot::in_cnode(task_pa, u64::from(slot::ROOT_CNODE.l2_index()));
    let mut root_cap = Capability::memory(CapType::L1CNode, root_pa, ROOT_SLOTS * SLOT_BYTES, core);
    root_cap.aux = ROOT_SLOTS as u32;
    root_slot.set_cap(root_cap);
    mdb::insert_root(root_slot);
    let task_in_root = Slot::in_cnode(root_pa, 0);
    task_in_root.set_cap(Capability::memory(CapType::L2CNode, task_pa, L2_BYTES, core));
    mdb::insert_root(task_in_root);
    let task_copy = Slot::in_cnode(task_pa, u64::from(slot::TASK_CNODE.l2_index()));
    ops::copy(task_in_root, task_copy)?;

    let ram_slot = Slot::in_cnode(task_pa, u64::from(slot::INITIAL_RAM.l2_index()));
    let ram_base = base.offset(header);
    let ram_end = ram.end().align_down(PAGE_SIZE);
    ram_slot.set_cap(Capability::memory(CapType::Ram, ram_base, ram_end.0 - ram_base.0, core));
    mdb::insert_root(ram_slot);

    let kernel_slot = Slot::in_cnode(task_pa, u64::from(slot::KERNEL.l2_index()));
    kernel_slot.set_cap(Capability {
        ctype: CapType::Kernel,
        rights: Rights::ALL,
        owner: core,
        ..Capability::NULL
    });
    mdb::insert_root(kernel_slot);

    let mut b =
        Builder { task: task_pa, ram: ram_slot, used: 0, pages: SlotCursor { cnode: PhysAddr(0), next: 0 } };
    let pages_cnode =
        b.make(CapType::L2CNode, L2_BYTES, PAGE_SIZE, DestSlots { cnode: root_pa, first: L1_PAGE_CNODE })?;
    b.pages = SlotCursor { cnode: pages_cnode.cap().base, next: 0 };
    let modules_cnode =
        b.make(CapType::L2CNode, L2_BYTES, PAGE_SIZE, DestSlots { cnode: root_pa, first: L1_MODULES_CNODE })?;
    ops::copy(modules_cnode, b.task_slot(slot::MODULES_CNODE))?;
    let dispatcher =
        b.make(CapType::Dispatcher, PAGE_SIZE, PAGE_SIZE, DestSlots { cnode: task_pa, first: 1 })?;
    let vroot = b.make(CapType::VNodeL0, PAGE_SIZE, PAGE_SIZE, DestSlots { cnode: task_pa, first: 3 })?;

    for segment in image.segments() {
        let (start, end) = segment.page_range();
        let rights = match (segment.flags.write, segment.flags.execute) {
            (true, _) => Rights::READ.union(Rights::WRITE),
            (false, true) => Rights::READ.union(Rights::EXECUTE),
            (false, false) => Rights::READ,
        };
        let mut chunk = start;
        while chunk < end {
            let chunk_end = end.min((chunk / TWO_MIB + 1) * TWO_MIB);
            let bytes = chunk_end - chunk;
            let dest = b.pages.take()?;
            let frame = b.make(CapType::Frame, bytes, PAGE_SIZE, dest)?;
            // Copy the part of the file that falls in this chunk (the rest stays zero).
            let file_start = segment.vaddr;
            let file_end = segment.vaddr + segment.file_bytes.len() as u64;
            let (copy_from, copy_to) = (file_start.max(chunk), file_end.min(chunk_end));
            if copy_from < copy_to {
                let src =
                    &segment.file_bytes[(copy_from - file_start) as usize..(copy_to - file_start) as usize];
                let dst = crate::phys::ptr::<u8>(frame.cap().base.offset(copy_from - chunk));
                // SAFETY: `dst` lies in the frame just made (bytes long), `src` in the module.
                unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
                if segment.flags.execute {
                    // The code was written through the data cache; the instruction fetch
                    // must see it (Arm ARM D7.5.9: clean to the point of unification, then
                    // invalidate the instruction cache).
                    boot::arch::clean_to_poc(dst as u64, src.len() as u64);
                    // SAFETY: cache maintenance and barriers only.
                    unsafe { core::arch::asm!("ic iallu", "dsb nsh", "isb", options(nostack)) };
                }
            }
            let table = b.table_for(vroot, chunk)?;
            let index = (chunk >> 12) & 511;
            vspace::map(table, index, frame, rights, 0, bytes / PAGE_SIZE)?;
            chunk = chunk_end;
        }
    }

    // The archive is part of the kernel image: readable, never writable or retypable.
    let archive_slot = Slot::in_cnode(modules_cnode.cap().base, u64::from(slot::MODULE_ARCHIVE.l2_index()));
    let mut cap = Capability::memory(CapType::Frame, archive.0, archive.1.next_multiple_of(PAGE_SIZE), core);
    cap.rights = Rights::READ.union(Rights::GRANT);
    archive_slot.set_cap(cap);
    mdb::insert_root(archive_slot);

    if let Some((base, size)) = devices.boot_channel {
        let channel = Slot::in_cnode(task_pa, u64::from(slot::BOOT_CHANNEL.l2_index()));
        let mut cap = Capability::memory(CapType::UrpcFrame, base, size, 0);
        cap.rights = Rights::READ.union(Rights::WRITE).union(Rights::GRANT);
        channel.set_cap(cap);
        mdb::insert_root(channel);
    }
    if let Some(uart) = devices.console {
        // The UART's page(s), as a device frame: never cached, never executable.
        let base = uart.regs.base.align_down(PAGE_SIZE);
        let end = uart.regs.end().checked_align_up(PAGE_SIZE).unwrap_or(base.offset(PAGE_SIZE));
        let device = Slot::in_cnode(task_pa, u64::from(slot::CONSOLE_DEVICE.l2_index()));
        let mut cap = Capability::memory(CapType::DevFrame, base, end.0 - base.0, core);
        cap.rights = Rights::READ.union(Rights::WRITE).union(Rights::GRANT);
        device.set_cap(cap);
        mdb::insert_root(device);
        if let Some(intid) = uart.intid {
            if crate::interrupts::claim(intid).is_ok() {
                let irq = Slot::in_cnode(task_pa, u64::from(slot::CONSOLE_IRQ.l2_index()));
                crate::syscall::make_irq_cap(irq, intid, core);
            }
        }
    }

    // Everything the domain's own objects did not use, as one RAM capability to allocate
    // from (the objects above stay descendants of INITIAL_RAM).
    let free_offset = b.used.next_multiple_of(TWO_MIB);
    let total = ram_slot.cap().size;
    if free_offset < total {
        let free = total - free_offset;
        ops::retype(
            ram_slot,
            CapType::Ram,
            free,
            free_offset,
            1,
            DestSlots { cnode: task_pa, first: u64::from(slot::FREE_RAM.l2_index()) },
            &mut crate::objects::prepare,
        )?;
    }

    let d = Dispatcher(dispatcher.cap().base);
    dispatch::setup(d, root_slot, vroot, image.entry(), 0, arg, None)?;
    dispatch::make_runnable(d)?;
    Ok(d)
}
