//! aarch64 boot code: the entry assembly, the boot core's pre-MMU page tables, the
//! hand-off table secondary cores read, and their release by PSCI or spin-table.
//!
//! The contract with the CPU driver: the entry code calls
//! `kernel_primary_main(fdt_pa: u64, load_pa: u64, entry_el: u64) -> !` on the boot core
//! and `kernel_secondary_main(core_id: u64, entry_el: u64) -> !` on every other core, each with the MMU and
//! caches on, interrupts masked, and the stack at `__stack_top` (that core's own pages).

use crate::addr::{PhysAddr, PhysRange, VirtAddr};
use crate::bootinfo::{CpuInfo, EnableMethod, PsciConduit, MAX_CPUS};
use crate::devicetree::MAX_BLOB_SIZE;
use crate::layout::{self, CoreRole, Layout, FDT_WINDOW_VA, KERNEL_VBASE, LINEAR_BASE};
use crate::memory::BootFrames;
use crate::paging::{Attributes, MapError, Mapper, Table, TableMemory, MAIR_EL1_VALUE, TCR_EL1_VALUE};
use core::arch::{asm, global_asm};
use core::mem::offset_of;

/// MPIDR_EL1 affinity fields Aff3 (39:32) and Aff2..Aff0 (23:0); the rest are flags.
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// SCTLR_EL1 with the MMU and caches off: just the RES1 bits (11, 20, 22, 23, 28, 29).
const SCTLR_EL1_MMU_OFF: u64 = 0x30d0_0800;
/// SCTLR_EL1 for the kernel (Arm ARM D19.2.118): M (MMU), C and I (caches), SA and SA0
/// (stack alignment checks), WXN (writable memory is never executable). A (alignment
/// checks) stays off: Rust may access Normal memory unaligned.
const SCTLR_EL1_MMU_ON: u64 =
    SCTLR_EL1_MMU_OFF | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 12) | (1 << 19);

/// One entry of the hand-off table: what a secondary core needs to turn its MMU on.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Handoff {
    pub mpidr: u64,
    pub ttbr0: u64,
    /// Zero marks an unused entry.
    pub ttbr1: u64,
    pub core_id: u64,
}

/// The hand-off table, in the `.shared` page. The boot core fills an entry and cleans it to
/// memory before releasing that core, which reads it with its MMU and caches still off.
#[link_section = ".shared"]
static mut HANDOFF: [Handoff; MAX_CPUS] = [Handoff { mpidr: 0, ttbr0: 0, ttbr1: 0, core_id: 0 }; MAX_CPUS];

global_asm!(
    include_str!("entry.s"),
    image_flags = const crate::image::FLOTILLA_FLAGS,
    image_magic = const crate::image::MAGIC,
    early_tables = sym early_primary_tables,
    mpidr_mask = const MPIDR_AFFINITY_MASK,
    handoff = sym HANDOFF,
    handoff_count = const MAX_CPUS,
    handoff_stride = const core::mem::size_of::<Handoff>(),
    off_mpidr = const offset_of!(Handoff, mpidr),
    off_ttbr0 = const offset_of!(Handoff, ttbr0),
    off_ttbr1 = const offset_of!(Handoff, ttbr1),
    off_core_id = const offset_of!(Handoff, core_id),
    sctlr_el1_mmu_off = const SCTLR_EL1_MMU_OFF,
    sctlr_el1_mmu_on = const SCTLR_EL1_MMU_ON,
    mair = const MAIR_EL1_VALUE,
    tcr = const TCR_EL1_VALUE,
);

unsafe extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __data_lma: u8;
    static __shared_start: u8;
    static __shared_end: u8;
    static __bootpool_start: u8;
    static __bootpool_end: u8;
    static __percore_start: u8;
    static __data_end: u8;
    static __bss_end: u8;
    static __stack_bottom: u8;
    static __stack_top: u8;
    static __exception_stack_bottom: u8;
    static __exception_stack_top: u8;
    static __percore_end: u8;
    static __ksyms_start: u8;
    static __ksyms_end: u8;
    fn secondary_entry();
}

/// The image layout, from the linker's symbols. Offsets are differences of PC-relative
/// addresses, so this gives the same answer before and after the MMU is on.
pub fn link_layout() -> Layout {
    let base = &raw const __image_start as u64;
    let off = |sym: *const u8| sym as u64 - base;
    Layout {
        text_end: off(&raw const __text_end),
        data_template: off(&raw const __data_lma),
        shared_start: off(&raw const __shared_start),
        shared_end: off(&raw const __shared_end),
        bootpool_start: off(&raw const __bootpool_start),
        bootpool_end: off(&raw const __bootpool_end),
        percore_start: off(&raw const __percore_start),
        data_end: off(&raw const __data_end),
        bss_end: off(&raw const __bss_end),
        stack_bottom: off(&raw const __stack_bottom),
        stack_top: off(&raw const __stack_top),
        exception_stack_bottom: off(&raw const __exception_stack_bottom),
        exception_stack_top: off(&raw const __exception_stack_top),
        percore_end: off(&raw const __percore_end),
    }
}

/// The kernel stack's bounds (virtual, the same on every core).
pub fn stack_bounds() -> (VirtAddr, VirtAddr) {
    (VirtAddr(&raw const __stack_bottom as u64), VirtAddr(&raw const __stack_top as u64))
}

/// The symbol table the build driver writes into the image, for backtraces.
pub fn ksyms() -> &'static [u8] {
    let start = &raw const __ksyms_start;
    let len = &raw const __ksyms_end as usize - start as usize;
    // SAFETY: the linker script reserves `.ksyms` as read-only bytes between these symbols.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// The boot core's page tables live in `.bootpool`, inside the image.
const BOOT_POOL_TABLES: usize = 48;
#[link_section = ".bootpool"]
static mut BOOT_POOL: [Table; BOOT_POOL_TABLES] = [const { Table::zeroed() }; BOOT_POOL_TABLES];
/// How many boot-pool tables are in use (kept across the MMU switch: it is read at the same
/// physical memory through both addresses).
static mut BOOT_POOL_USED: usize = 0;
/// The boot core's physical load address and its TTBR1 root, recorded before the MMU is on.
static mut BOOT_LOAD_PA: u64 = 0;
static mut BOOT_TTBR1: u64 = 0;
/// The device tree blob as mapped at `FDT_WINDOW_VA`: (physical address, bytes mapped).
static mut FDT_MAPPED: (u64, u64) = (0, 0);

/// Table memory for the boot core: the `.bootpool` array, reached at `address - offset`
/// where `offset` is the load-to-link difference once the MMU is on, and 0 before.
struct BootPool {
    /// Physical address of `BOOT_POOL[0]`.
    pool_pa: u64,
    /// Added to a physical address to get a usable pointer.
    pointer_offset: u64,
}

impl BootPool {
    fn before_mmu() -> BootPool {
        BootPool { pool_pa: &raw const BOOT_POOL as u64, pointer_offset: 0 }
    }
    fn after_mmu() -> BootPool {
        // SAFETY: written once before the MMU came on, read-only since.
        let load_pa = unsafe { BOOT_LOAD_PA };
        let pool_va = &raw const BOOT_POOL as u64;
        let pool_pa = pool_va - KERNEL_VBASE + load_pa;
        BootPool { pool_pa, pointer_offset: pool_va - pool_pa }
    }
}

// SAFETY: pool entries are handed out once each (the counter only grows), were zeroed by the
// entry code, and are reachable at `pa + pointer_offset` in the current translation regime.
unsafe impl TableMemory for BootPool {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let used_ptr = &raw mut BOOT_POOL_USED;
        // SAFETY: only the boot core runs this, with interrupts masked.
        let used = unsafe { used_ptr.read_volatile() };
        if used >= BOOT_POOL_TABLES {
            return None;
        }
        // SAFETY: as above.
        unsafe { used_ptr.write_volatile(used + 1) };
        Some(PhysAddr(self.pool_pa + (used * core::mem::size_of::<Table>()) as u64))
    }
    fn table(&mut self, pa: PhysAddr) -> *mut Table {
        (pa.0 + self.pointer_offset) as *mut Table
    }
}

/// Returned in x0/x1 to the entry code.
#[repr(C)]
pub struct TablePair {
    ttbr0: u64,
    ttbr1: u64,
}

/// Builds the boot core's first tables with the MMU off: the kernel image, the boot core's
/// private area right after it, the device tree blob, and the identity-mapped text.
///
/// Runs before the MMU is on: nothing here may follow a linker-written pointer, so it
/// calls only monomorphic code over integers and returns failure as zeros.
extern "C" fn early_primary_tables(fdt_pa: u64, load_pa: u64) -> TablePair {
    // SAFETY: single core, MMU off; these statics are read at the same memory after.
    unsafe {
        (&raw mut BOOT_LOAD_PA).write_volatile(load_pa);
    }
    let failed = TablePair { ttbr0: 0, ttbr1: 0 };
    let layout = link_layout();
    let image = PhysAddr(load_pa);
    let mut pool = BootPool::before_mmu();
    let ttbr1 = {
        let Ok(mut m) = Mapper::new(&mut pool) else { return failed };
        let percore = image.offset(layout.percore_start);
        if layout::map_kernel_image(&mut m, &layout, image, percore, CoreRole::Boot).is_err() {
            return failed;
        }
        if map_fdt_window(&mut m, fdt_pa).is_err() {
            return failed;
        }
        m.root()
    };
    let ttbr0 = {
        let Ok(mut m) = Mapper::new(&mut pool) else { return failed };
        if layout::map_identity_text(&mut m, &layout, image).is_err() {
            return failed;
        }
        m.root()
    };
    // SAFETY: as above.
    unsafe { (&raw mut BOOT_TTBR1).write_volatile(ttbr1.0) };
    TablePair { ttbr0: ttbr0.0, ttbr1: ttbr1.0 }
}

/// Maps the pages holding the device tree blob at `FDT_WINDOW_VA`. The blob's header is
/// read with the MMU off (the loader put it in RAM); a blob whose header cannot be read
/// (misaligned: with the MMU off every access is Device memory and must be aligned) or has
/// a bad magic gets one page mapped, enough to say what is wrong or to read an ATAG list.
fn map_fdt_window<M: TableMemory>(m: &mut Mapper<'_, M>, fdt_pa: u64) -> Result<(), MapError> {
    if fdt_pa == 0 {
        return Ok(());
    }
    let mut wanted = 4096;
    if fdt_pa.is_multiple_of(4) {
        let header = fdt_pa as *const u32;
        // SAFETY: the boot protocol puts the blob in RAM at x0; with the MMU off this is a
        // plain, aligned physical read of its first 8 bytes.
        let (magic, total) =
            unsafe { (u32::from_be(header.read_volatile()), u32::from_be(header.add(1).read_volatile())) };
        if magic == 0xd00d_feed {
            wanted = u64::from(total).clamp(8, MAX_BLOB_SIZE as u64);
        }
    }
    let first = PhysAddr(fdt_pa).align_down(4096);
    let Some(end) = PhysAddr(fdt_pa + wanted).checked_align_up(4096) else { return Ok(()) };
    m.map(VirtAddr(FDT_WINDOW_VA), first, end.0 - first.0, Attributes::KERNEL_RODATA)?;
    // SAFETY: single core, MMU off.
    unsafe { (&raw mut FDT_MAPPED).write_volatile((fdt_pa, wanted)) };
    Ok(())
}

/// The bytes the loader passed as a device tree, as far as they were mapped (`None` if it
/// passed none). The content is unchecked: hand it to [`crate::devicetree::parse`].
pub fn loader_fdt() -> Option<&'static [u8]> {
    // SAFETY: written before the MMU came on, read-only since.
    let (pa, len) = unsafe { FDT_MAPPED };
    if len == 0 {
        return None;
    }
    let va = FDT_WINDOW_VA + (pa & 0xfff);
    // SAFETY: `map_fdt_window` mapped `len` bytes from `va`, read-only, never unmapped.
    Some(unsafe { core::slice::from_raw_parts(va as *const u8, len as usize) })
}

/// The boot core's physical load address.
pub fn load_address() -> PhysAddr {
    // SAFETY: written once before the MMU came on.
    PhysAddr(unsafe { BOOT_LOAD_PA })
}

/// Adds mappings to the boot core's own TTBR1 tables (for the linear map and devices, once
/// the device tree has been read).
pub fn map_on_boot_core(ram: &[PhysRange], mmio: &[PhysRange]) -> Result<(), MapError> {
    let mut pool = BootPool::after_mmu();
    // SAFETY: written once before the MMU came on.
    let root = PhysAddr(unsafe { BOOT_TTBR1 });
    let mut m = Mapper::with_root(root, &mut pool);
    let result = layout::map_linear(&mut m, ram, mmio);
    barrier_after_table_update();
    result
}

/// Makes table writes visible to this core's table walker before the next access uses them.
fn barrier_after_table_update() {
    // SAFETY: barriers only.
    unsafe { asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}

/// Table memory from free RAM, reached through the linear map: how the boot core builds
/// another core's tables.
struct LinearFrames<'a> {
    frames: &'a mut BootFrames,
}

// SAFETY: `BootFrames` hands out each page once; pages are zeroed here before use and
// reached through the linear map, which covers all RAM.
unsafe impl TableMemory for LinearFrames<'_> {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let pa = self.frames.alloc(4096, 4096)?;
        // SAFETY: a fresh page of RAM, mapped by the linear map.
        unsafe { core::ptr::write_bytes((LINEAR_BASE + pa.0) as *mut u8, 0, 4096) };
        Some(pa)
    }
    fn table(&mut self, pa: PhysAddr) -> *mut Table {
        (LINEAR_BASE + pa.0) as *mut Table
    }
}

/// Why a secondary core could not be prepared or released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseError {
    /// No free memory for its private area or tables.
    OutOfMemory,
    /// Its tables could not be built.
    Map(MapError),
    /// The tree names no way to start it.
    NoEnableMethod,
    /// PSCI `CPU_ON` is the method but the tree has no PSCI node.
    NoPsci,
    /// PSCI `CPU_ON` failed.
    Psci(smccc::psci::Error),
    /// The spin-table release address is not in mapped memory.
    ReleaseAddressUnmapped(PhysAddr),
}

impl core::fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReleaseError::OutOfMemory => write!(f, "no free memory for its private area"),
            ReleaseError::Map(e) => write!(f, "page tables: {e}"),
            ReleaseError::NoEnableMethod => write!(f, "its enable-method is missing or unsupported"),
            ReleaseError::NoPsci => write!(f, "enable-method is psci but the device tree has no PSCI node"),
            ReleaseError::Psci(e) => write!(f, "PSCI CPU_ON failed: {e}"),
            ReleaseError::ReleaseAddressUnmapped(pa) => {
                write!(f, "spin-table release address {pa:#x} is not RAM")
            }
        }
    }
}

/// Gives core `core_id` (described by `cpu`) a private area and its own tables, and records
/// them in the hand-off table. `ram` and `mmio` are what its linear map shows. Returns the
/// physical address of its private area (see [`private_static`]).
pub fn prepare_secondary(
    frames: &mut BootFrames,
    core_id: usize,
    cpu: &CpuInfo,
    ram: &[PhysRange],
    mmio: &[PhysRange],
) -> Result<PhysAddr, ReleaseError> {
    if core_id >= MAX_CPUS {
        return Err(ReleaseError::OutOfMemory);
    }
    let layout = link_layout();
    let image = load_address();
    let percore = frames.alloc(layout.percore_size(), 4096).ok_or(ReleaseError::OutOfMemory)?;
    let template = (KERNEL_VBASE + layout.data_template) as *const u8;
    let private = (LINEAR_BASE + percore.0) as *mut u8;
    // SAFETY: `private` is a fresh allocation of percore_size bytes in the linear map;
    // the template is `data_size` read-only bytes of the image.
    unsafe {
        core::ptr::copy_nonoverlapping(template, private, layout.data_size() as usize);
        let rest = private.add(layout.data_size() as usize);
        core::ptr::write_bytes(rest, 0, (layout.percore_size() - layout.data_size()) as usize);
    }
    let mut tables = LinearFrames { frames };
    let ttbr1 = {
        let mut m = Mapper::new(&mut tables).map_err(ReleaseError::Map)?;
        layout::map_kernel_image(&mut m, &layout, image, percore, CoreRole::Secondary)
            .map_err(ReleaseError::Map)?;
        layout::map_linear(&mut m, ram, mmio).map_err(ReleaseError::Map)?;
        m.root()
    };
    let ttbr0 = {
        let mut m = Mapper::new(&mut tables).map_err(ReleaseError::Map)?;
        layout::map_identity_text(&mut m, &layout, image).map_err(ReleaseError::Map)?;
        m.root()
    };
    let entry = Handoff {
        mpidr: cpu.mpidr & MPIDR_AFFINITY_MASK,
        ttbr0: ttbr0.0,
        ttbr1: ttbr1.0,
        core_id: core_id as u64,
    };
    // SAFETY: only the boot core writes the hand-off table, before releasing the core that
    // reads this entry.
    let slot = unsafe { (&raw mut HANDOFF).cast::<Handoff>().add(core_id) };
    unsafe { slot.write_volatile(entry) };
    // The core reads its entry and tables with caches off (entry) or through its own
    // caches (tables); push both to the point of coherency.
    clean_to_poc(slot as u64, core::mem::size_of::<Handoff>() as u64);
    Ok(percore)
}

/// Where another core's copy of a per-core static lives, reached through the linear map:
/// `this_core` is the static's address on this core, `percore_pa` the other core's private
/// area from [`prepare_secondary`]. The boot core uses this to give a core its start-up
/// parameters before releasing it; once a core runs, its statics are its own.
pub fn private_static<T>(percore_pa: PhysAddr, this_core: *const T) -> *mut T {
    let percore_va = KERNEL_VBASE + link_layout().percore_start;
    (LINEAR_BASE + percore_pa.0 + (this_core as u64 - percore_va)) as *mut T
}

/// Starts the core that [`prepare_secondary`] prepared.
pub fn release_secondary(cpu: &CpuInfo, psci: Option<PsciConduit>) -> Result<(), ReleaseError> {
    let entry_pa = load_address().0 + (secondary_entry as *const () as u64 - KERNEL_VBASE);
    match cpu.enable_method {
        EnableMethod::Psci => {
            let conduit = psci.ok_or(ReleaseError::NoPsci)?;
            let result = match conduit {
                PsciConduit::Hvc => smccc::psci::cpu_on::<smccc::Hvc>(cpu.mpidr, entry_pa, 0),
                PsciConduit::Smc => smccc::psci::cpu_on::<smccc::Smc>(cpu.mpidr, entry_pa, 0),
            };
            result.map_err(ReleaseError::Psci)
        }
        EnableMethod::SpinTable { release_addr } => {
            let va = LINEAR_BASE + release_addr.0;
            if !is_mapped(va) {
                return Err(ReleaseError::ReleaseAddressUnmapped(release_addr));
            }
            // SAFETY: the release address is mapped (checked above) and the firmware's
            // spinning core only reads it.
            unsafe { (va as *mut u64).write_volatile(entry_pa) };
            clean_to_poc(va, 8);
            // SAFETY: wakes cores waiting in `wfe`; no memory effects.
            unsafe { asm!("sev", options(nostack, preserves_flags)) };
            Ok(())
        }
        EnableMethod::None | EnableMethod::Unsupported => Err(ReleaseError::NoEnableMethod),
    }
}

/// True if this core's tables map `va` for reading (AT S1E1R, Arm ARM C5.5.4).
pub fn is_mapped(va: u64) -> bool {
    translate(va).is_some()
}

/// The physical address this core's tables map `va` to, if they map it for reading
/// (AT S1E1R; PAR_EL1 holds the output address in bits 47:12 when F, bit 0, is clear).
pub fn translate(va: u64) -> Option<PhysAddr> {
    let par: u64;
    // SAFETY: address translation instruction; reads PAR_EL1, changes nothing else.
    unsafe {
        asm!("at s1e1r, {va}", "isb", "mrs {par}, par_el1", va = in(reg) va, par = out(reg) par, options(nostack));
    }
    (par & 1 == 0).then_some(PhysAddr((par & 0x0000_ffff_ffff_f000) | (va & 0xfff)))
}

/// Cleans and invalidates the data cache lines covering `[va, va + len)` to the point of
/// coherency, so an observer with caches off sees the data.
pub fn clean_to_poc(va: u64, len: u64) {
    let ctr: u64;
    // SAFETY: reads the cache type register.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nostack, nomem)) };
    let line = 4u64 << ((ctr >> 16) & 0xf); // DminLine: log2 of words in the smallest line
    let mut addr = va & !(line - 1);
    while addr < va + len {
        // SAFETY: cache maintenance by VA on mapped memory.
        unsafe { asm!("dc civac, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += line;
    }
    // SAFETY: barrier only.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}
