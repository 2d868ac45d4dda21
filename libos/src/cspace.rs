//! The slot allocator: where a new capability goes.
//!
//! Every capability operation that creates something (retype, copy, mint, receiving a
//! capability) needs an empty slot to put it in, named by its address in this domain's
//! two-level CSpace. This module hands such slots out and takes them back, and grows the
//! CSpace when it runs dry, so the rest of libos (and every program) can simply ask for
//! "a slot".
//!
//! ## Where the slots come from
//!
//! At first, from the task CNode (L1 slot 0): its slots from `abi::cap::slot::FIRST_FREE`
//! to 255 are the program's to use; the ones below are the well-known slots its creator
//! filled. When those run low, the allocator grows the CSpace by itself, with the same
//! steps a program would take by hand: it takes RAM from [`crate::ram`], retypes it into a
//! new L2 CNode, installs that in the next free slot of the root (L1) CNode with
//! `L1_CNODE_INSTALL`, and from then on hands out its 256 slots too. Growing needs two
//! slots of its own (for the RAM and the new CNode before it is installed), so the
//! allocator grows while [`RESERVE`] slots are still free rather than when none are.
//!
//! Which L1 slots are free is found out once, on first use, by asking the kernel about
//! each: a slot whose address fails to resolve (`FailedLookup`) holds no L2 CNode. That
//! way the allocator needs no convention about which L1 slots a domain's creator used
//! (a core's first domain has its task, page and modules CNodes in 0–2).
//!
//! ## Bookkeeping without a heap
//!
//! One fixed bitmap of 256 bits per L2 CNode ([`SlotBitmap`]) and a bitmask over the L1
//! slots ([`SlotBook`]) — about 2 KiB, in a static. The allocator can then never need the
//! heap, which matters because the heap grows by asking it for slots. Only the first
//! [`MAX_L1_SLOTS`] slots of a larger root CNode are used.
//!
//! ## What it does not do
//!
//! It does not look at what a slot holds: freeing a slot that still holds a capability
//! hands out a full slot later (the kernel then answers `SlotOccupied`). Delete first.
//! It never gives an L2 CNode back, and it serves one domain: it is not shared between
//! cores (each core's dispatcher of a domain has its own CSpace).

use abi::cap::{slot, L2_CNODE_SLOTS};
use abi::CapAddr;

#[cfg(target_os = "none")]
use crate::cap::{CapRef, L1CNodeCap};
#[cfg(target_os = "none")]
use crate::error::Error;

/// The most root CNode slots the allocator manages (a core's first domain has exactly
/// this many).
pub const MAX_L1_SLOTS: usize = 64;
/// Slots kept free for growing the CSpace: one for the new CNode's RAM, one for the
/// CNode itself until it is installed.
pub const RESERVE: u32 = 2;

/// The free slots of one L2 CNode: bit `i` set = slot `i` free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotBitmap {
    free: [u64; 4],
}

impl SlotBitmap {
    /// Every slot taken.
    pub const FULL: SlotBitmap = SlotBitmap { free: [0; 4] };

    /// Slots `first..end` free, the rest taken.
    pub fn with_free(first: u32, end: u32) -> SlotBitmap {
        let mut map = SlotBitmap::FULL;
        for i in first..end.min(L2_CNODE_SLOTS as u32) {
            map.free(i);
        }
        map
    }

    pub fn is_free(&self, i: u32) -> bool {
        self.free[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    pub fn free_count(&self) -> u32 {
        self.free.iter().map(|w| w.count_ones()).sum()
    }

    /// Marks slot `i` free; false if it already was.
    pub fn free(&mut self, i: u32) -> bool {
        let was_free = self.is_free(i);
        self.free[(i / 64) as usize] |= 1 << (i % 64);
        !was_free
    }

    fn take(&mut self, i: u32) {
        self.free[(i / 64) as usize] &= !(1 << (i % 64));
    }

    /// The first of `n` consecutive free slots, if there is such a run (and `n` > 0).
    pub fn find_run(&self, n: u32) -> Option<u32> {
        if n == 0 {
            return None;
        }
        let mut run = 0;
        for i in 0..L2_CNODE_SLOTS as u32 {
            run = if self.is_free(i) { run + 1 } else { 0 };
            if run == n {
                return Some(i + 1 - n);
            }
        }
        None
    }

    /// Takes `n` consecutive free slots; the first of them.
    pub fn alloc_run(&mut self, n: u32) -> Option<u32> {
        let first = self.find_run(n)?;
        for i in first..first + n {
            self.take(i);
        }
        Some(first)
    }
}

/// Which root CNode slots are in use, and which slots of the L2 CNodes the allocator
/// manages are free.
#[derive(Clone, Debug)]
pub struct SlotBook {
    root_slots: u32,
    /// Bit `i`: L1 slot `i` holds an L2 CNode, or is lent out ([`SlotBook::take_l1`]).
    l1_taken: u64,
    /// Bit `i`: the allocator hands out the slots of the L2 CNode in L1 slot `i`.
    managed: u64,
    l2: [SlotBitmap; MAX_L1_SLOTS],
}

impl SlotBook {
    /// No slots at all (before [`SlotBook::start`]).
    pub const fn new() -> SlotBook {
        SlotBook { root_slots: 0, l1_taken: 0, managed: 0, l2: [SlotBitmap::FULL; MAX_L1_SLOTS] }
    }

    /// A book for a root CNode of `root_slots` slots of which those in `l1_taken` (a
    /// bitmask) are in use, handing out the task CNode's free slots.
    pub fn start(root_slots: u32, l1_taken: u64) -> SlotBook {
        let mut book = SlotBook::new();
        book.root_slots = root_slots.min(MAX_L1_SLOTS as u32);
        book.l1_taken = l1_taken | 1;
        book.managed = 1;
        book.l2[0] = SlotBitmap::with_free(slot::FIRST_FREE, L2_CNODE_SLOTS as u32);
        book
    }

    fn managed(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.root_slots).filter(|i| self.managed & (1 << i) != 0)
    }

    /// Free slots in all managed L2 CNodes.
    pub fn free_count(&self) -> u32 {
        self.managed().map(|i| self.l2[i as usize].free_count()).sum()
    }

    /// True if some managed L2 CNode has `n` consecutive free slots.
    pub fn has_run(&self, n: u32) -> bool {
        self.managed().any(|i| self.l2[i as usize].find_run(n).is_some())
    }

    /// Takes `n` consecutive slots of one L2 CNode; the address of the first.
    pub fn alloc_run(&mut self, n: u32) -> Option<CapAddr> {
        let l1 = self.managed().find(|&i| self.l2[i as usize].find_run(n).is_some())?;
        let l2 = self.l2[l1 as usize].alloc_run(n)?;
        Some(CapAddr::new(l1, l2))
    }

    /// Makes `addr` free again; false if it is not a slot this book hands out, or is free.
    pub fn free(&mut self, addr: CapAddr) -> bool {
        let l1 = addr.l1_index();
        if l1 >= self.root_slots || self.managed & (1 << l1) == 0 {
            return false;
        }
        if l1 == 0 && addr.l2_index() < slot::FIRST_FREE {
            return false;
        }
        self.l2[l1 as usize].free(addr.l2_index())
    }

    /// Takes the first free root CNode slot (for a new L2 CNode, or to lend out).
    pub fn take_l1(&mut self) -> Option<u32> {
        let i = (0..self.root_slots).find(|i| self.l1_taken & (1 << i) == 0)?;
        self.l1_taken |= 1 << i;
        Some(i)
    }

    /// Gives back a root CNode slot from [`SlotBook::take_l1`] that is empty again.
    pub fn release_l1(&mut self, i: u32) {
        if i < self.root_slots && self.managed & (1 << i) == 0 {
            self.l1_taken &= !(1 << i);
        }
    }

    /// Starts handing out the slots of the (new, empty) L2 CNode now in root slot `l1`.
    pub fn add_l2(&mut self, l1: u32) {
        if l1 < self.root_slots {
            self.l1_taken |= 1 << l1;
            self.managed |= 1 << l1;
            self.l2[l1 as usize] = SlotBitmap::with_free(0, L2_CNODE_SLOTS as u32);
        }
    }
}

impl Default for SlotBook {
    fn default() -> Self {
        SlotBook::new()
    }
}

/// The allocator of this domain, started on first use.
#[cfg(target_os = "none")]
static BOOK: spin::Mutex<Option<SlotBook>> = spin::Mutex::new(None);

/// Runs `f` on this domain's book, starting it first if need be.
#[cfg(target_os = "none")]
fn with_book<R>(f: impl FnOnce(&mut SlotBook) -> R) -> R {
    let mut guard = BOOK.lock();
    f(guard.get_or_insert_with(discover))
}

/// Reads the shape of this domain's CSpace from the kernel.
#[cfg(target_os = "none")]
fn discover() -> SlotBook {
    let root_slots = CapRef(slot::ROOT_CNODE)
        .identify()
        .map_or(0, |info| (info.size / abi::cap::SLOT_BYTES) as u32)
        .min(MAX_L1_SLOTS as u32);
    let mut taken = 0u64;
    for i in 0..root_slots {
        let resolves = CapRef(CapAddr::new(i, 0)).identify() != Err(Error::Sys(abi::SysError::FailedLookup));
        if resolves {
            taken |= 1 << i;
        }
    }
    SlotBook::start(root_slots, taken)
}

/// An empty slot.
#[cfg(target_os = "none")]
pub fn alloc_slot() -> Result<CapRef, Error> {
    alloc_slots(1)
}

/// `n` consecutive empty slots in one L2 CNode (`n` ≤ 256), as the first of them: what a
/// retype of `n` objects needs.
#[cfg(target_os = "none")]
pub fn alloc_slots(n: u32) -> Result<CapRef, Error> {
    with_book(|book| {
        if book.free_count() < n + RESERVE || !book.has_run(n) {
            // A failed growth matters only if the slots asked for are not there anyway.
            if let Err(e) = grow(book) {
                if !book.has_run(n) {
                    return Err(e);
                }
            }
        }
        book.alloc_run(n).map(CapRef).ok_or(Error::OutOfSlots)
    })
}

/// How many slots the allocator could hand out now without growing the CSpace.
#[cfg(target_os = "none")]
pub fn free_slot_count() -> u32 {
    with_book(|book| book.free_count())
}

/// Returns an empty slot to the allocator.
#[cfg(target_os = "none")]
pub fn free_slot(slot: CapRef) {
    free_slots(slot, 1);
}

/// Deletes whatever `slot` holds (a capability the caller is done with; an empty slot is
/// fine) and gives the slot back.
#[cfg(target_os = "none")]
pub fn discard(slot: CapRef) {
    let _ = slot.delete();
    free_slot(slot);
}

/// Returns `n` consecutive empty slots from [`alloc_slots`] to the allocator.
#[cfg(target_os = "none")]
pub fn free_slots(first: CapRef, n: u32) {
    with_book(|book| {
        for i in 0..n {
            book.free(first.offset(i).addr());
        }
    });
}

/// Lends out a free root CNode slot, for installing another CSpace's L2 CNode there for a
/// while (see [`crate::spawn`]); give it back, empty, with [`release_l1_slot`].
#[cfg(target_os = "none")]
pub fn reserve_l1_slot() -> Result<u32, Error> {
    with_book(|book| book.take_l1().ok_or(Error::OutOfSlots))
}

/// Gives back a root CNode slot from [`reserve_l1_slot`].
#[cfg(target_os = "none")]
pub fn release_l1_slot(l1_index: u32) {
    with_book(|book| book.release_l1(l1_index));
}

/// Adds one L2 CNode to the CSpace (the steps are in the module documentation).
#[cfg(target_os = "none")]
fn grow(book: &mut SlotBook) -> Result<(), Error> {
    let l1 = book.take_l1().ok_or(Error::OutOfSlots)?;
    let slots = (book.alloc_run(1), book.alloc_run(1));
    let grown = match slots {
        (Some(ram_slot), Some(cnode_slot)) => install_new_l2(l1, CapRef(ram_slot), CapRef(cnode_slot)),
        _ => Err(Error::OutOfSlots),
    };
    // The CNode's slot was only the way in (the root CNode holds the CNode now), and the
    // RAM's slot is kept only if the RAM is.
    let (ram_slot, cnode_slot) = slots;
    for slot in cnode_slot.into_iter().chain(ram_slot.filter(|_| grown.is_err())) {
        book.free(slot);
    }
    match grown {
        Ok(()) => book.add_l2(l1),
        Err(_) => book.release_l1(l1),
    }
    grown
}

/// Makes an L2 CNode from new RAM (in `ram_slot`), via `cnode_slot`, and installs it in
/// slot `l1` of the root CNode. On failure nothing of it is left.
#[cfg(target_os = "none")]
fn install_new_l2(l1: u32, ram_slot: CapRef, cnode_slot: CapRef) -> Result<(), Error> {
    use abi::cap::{CapType, PAGE_SIZE, SLOT_BYTES};
    let ram = crate::ram::alloc_ram_into(ram_slot, L2_CNODE_SLOTS * SLOT_BYTES, PAGE_SIZE)?;
    let installed = ram
        .0
        .retype(CapType::L2CNode, 0, 0, 1, cnode_slot)
        .and_then(|()| L1CNodeCap(CapRef(slot::ROOT_CNODE)).install(l1, cnode_slot));
    let _ = cnode_slot.delete();
    if installed.is_err() {
        let _ = crate::ram::release_ram(ram);
    }
    installed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_found_across_word_boundaries() {
        let mut map = SlotBitmap::with_free(60, 70);
        assert_eq!(map.find_run(10), Some(60));
        assert_eq!(map.find_run(11), None);
        assert_eq!(map.alloc_run(4), Some(60));
        assert_eq!(map.alloc_run(6), Some(64));
        assert_eq!(map.free_count(), 0);
        assert!(map.free(65));
        assert!(!map.free(65), "freeing twice is reported");
        assert_eq!(map.alloc_run(1), Some(65));
        assert_eq!(map.alloc_run(0), None, "an empty run is no allocation");
    }

    #[test]
    fn a_new_book_hands_out_the_task_cnodes_free_slots_first() {
        let mut book = SlotBook::start(64, 0b111);
        assert_eq!(book.free_count(), 256 - slot::FIRST_FREE);
        assert_eq!(book.alloc_run(1), Some(CapAddr::new(0, slot::FIRST_FREE)));
        assert_eq!(book.alloc_run(3), Some(CapAddr::new(0, slot::FIRST_FREE + 1)));
    }

    #[test]
    fn well_known_and_foreign_slots_are_never_taken_back() {
        let mut book = SlotBook::start(64, 0b111);
        assert!(!book.free(slot::DISPATCHER), "a well-known slot");
        assert!(!book.free(CapAddr::new(1, 0)), "the page CNode is not managed");
        assert!(!book.free(CapAddr::new(63, 0)));
        assert!(!book.free(CapAddr::new(0, slot::FIRST_FREE)), "already free");
    }

    #[test]
    fn new_l2_cnodes_go_to_free_root_slots_and_serve_the_rest() {
        let mut book = SlotBook::start(8, 0b1011);
        while book.alloc_run(1).is_some() {}
        assert!(!book.has_run(1));
        let l1 = book.take_l1().unwrap();
        assert_eq!(l1, 2, "slots 0, 1 and 3 hold CNodes already");
        book.add_l2(l1);
        assert_eq!(book.free_count(), 256);
        assert_eq!(book.alloc_run(256), Some(CapAddr::new(2, 0)), "a whole fresh CNode");
        assert_eq!(book.take_l1(), Some(4));
    }

    #[test]
    fn lent_root_slots_come_back_but_cnode_slots_stay_taken() {
        let mut book = SlotBook::start(4, 0b111);
        assert_eq!(book.take_l1(), Some(3));
        assert_eq!(book.take_l1(), None, "all four taken");
        book.release_l1(3);
        book.release_l1(0);
        assert_eq!(book.take_l1(), Some(3), "the task CNode's slot was not released");
    }

    #[test]
    fn slots_beyond_the_root_cnode_are_ignored() {
        let mut book = SlotBook::start(2, 0b11);
        assert_eq!(book.take_l1(), None);
        book.add_l2(5);
        assert!(!book.free(CapAddr::new(5, 0)));
    }
}
