//! Explicit paging: an address space built by the program itself, in three steps.
//!
//! Flotilla's kernel has no page-fault handler that conjures memory. A program that
//! wants memory at an address does what `docs/DESIGN.md` §5 calls the three steps:
//!
//! 1. **retype RAM into translation tables** (VNodes of levels 1–3) for every level of the
//!    walk from the root to the address that does not exist yet;
//! 2. **install them** with `VNODE_MAP`: each table in an entry of its parent, starting at
//!    the root (the L0 table, `ROOT_VNODE`);
//! 3. **retype RAM into frames and map them** with `VNODE_MAP` on the level-3 table.
//!
//! The kernel only checks the capabilities and writes descriptors. This module packages
//! the steps in a [`VSpace`]: [`VSpace::map_frame`] maps a frame the caller has (making
//! any missing tables), [`VSpace::map_new`] also makes the frames, from one fresh piece of
//! RAM, and [`VSpace::unmap`] undoes that by freeing the piece (the kernel unmaps frames
//! as they are destroyed).
//!
//! ## What a `VSpace` remembers
//!
//! The kernel does not say which tables exist, so a `VSpace` keeps a fixed-size list of
//! the tables it made: level, which part of the address space the table covers, and the
//! slot holding it ([`TableSet`]). Tables are never taken down: they are small, and an
//! address space tends to reuse its regions. For the program's own address space the
//! list starts with the one table of the image it shares: a program is linked at
//! `0x400000` (`libos/user.ld`), so its image's tables, which its creator left in the page
//! CNode (L1 slot 1), hang off L0 entry 0 through one level-1 table, and
//! [`with_current`] adopts that table on first use. It never maps inside the image's own
//! gigabyte, so it needs none of the image's lower tables.
//!
//! ## Where anonymous memory goes
//!
//! [`VSpace::alloc_region`] hands out virtual address ranges from a window from
//! [`WINDOW_START`] (64 GiB, far from the image at 4 MiB) to [`WINDOW_END`] (512 GiB, the
//! end of what L0 entry 0 covers, so every mapping shares the one level-1 table). It is
//! the same first-fit range list as the RAM allocator's ([`crate::range`]).
//!
//! ## Tables come from a `TableSource`
//!
//! The program's own address space makes its tables from its own RAM and slots
//! ([`OwnTables`]). An address space being built for a child ([`crate::spawn`]) makes
//! them from the child's RAM into the child's CNode, so that the child owns them and
//! revoking the child's RAM takes them too. [`TableSource`] is that one difference.
//!
//! ## Limits
//!
//! One frame capability records one mapping, in one level-3 table, so a frame is mapped
//! within one 2 MiB-aligned block ([`Error::CrossesTable`] otherwise); [`VSpace::map_new`]
//! splits its memory into frames at those boundaries ([`pieces`]), at most
//! [`MAX_FRAMES_PER_MAPPING`] of them.

use crate::error::Error;
use crate::range::RangeError;
use abi::CapAddr;

#[cfg(target_os = "none")]
use crate::cap::{CapRef, FrameCap, RamCap, VNodeCap};
#[cfg(target_os = "none")]
use crate::range::RangeSet;
#[cfg(target_os = "none")]
use abi::cap::{slot, CapType, Rights, PAGE_SIZE};

/// Where anonymous mappings start: 64 GiB.
pub const WINDOW_START: u64 = 0x10_0000_0000;
/// Where they end: 512 GiB, the reach of L0 entry 0.
pub const WINDOW_END: u64 = 0x80_0000_0000;
/// Bytes one level-3 table maps: the most one frame mapping may span.
pub const L3_REACH: u64 = 2 << 20;
/// Translation tables a [`VSpace`] keeps track of.
pub const MAX_TABLES: usize = 256;
/// Free ranges of the window a [`VSpace`] keeps track of.
pub const MAX_REGIONS: usize = 64;
/// Frames one [`VSpace::map_new`] makes: one L2 CNode's worth (512 MiB).
pub const MAX_FRAMES_PER_MAPPING: u64 = abi::cap::L2_CNODE_SLOTS;

/// The index of `va`'s entry in the table of `level` (0–3) that covers it.
pub const fn entry_index(level: u32, va: u64) -> u64 {
    (va >> (39 - 9 * level)) & 511
}

/// log2 of the bytes a table of `level` (1–3) covers: 512 GiB, 1 GiB, 2 MiB.
const fn reach_shift(level: u32) -> u32 {
    48 - 9 * level
}

/// Splits `[start, end)` at every 2 MiB boundary: the parts one frame each can map.
pub fn pieces(start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut at = start;
    core::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let piece_end = end.min((at / L3_REACH + 1) * L3_REACH);
        let piece = (at, piece_end);
        at = piece_end;
        Some(piece)
    })
}

/// What a window range error means.
fn window_error(e: RangeError) -> Error {
    match e {
        RangeError::NoFit => Error::OutOfVirtualSpace,
        RangeError::Full => Error::TooManyRanges,
        RangeError::NotAllocated => Error::NotAllocated,
    }
}

/// One table a [`VSpace`] knows: its level and which block of the address space it covers
/// (the address shifted right by its [`reach_shift`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KnownTable {
    level: u32,
    block: u64,
    table: CapAddr,
}

/// The translation tables of one address space, by level and the addresses they cover.
#[derive(Clone, Debug)]
pub struct TableSet<const N: usize> {
    tables: [KnownTable; N],
    len: usize,
}

impl<const N: usize> Default for TableSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TableSet<N> {
    pub const fn new() -> Self {
        TableSet { tables: [KnownTable { level: 0, block: 0, table: CapAddr::NULL }; N], len: 0 }
    }

    /// The table of `level` (1–3) that covers `va`, if known.
    pub fn find(&self, level: u32, va: u64) -> Option<CapAddr> {
        let block = va >> reach_shift(level);
        self.tables[..self.len].iter().find(|t| t.level == level && t.block == block).map(|t| t.table)
    }

    /// Records `table` as the table of `level` (1–3) covering `va`.
    pub fn insert(&mut self, level: u32, va: u64, table: CapAddr) -> Result<(), Error> {
        let entry = self.tables.get_mut(self.len).ok_or(Error::TooManyTables)?;
        *entry = KnownTable { level, block: va >> reach_shift(level), table };
        self.len += 1;
        Ok(())
    }

    pub fn is_full(&self) -> bool {
        self.len == N
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Where a [`VSpace`] gets new translation tables from.
#[cfg(target_os = "none")]
pub trait TableSource {
    /// A new, empty translation table of type `ty` (`VNodeL1` to `VNodeL3`).
    fn make_table(&mut self, ty: CapType) -> Result<VNodeCap, Error>;
}

/// Tables for this program's own address space: each from a page of its own RAM
/// ([`crate::ram`]), in its own slots ([`crate::cspace`]). They live as long as the
/// program.
#[cfg(target_os = "none")]
pub struct OwnTables;

#[cfg(target_os = "none")]
impl TableSource for OwnTables {
    fn make_table(&mut self, ty: CapType) -> Result<VNodeCap, Error> {
        let ram = crate::ram::alloc_ram(PAGE_SIZE, PAGE_SIZE)?;
        ram.make(ty, 0, 0).map(VNodeCap).inspect_err(|_| {
            let _ = crate::ram::free_ram(ram);
        })
    }
}

/// Memory mapped by [`VSpace::map_new`]: its frames, the RAM they are made of, and where.
#[cfg(target_os = "none")]
#[derive(Debug)]
#[must_use = "the memory stays mapped (and its RAM taken) until `VSpace::unmap`"]
pub struct Mapping {
    va: u64,
    bytes: u64,
    ram: RamCap,
    /// The frames, in consecutive slots: one per 2 MiB block touched.
    first_frame: CapRef,
    frames: u32,
    /// The range came from [`VSpace::alloc_region`] and goes back there on unmap.
    owns_region: bool,
}

#[cfg(target_os = "none")]
impl Mapping {
    /// Where the memory starts.
    pub fn va(&self) -> u64 {
        self.va
    }

    /// How many bytes are mapped (whole pages).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The frames backing the memory, in address order.
    pub fn frames(&self) -> impl Iterator<Item = FrameCap> + '_ {
        (0..self.frames).map(|i| FrameCap(self.first_frame.offset(i)))
    }

    /// A pointer to the first byte, for building a slice over the memory (valid for
    /// [`Mapping::bytes`] bytes until [`VSpace::unmap`]).
    pub fn as_ptr(&self) -> *mut u8 {
        self.va as *mut u8
    }
}

/// An address space being built or extended: its root table, the tables made so far, and
/// the free part of its window.
#[cfg(target_os = "none")]
pub struct VSpace<S: TableSource> {
    root: VNodeCap,
    tables: TableSet<MAX_TABLES>,
    window: RangeSet<MAX_REGIONS>,
    source: S,
}

#[cfg(target_os = "none")]
impl<S: TableSource> VSpace<S> {
    /// The address space rooted at the L0 table `root`, which is assumed to have no
    /// tables yet except those given to [`VSpace::adopt_table`].
    pub fn new(root: VNodeCap, source: S) -> VSpace<S> {
        let mut window = RangeSet::new();
        // One range into an empty set always fits.
        let _ = window.free(WINDOW_START, WINDOW_END - WINDOW_START);
        VSpace { root, tables: TableSet::new(), window, source }
    }

    /// The root (L0) table.
    pub fn root(&self) -> VNodeCap {
        self.root
    }

    /// Where new tables come from.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Records an existing table of `level` (1–3) that covers `va`, so it is used rather
    /// than replaced (an attempt to replace it would fail with `AlreadyMapped`).
    pub fn adopt_table(&mut self, level: u32, va: u64, table: VNodeCap) -> Result<(), Error> {
        self.tables.insert(level, va, table.0 .0)
    }

    /// A free range of `bytes` (whole pages) of the window, starting at a multiple of
    /// `align` (a power of two, at least a page).
    pub fn alloc_region(&mut self, bytes: u64, align: u64) -> Result<u64, Error> {
        if !align.is_power_of_two() || !bytes.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Misaligned);
        }
        self.window.alloc(bytes, align.max(PAGE_SIZE)).map_err(window_error)
    }

    /// Gives back a range from [`VSpace::alloc_region`].
    pub fn free_region(&mut self, va: u64, bytes: u64) -> Result<(), Error> {
        self.window.free(va, bytes).map_err(window_error)
    }

    /// The level-3 table covering `va`, making and installing whatever tables are missing
    /// on the way from the root (steps 1 and 2).
    pub fn table_for(&mut self, va: u64) -> Result<VNodeCap, Error> {
        let mut parent = self.root;
        for (level, ty) in [(1, CapType::VNodeL1), (2, CapType::VNodeL2), (3, CapType::VNodeL3)] {
            parent = match self.tables.find(level, va) {
                Some(table) => VNodeCap(CapRef(table)),
                None => {
                    if self.tables.is_full() {
                        return Err(Error::TooManyTables);
                    }
                    let table = self.source.make_table(ty)?;
                    parent.map_table(entry_index(level - 1, va), table)?;
                    self.tables.insert(level, va, table.0 .0)?;
                    table
                }
            };
        }
        Ok(parent)
    }

    /// Maps all of `frame` at `va` with `rights` (step 3). The frame must not cross a
    /// 2 MiB boundary at `va`.
    pub fn map_frame(&mut self, va: u64, frame: FrameCap, rights: Rights) -> Result<(), Error> {
        let info = frame.0.identify()?;
        if !info.ty.is_mappable_frame() {
            return Err(Error::WrongType);
        }
        self.map_frame_pages(va, frame, 0, info.size / PAGE_SIZE, rights)
    }

    /// Maps `pages` pages of `frame`, from `offset_pages` into it, at `va` with `rights`.
    pub fn map_frame_pages(
        &mut self,
        va: u64,
        frame: FrameCap,
        offset_pages: u64,
        pages: u64,
        rights: Rights,
    ) -> Result<(), Error> {
        if !va.is_multiple_of(PAGE_SIZE) || pages == 0 {
            return Err(Error::Misaligned);
        }
        let last = va.checked_add(pages * PAGE_SIZE - 1).ok_or(Error::CrossesTable)?;
        if va / L3_REACH != last / L3_REACH {
            return Err(Error::CrossesTable);
        }
        let table = self.table_for(va)?;
        table.map_pages(entry_index(3, va), frame, rights, offset_pages, pages)
    }

    /// Maps `bytes` (rounded up to whole pages) of new, zeroed memory at `va`: one piece of
    /// RAM, split into frames at 2 MiB boundaries, each mapped with `rights`.
    pub fn map_new(&mut self, va: u64, bytes: u64, rights: Rights) -> Result<Mapping, Error> {
        if !va.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Misaligned);
        }
        let bytes = bytes.max(1).checked_next_multiple_of(PAGE_SIZE).ok_or(Error::TooLarge)?;
        let end = va.checked_add(bytes).ok_or(Error::TooLarge)?;
        let frames = pieces(va, end).count() as u64;
        if frames > MAX_FRAMES_PER_MAPPING {
            return Err(Error::TooLarge);
        }
        let ram = crate::ram::alloc_ram(bytes, PAGE_SIZE)?;
        let first_frame = match crate::cspace::alloc_slots(frames as u32) {
            Ok(first) => first,
            Err(e) => {
                let _ = crate::ram::free_ram(ram);
                return Err(e);
            }
        };
        let mapping = Mapping { va, bytes, ram, first_frame, frames: frames as u32, owns_region: false };
        for (i, (start, piece_end)) in pieces(va, end).enumerate() {
            let frame = FrameCap(first_frame.offset(i as u32));
            let made = ram.0.retype(CapType::Frame, piece_end - start, start - va, 1, frame.0);
            let mapped = made.and_then(|()| {
                self.map_frame_pages(start, frame, 0, (piece_end - start) / PAGE_SIZE, rights)
            });
            if let Err(e) = mapped {
                let _ = self.unmap(mapping);
                return Err(e);
            }
        }
        Ok(mapping)
    }

    /// [`VSpace::map_new`] at a range of the window it picks, aligned to `align`.
    pub fn map_anonymous(&mut self, bytes: u64, align: u64, rights: Rights) -> Result<Mapping, Error> {
        let bytes = bytes.max(1).checked_next_multiple_of(PAGE_SIZE).ok_or(Error::TooLarge)?;
        let va = self.alloc_region(bytes, align)?;
        match self.map_new(va, bytes, rights) {
            Ok(mut mapping) => {
                mapping.owns_region = true;
                Ok(mapping)
            }
            Err(e) => {
                let _ = self.free_region(va, bytes);
                Err(e)
            }
        }
    }

    /// Unmaps and destroys the memory of `mapping`: freeing its RAM revokes the frames,
    /// and the kernel unmaps each as it goes. Its slots and (if it had one) its range of
    /// the window are given back.
    pub fn unmap(&mut self, mapping: Mapping) -> Result<(), Error> {
        crate::ram::free_ram(mapping.ram)?;
        crate::cspace::free_slots(mapping.first_frame, mapping.frames);
        if mapping.owns_region {
            self.free_region(mapping.va, mapping.bytes)?;
        }
        Ok(())
    }
}

/// This program's own address space, set up on first use.
#[cfg(target_os = "none")]
static CURRENT: spin::Mutex<Option<VSpace<OwnTables>>> = spin::Mutex::new(None);

/// Runs `f` on this program's own address space (rooted at `ROOT_VNODE`).
///
/// `f` must not call this again, nor allocate from the heap if that could make it grow
/// (the heap grows through this function): the address space is behind a lock.
#[cfg(target_os = "none")]
pub fn with_current<R>(f: impl FnOnce(&mut VSpace<OwnTables>) -> R) -> R {
    let mut guard = CURRENT.lock();
    f(guard.get_or_insert_with(|| {
        let mut vspace = VSpace::new(VNodeCap(CapRef(slot::ROOT_VNODE)), OwnTables);
        adopt_image_table(&mut vspace);
        vspace
    }))
}

/// Finds the level-1 table of the program's image in the page CNode (L1 slot 1), which
/// its creator fills from slot 0 on, and adopts it as the table under L0 entry 0 (see
/// the module documentation for why that is where it is).
#[cfg(target_os = "none")]
fn adopt_image_table(vspace: &mut VSpace<OwnTables>) {
    const PAGE_CNODE: u32 = 1;
    for i in 0..abi::cap::L2_CNODE_SLOTS as u32 {
        let table = CapRef(CapAddr::new(PAGE_CNODE, i));
        match table.identify() {
            Ok(info) if info.ty == CapType::VNodeL1 => {
                // The first table recorded; the set cannot be full.
                let _ = vspace.adopt_table(1, 0, VNodeCap(table));
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_indexes_pick_nine_bits_per_level() {
        let va = (3 << 39) | (5 << 30) | (7 << 21) | (9 << 12) | 0x123;
        assert_eq!([0, 1, 2, 3].map(|level| entry_index(level, va)), [3, 5, 7, 9]);
        assert_eq!(entry_index(1, WINDOW_START), 64, "64 GiB is the 64th gigabyte");
        assert_eq!(entry_index(0, WINDOW_END - 1), 0, "the window stays under L0 entry 0");
    }

    #[test]
    fn pieces_break_at_every_2_mib_boundary() {
        let mib = 1 << 20;
        let split: Vec<_> = pieces(mib, 6 * mib).collect();
        assert_eq!(split, [(mib, 2 * mib), (2 * mib, 4 * mib), (4 * mib, 6 * mib)]);
        assert_eq!(pieces(0, 4096).collect::<Vec<_>>(), [(0, 4096)]);
        assert_eq!(pieces(4096, 4096).count(), 0);
    }

    #[test]
    fn tables_are_found_by_the_block_they_cover() {
        let mut set: TableSet<4> = TableSet::new();
        set.insert(1, 0, CapAddr::new(1, 0)).unwrap();
        set.insert(2, WINDOW_START, CapAddr::new(0, 20)).unwrap();
        set.insert(3, WINDOW_START + L3_REACH, CapAddr::new(0, 21)).unwrap();
        assert_eq!(set.find(1, WINDOW_END - 1), Some(CapAddr::new(1, 0)), "one L1 covers 512 GiB");
        assert_eq!(set.find(2, WINDOW_START + (1 << 30) - 1), Some(CapAddr::new(0, 20)));
        assert_eq!(set.find(2, WINDOW_START + (1 << 30)), None, "the next gigabyte");
        assert_eq!(set.find(3, WINDOW_START), None, "the first 2 MiB has no L3 table yet");
        assert_eq!(set.find(3, WINDOW_START + 2 * L3_REACH - 1), Some(CapAddr::new(0, 21)));
        assert_eq!(set.find(2, WINDOW_START + L3_REACH), Some(CapAddr::new(0, 20)), "levels differ");
    }

    #[test]
    fn a_full_table_set_says_so() {
        let mut set: TableSet<1> = TableSet::new();
        assert!(set.is_empty());
        set.insert(3, 0, CapAddr::new(0, 16)).unwrap();
        assert!(set.is_full());
        assert_eq!(set.insert(3, L3_REACH, CapAddr::new(0, 17)), Err(Error::TooManyTables));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn window_errors_name_virtual_space() {
        assert_eq!(window_error(RangeError::NoFit), Error::OutOfVirtualSpace);
        assert_eq!(window_error(RangeError::Full), Error::TooManyRanges);
    }
}
