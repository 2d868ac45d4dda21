//! A builder for AArch64 stage-1 translation tables (4 KiB granule, 48-bit addresses,
//! four levels L0–L3).
//!
//! Each core builds its own kernel tables, so nothing about address translation is shared
//! between cores: the same kernel virtual address can show each core its own physical copy
//! of `.data`/`.bss` (that is how a plain `static` becomes per-core state). The builder runs
//! in three settings, which is why table memory is behind the [`TableMemory`] trait:
//! - before the MMU is on (tables reached at their physical address);
//! - after, on the boot core building a secondary core's tables (reached through the
//!   kernel's linear map of RAM);
//! - on the host, in tests (tables in a `Vec`).
//!
//! The code that runs before the MMU is on must not follow any pointer the linker wrote
//! (those hold link-time virtual addresses), so this module uses no trait objects, no
//! formatting and no panicking paths on the mapping path: errors are returned as values.
//!
//! Descriptor formats: Arm ARM (DDI 0487) D8.3, "Translation table descriptor formats".

use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};

/// Entries per table (4 KiB granule, 8-byte descriptors).
pub const ENTRIES: usize = 512;

/// One translation table: 512 descriptors, 4 KiB-aligned as the hardware requires.
#[repr(C, align(4096))]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    pub const fn zeroed() -> Table {
        Table([0; ENTRIES])
    }
}

/// Bytes mapped by one descriptor at each level: 512 GiB (L0 table only), 1 GiB, 2 MiB, 4 KiB.
pub const LEVEL_SIZE: [u64; 4] = [1 << 39, 1 << 30, 1 << 21, 1 << 12];

// Descriptor bits (Arm ARM D8.3.1 and D8.3.2).
const DESC_VALID: u64 = 1 << 0;
/// Bit 1 set: a table descriptor at L0–L2, a page descriptor at L3. Clear: a block at L1/L2.
const DESC_TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_INDEX_SHIFT: u32 = 2;
const AP_SHIFT: u32 = 6;
const SH_INNER_SHAREABLE: u64 = 0b11 << 8;
/// Access flag: set up front so the first access does not fault (no hardware AF management).
const DESC_AF: u64 = 1 << 10;
/// Not global: the entry belongs to one address space (ASID), as every user mapping does.
const DESC_NG: u64 = 1 << 11;
const DESC_PXN: u64 = 1 << 53;
const DESC_UXN: u64 = 1 << 54;
/// Output address bits 47:12.
const DESC_ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

/// Descriptor bits 58:55, ignored by the hardware and left to software (Arm ARM D8.3.2).
pub const SOFTWARE_BITS: u64 = 0b1111 << 55;
/// Bit position of the software field.
pub const SOFTWARE_SHIFT: u32 = 55;

/// A table descriptor pointing at the next-level table `pa`.
pub const fn table_descriptor(pa: PhysAddr) -> u64 {
    (pa.0 & DESC_ADDR_MASK) | DESC_VALID | DESC_TABLE_OR_PAGE
}

/// The output address of a descriptor.
pub const fn descriptor_address(desc: u64) -> PhysAddr {
    PhysAddr(desc & DESC_ADDR_MASK)
}

/// True if the descriptor is valid.
pub const fn descriptor_is_valid(desc: u64) -> bool {
    desc & DESC_VALID != 0
}

/// MAIR_EL1 attribute indexes, the `AttrIndx` each [`MemoryKind`] selects.
pub const MAIR_INDEX_DEVICE: u64 = 1;
pub const MAIR_INDEX_NORMAL: u64 = 2;
pub const MAIR_INDEX_NORMAL_UNCACHED: u64 = 3;

/// MAIR_EL1 (Arm ARM D19.2.97): index 0 Device-nGnRnE (0x00), index 1 Device-nGnRE (0x04)
/// for MMIO, index 2 Normal write-back read/write-allocate (0xff) for RAM, index 3 Normal
/// non-cacheable (0x44).
pub const MAIR_EL1_VALUE: u64 = (0x04 << (8 * MAIR_INDEX_DEVICE))
    | (0xff << (8 * MAIR_INDEX_NORMAL))
    | (0x44 << (8 * MAIR_INDEX_NORMAL_UNCACHED));

/// TCR_EL1 (Arm ARM D19.2.139) without IPS, which the entry code fills in from
/// ID_AA64MMFR0_EL1.PARange: T0SZ = T1SZ = 16 (48-bit address spaces in both halves),
/// 4 KiB granules (TG0 = 0b00, TG1 = 0b10), table walks inner-shareable and write-back
/// cacheable (SHn = 0b11, IRGNn = ORGNn = 0b01).
pub const TCR_EL1_VALUE: u64 = 16 // T0SZ
    | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) // IRGN0, ORGN0, SH0
    | (16 << 16) // T1SZ
    | (0b01 << 24) | (0b01 << 26) | (0b11 << 28) // IRGN1, ORGN1, SH1
    | (0b10 << 30); // TG1 = 4 KiB

/// What kind of memory a mapping shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// RAM, cached.
    Normal,
    /// Memory-mapped device registers: no caching, no speculation, no merging.
    Device,
    /// RAM, not cached (for buffers shared with non-coherent observers).
    NormalUncached,
}

/// Who may read, write and execute a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// EL1 may read and execute; nobody writes (kernel text).
    KernelExecute,
    /// EL1 may read (kernel read-only data).
    KernelRead,
    /// EL1 may read and write (kernel data, stacks, MMIO).
    KernelReadWrite,
    /// EL0 and EL1 may read; EL0 may execute (user text).
    UserExecute,
    /// EL0 and EL1 may read.
    UserRead,
    /// EL0 and EL1 may read and write.
    UserReadWrite,
}

/// The attributes of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub kind: MemoryKind,
    pub access: Access,
}

impl Attributes {
    pub const KERNEL_TEXT: Attributes =
        Attributes { kind: MemoryKind::Normal, access: Access::KernelExecute };
    pub const KERNEL_RODATA: Attributes = Attributes { kind: MemoryKind::Normal, access: Access::KernelRead };
    pub const KERNEL_DATA: Attributes =
        Attributes { kind: MemoryKind::Normal, access: Access::KernelReadWrite };
    pub const DEVICE: Attributes = Attributes { kind: MemoryKind::Device, access: Access::KernelReadWrite };

    /// The leaf descriptor bits for these attributes, without the output address or the
    /// block/page type bits.
    const fn descriptor_bits(self) -> u64 {
        let index = match self.kind {
            MemoryKind::Normal => MAIR_INDEX_NORMAL,
            MemoryKind::Device => MAIR_INDEX_DEVICE,
            MemoryKind::NormalUncached => MAIR_INDEX_NORMAL_UNCACHED,
        };
        // AP[2:1] (Arm ARM D8.4.1.2.1): 0b00 EL1 RW, 0b01 EL1+EL0 RW, 0b10 EL1 RO, 0b11 both RO.
        // PXN keeps EL1 from executing anything but kernel text; UXN keeps EL0 from executing
        // anything but user text. EL1 can never execute user-writable memory (the
        // architecture forbids it where EL0 can write; PXN makes it explicit).
        let (ap, pxn, uxn) = match self.access {
            Access::KernelExecute => (0b10, false, true),
            Access::KernelRead => (0b10, true, true),
            Access::KernelReadWrite => (0b00, true, true),
            Access::UserExecute => (0b11, true, false),
            Access::UserRead => (0b11, true, true),
            Access::UserReadWrite => (0b01, true, true),
        };
        // Device memory ignores shareability; Normal memory is shared by all cores.
        let sh = match self.kind {
            MemoryKind::Device => 0,
            _ => SH_INNER_SHAREABLE,
        };
        let user = matches!(self.access, Access::UserExecute | Access::UserRead | Access::UserReadWrite);
        (index << ATTR_INDEX_SHIFT)
            | (ap << AP_SHIFT)
            | sh
            | DESC_AF
            | if user { DESC_NG } else { 0 }
            | if pxn { DESC_PXN } else { 0 }
            | if uxn { DESC_UXN } else { 0 }
    }

    /// A leaf (block or page) descriptor mapping `pa` with these attributes at `level`
    /// (1, 2 or 3).
    pub const fn leaf_descriptor(self, pa: PhysAddr, level: usize) -> u64 {
        let type_bits = if level == 3 { DESC_VALID | DESC_TABLE_OR_PAGE } else { DESC_VALID };
        (pa.0 & DESC_ADDR_MASK) | self.descriptor_bits() | type_bits
    }

    /// Recovers the attributes from a leaf descriptor, if its bits are ones this module writes.
    pub fn from_descriptor(desc: u64) -> Option<Attributes> {
        const KINDS: [MemoryKind; 3] = [MemoryKind::Normal, MemoryKind::Device, MemoryKind::NormalUncached];
        const ACCESSES: [Access; 6] = [
            Access::KernelExecute,
            Access::KernelRead,
            Access::KernelReadWrite,
            Access::UserExecute,
            Access::UserRead,
            Access::UserReadWrite,
        ];
        let bits = desc & !(DESC_ADDR_MASK | DESC_VALID | DESC_TABLE_OR_PAGE | SOFTWARE_BITS);
        KINDS
            .iter()
            .flat_map(|&kind| ACCESSES.iter().map(move |&access| Attributes { kind, access }))
            .find(|attrs| attrs.descriptor_bits() == bits)
    }
}

/// Where the builder gets table memory and how it reaches a table by physical address.
///
/// # Safety
/// `alloc_table` must return the physical address of a zeroed, 4 KiB-aligned page that
/// nothing else uses, and `table` must return a pointer through which that page (or any page
/// `alloc_table` returned, or the root handed to [`Mapper::with_root`]) can be read and
/// written exclusively for as long as the builder runs.
pub unsafe trait TableMemory {
    fn alloc_table(&mut self) -> Option<PhysAddr>;
    fn table(&mut self, pa: PhysAddr) -> *mut Table;
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No memory for another table.
    OutOfTables,
    /// The virtual address, physical address or size is not a multiple of 4 KiB.
    Misaligned,
    /// The virtual address is neither in the low (TTBR0) nor the high (TTBR1) 48-bit half,
    /// or the range wraps.
    NonCanonical,
    /// Part of the range is already mapped differently.
    AlreadyMapped { va: VirtAddr },
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::OutOfTables => write!(f, "out of memory for page tables"),
            MapError::Misaligned => write!(f, "mapping not aligned to 4 KiB"),
            MapError::NonCanonical => write!(f, "address outside the 48-bit address space"),
            MapError::AlreadyMapped { va } => write!(f, "{va:#x} is already mapped differently"),
        }
    }
}

/// The result of walking the tables for one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub pa: PhysAddr,
    pub attrs: Option<Attributes>,
    /// Size of the block or page that maps the address (4 KiB, 2 MiB or 1 GiB).
    pub mapping_size: u64,
}

/// Index into the table at `level` (0..=3) for `va`: 9 bits each, starting at bit 39.
pub const fn table_index(va: VirtAddr, level: usize) -> usize {
    ((va.0 >> (39 - 9 * level)) & (ENTRIES as u64 - 1)) as usize
}

/// True if `va` lies in the lower (TTBR0) or upper (TTBR1) 48-bit region: bits 63:48 all
/// zeros or all ones (with T0SZ = T1SZ = 16).
pub const fn is_canonical(va: VirtAddr) -> bool {
    let top = va.0 >> 48;
    top == 0 || top == 0xffff
}

/// Builds (or extends) one translation regime's tables, rooted at an L0 table.
pub struct Mapper<'m, M: TableMemory> {
    root: PhysAddr,
    memory: &'m mut M,
}

impl<'m, M: TableMemory> Mapper<'m, M> {
    /// Starts a new set of tables with a fresh root.
    pub fn new(memory: &'m mut M) -> Result<Self, MapError> {
        let root = memory.alloc_table().ok_or(MapError::OutOfTables)?;
        Ok(Mapper { root, memory })
    }

    /// Continues a set of tables whose root is `root` (a table `memory` can reach).
    pub fn with_root(root: PhysAddr, memory: &'m mut M) -> Self {
        Mapper { root, memory }
    }

    /// The root table's physical address: the value for TTBR0_EL1/TTBR1_EL1.
    pub fn root(&self) -> PhysAddr {
        self.root
    }

    fn entry(&mut self, table: PhysAddr, index: usize) -> *mut u64 {
        let table = self.memory.table(table);
        // SAFETY: `TableMemory` promises `table` points at a whole, live `Table`, and
        // `index` < ENTRIES because `table_index` masks it to 9 bits.
        unsafe { (*table).0.as_mut_ptr().add(index & (ENTRIES - 1)) }
    }

    fn read(&mut self, table: PhysAddr, index: usize) -> u64 {
        // SAFETY: `entry` returns a valid, aligned pointer into a live table.
        unsafe { self.entry(table, index).read_volatile() }
    }

    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        // SAFETY: as in `read`; the table is exclusively ours while the builder runs.
        // Volatile, because the MMU of this or another core may walk the table at any time.
        unsafe { self.entry(table, index).write_volatile(desc) }
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)`, using the largest blocks that alignment
    /// allows (1 GiB, 2 MiB, else 4 KiB pages). Re-mapping a range identically is allowed.
    pub fn map(&mut self, va: VirtAddr, pa: PhysAddr, size: u64, attrs: Attributes) -> Result<(), MapError> {
        if !va.is_aligned(PAGE_SIZE) || !pa.is_aligned(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let last = match va.0.checked_add(size.saturating_sub(1)) {
            Some(last) => VirtAddr(last),
            None => return Err(MapError::NonCanonical),
        };
        if !is_canonical(va) || !is_canonical(last) || (va.0 >> 48) != (last.0 >> 48) {
            return Err(MapError::NonCanonical);
        }
        if pa.0.checked_add(size).is_none_or(|end| end > DESC_ADDR_MASK + PAGE_SIZE) {
            return Err(MapError::NonCanonical);
        }
        let mut done = 0;
        while done < size {
            let (v, p, left) = (va.offset(done), pa.offset(done), size - done);
            let level = (1..=3)
                .find(|&l| {
                    let block = LEVEL_SIZE[l];
                    v.is_aligned(block) && p.is_aligned(block) && left >= block
                })
                .unwrap_or(3);
            let table = self.walk_to(v, level)?;
            let desc = attrs.leaf_descriptor(p, level);
            let index = table_index(v, level);
            let old = self.read(table, index);
            if old & DESC_VALID != 0 && old != desc {
                return Err(MapError::AlreadyMapped { va: v });
            }
            self.write(table, index, desc);
            done += LEVEL_SIZE[level];
        }
        Ok(())
    }

    /// Returns the table at `level` that covers `va`, creating intermediate tables.
    fn walk_to(&mut self, va: VirtAddr, level: usize) -> Result<PhysAddr, MapError> {
        let mut table = self.root;
        for l in 0..level {
            let index = table_index(va, l);
            let desc = self.read(table, index);
            if desc & DESC_VALID == 0 {
                let next = self.memory.alloc_table().ok_or(MapError::OutOfTables)?;
                self.write(table, index, table_descriptor(next));
                table = next;
            } else if desc & DESC_TABLE_OR_PAGE != 0 {
                table = PhysAddr(desc & DESC_ADDR_MASK);
            } else {
                // A block already covers this range at a coarser level.
                return Err(MapError::AlreadyMapped { va });
            }
        }
        Ok(table)
    }

    /// Walks the tables as the MMU would; `None` if `va` is not mapped.
    pub fn translate(&mut self, va: VirtAddr) -> Option<Translation> {
        if !is_canonical(va) {
            return None;
        }
        let mut table = self.root;
        for (level, &size) in LEVEL_SIZE.iter().enumerate() {
            let desc = self.read(table, table_index(va, level));
            if desc & DESC_VALID == 0 {
                return None;
            }
            let is_leaf = level == 3 || (level > 0 && desc & DESC_TABLE_OR_PAGE == 0);
            if is_leaf {
                let base = desc & DESC_ADDR_MASK & !(size - 1);
                return Some(Translation {
                    pa: PhysAddr(base | (va.0 & (size - 1))),
                    attrs: Attributes::from_descriptor(desc),
                    mapping_size: size,
                });
            }
            if level == 0 && desc & DESC_TABLE_OR_PAGE == 0 {
                return None; // L0 has no block descriptors with a 4 KiB granule.
            }
            table = PhysAddr(desc & DESC_ADDR_MASK);
        }
        None
    }
}

/// Table memory for host tests: tables in a `Vec`, at made-up physical addresses.
#[cfg(test)]
pub(crate) mod test_tables {
    use super::*;

    pub(crate) struct VecTables {
        pub(crate) tables: Vec<Box<Table>>,
        limit: usize,
    }
    const BASE: u64 = 0x8000_0000;

    impl VecTables {
        /// At most `limit` tables can be allocated.
        pub(crate) fn new(limit: usize) -> Self {
            VecTables { tables: Vec::new(), limit }
        }
    }

    // SAFETY: each table is a separate boxed allocation, zeroed, handed out once.
    unsafe impl TableMemory for VecTables {
        fn alloc_table(&mut self) -> Option<PhysAddr> {
            if self.tables.len() == self.limit {
                return None;
            }
            self.tables.push(Box::new(Table::zeroed()));
            Some(PhysAddr(BASE + (self.tables.len() as u64 - 1) * PAGE_SIZE))
        }
        fn table(&mut self, pa: PhysAddr) -> *mut Table {
            let index = ((pa.0 - BASE) / PAGE_SIZE) as usize;
            &mut *self.tables[index]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_tables::VecTables;
    use super::*;
    use proptest::prelude::*;

    const KERNEL: VirtAddr = VirtAddr(0xffff_ff80_0000_0000);

    #[test]
    fn a_mapped_page_translates_to_its_frame_with_its_attributes() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        m.map(KERNEL, PhysAddr(0x4020_0000), PAGE_SIZE, Attributes::KERNEL_TEXT).unwrap();
        let t = m.translate(KERNEL.offset(0x123)).unwrap();
        assert_eq!(t.pa, PhysAddr(0x4020_0123));
        assert_eq!(t.attrs, Some(Attributes::KERNEL_TEXT));
        assert_eq!(t.mapping_size, PAGE_SIZE);
        assert_eq!(m.translate(KERNEL.offset(PAGE_SIZE)), None);
    }

    #[test]
    fn aligned_ranges_use_2mib_and_1gib_blocks() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        let linear = VirtAddr(0xffff_0000_0000_0000);
        m.map(linear.offset(1 << 30), PhysAddr(1 << 30), (1 << 30) + (2 << 20), Attributes::KERNEL_DATA)
            .unwrap();
        assert_eq!(m.translate(linear.offset(1 << 30)).unwrap().mapping_size, 1 << 30);
        assert_eq!(m.translate(linear.offset((2 << 30) + 5)).unwrap().mapping_size, 2 << 20);
        // Root, one L1 and one L2 table: no L3 table was needed.
        assert_eq!(mem.tables.len(), 3);
    }

    #[test]
    fn unaligned_physical_start_falls_back_to_pages() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        m.map(KERNEL, PhysAddr(0x8_0000), 2 << 20, Attributes::KERNEL_DATA).unwrap();
        assert_eq!(m.translate(KERNEL).unwrap().mapping_size, PAGE_SIZE);
        assert_eq!(m.translate(KERNEL.offset((2 << 20) - 1)).unwrap().pa, PhysAddr(0x27_ffff));
    }

    #[test]
    fn high_half_addresses_index_by_bits_47_to_12() {
        assert_eq!(table_index(KERNEL, 0), 511);
        assert_eq!(table_index(KERNEL, 1), 0);
        assert_eq!(table_index(VirtAddr(0xffff_ff80_4020_3000), 2), 1);
        assert_eq!(table_index(VirtAddr(0xffff_ff80_4020_3000), 3), 3);
    }

    #[test]
    fn misaligned_requests_are_refused() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        assert_eq!(
            m.map(KERNEL.offset(1), PhysAddr(0), PAGE_SIZE, Attributes::DEVICE),
            Err(MapError::Misaligned)
        );
        assert_eq!(m.map(KERNEL, PhysAddr(8), PAGE_SIZE, Attributes::DEVICE), Err(MapError::Misaligned));
        assert_eq!(m.map(KERNEL, PhysAddr(0), 100, Attributes::DEVICE), Err(MapError::Misaligned));
    }

    #[test]
    fn non_canonical_and_wrapping_ranges_are_refused() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        let hole = VirtAddr(0x0001_0000_0000_0000);
        assert_eq!(m.map(hole, PhysAddr(0), PAGE_SIZE, Attributes::DEVICE), Err(MapError::NonCanonical));
        let top = VirtAddr(0xffff_ffff_ffff_f000);
        assert_eq!(m.map(top, PhysAddr(0), 2 * PAGE_SIZE, Attributes::DEVICE), Err(MapError::NonCanonical));
        let low_end = VirtAddr(0x0000_ffff_ffff_f000);
        assert_eq!(
            m.map(low_end, PhysAddr(0), 2 * PAGE_SIZE, Attributes::DEVICE),
            Err(MapError::NonCanonical)
        );
    }

    #[test]
    fn conflicting_mappings_are_refused_and_identical_ones_allowed() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        m.map(KERNEL, PhysAddr(0x1000), PAGE_SIZE, Attributes::KERNEL_DATA).unwrap();
        m.map(KERNEL, PhysAddr(0x1000), PAGE_SIZE, Attributes::KERNEL_DATA).unwrap();
        assert_eq!(
            m.map(KERNEL, PhysAddr(0x2000), PAGE_SIZE, Attributes::KERNEL_DATA),
            Err(MapError::AlreadyMapped { va: KERNEL })
        );
        assert_eq!(
            m.map(KERNEL, PhysAddr(0x1000), PAGE_SIZE, Attributes::KERNEL_TEXT),
            Err(MapError::AlreadyMapped { va: KERNEL })
        );
    }

    #[test]
    fn a_page_inside_an_existing_block_is_refused() {
        let mut mem = VecTables::new(8);
        let mut m = Mapper::new(&mut mem).unwrap();
        m.map(KERNEL, PhysAddr(0), 2 << 20, Attributes::KERNEL_DATA).unwrap();
        let inside = KERNEL.offset(0x3000);
        assert_eq!(
            m.map(inside, PhysAddr(0x9000), PAGE_SIZE, Attributes::KERNEL_DATA),
            Err(MapError::AlreadyMapped { va: inside })
        );
    }

    #[test]
    fn running_out_of_tables_is_an_error_not_a_crash() {
        let mut mem = VecTables::new(2);
        let mut m = Mapper::new(&mut mem).unwrap();
        assert_eq!(m.map(KERNEL, PhysAddr(0), PAGE_SIZE, Attributes::DEVICE), Err(MapError::OutOfTables));
    }

    #[test]
    fn kernel_text_is_executable_only_at_el1_and_data_nowhere() {
        let text = Attributes::KERNEL_TEXT.descriptor_bits();
        let data = Attributes::KERNEL_DATA.descriptor_bits();
        assert_eq!(text & (DESC_PXN | DESC_UXN), DESC_UXN);
        assert_eq!(data & (DESC_PXN | DESC_UXN), DESC_PXN | DESC_UXN);
        assert_eq!((text >> AP_SHIFT) & 0b11, 0b10, "text is read-only");
        assert_eq!((data >> AP_SHIFT) & 0b11, 0b00, "data is EL1 read-write");
    }

    #[test]
    fn mair_selects_device_for_mmio_and_write_back_for_ram() {
        assert_eq!((MAIR_EL1_VALUE >> (8 * MAIR_INDEX_DEVICE)) & 0xff, 0x04);
        assert_eq!((MAIR_EL1_VALUE >> (8 * MAIR_INDEX_NORMAL)) & 0xff, 0xff);
        let device = Attributes::DEVICE.descriptor_bits();
        assert_eq!((device >> ATTR_INDEX_SHIFT) & 0b111, MAIR_INDEX_DEVICE);
    }

    proptest! {
        /// Random non-overlapping page runs map and translate back exactly, whatever block
        /// sizes the builder picked.
        #[test]
        fn random_mappings_translate_back(runs in proptest::collection::vec((0u64..64, 1u64..1100, 0u64..4096), 1..8)) {
            let mut mem = VecTables::new(256);
            let mut m = Mapper::new(&mut mem).unwrap();
            let mut next_va = KERNEL;
            let mut placed = Vec::new();
            for (gap_pages, pages, pa_page) in runs {
                let va = next_va.offset(gap_pages * PAGE_SIZE);
                let pa = PhysAddr(pa_page * (2 << 20) + (gap_pages % 2) * PAGE_SIZE);
                let size = pages * PAGE_SIZE;
                m.map(va, pa, size, Attributes::KERNEL_DATA).unwrap();
                placed.push((va, pa, size));
                next_va = va.offset(size);
            }
            for (va, pa, size) in placed {
                for probe in [0, size / 2, size - 1] {
                    let t = m.translate(va.offset(probe)).unwrap();
                    prop_assert_eq!(t.pa, pa.offset(probe));
                    prop_assert_eq!(t.attrs, Some(Attributes::KERNEL_DATA));
                }
            }
        }
    }
}
