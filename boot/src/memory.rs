//! Physical memory at boot: which RAM is free, and a simple allocator over it.
//!
//! Before any capability exists the boot core needs memory for the other cores' private
//! areas and page tables. [`BootFrames`] takes RAM as the device tree describes it, removes
//! everything that is in use (the image, the device tree blob, firmware reservations, the
//! spin-table page), and hands out page-aligned blocks from the lowest free address up. What
//! it has not handed out is what the CPU drivers later turn into RAM capabilities.

use crate::addr::{PhysAddr, PhysRange, PAGE_SIZE};
use arrayvec::ArrayVec;

/// The most disjoint free ranges tracked (each reservation can split one range in two).
pub const MAX_FREE_RANGES: usize = 64;

/// Free physical memory, page-aligned, sorted, non-overlapping.
#[derive(Clone, Debug)]
pub struct BootFrames {
    free: ArrayVec<PhysRange, MAX_FREE_RANGES>,
}

impl BootFrames {
    /// RAM minus every reserved range (each widened to whole pages). Ranges that would not
    /// fit in the table are dropped, never merged into something unsafe.
    pub fn new(ram: &[PhysRange], reserved: &[PhysRange]) -> BootFrames {
        let mut free = ArrayVec::new();
        for r in ram {
            let Some(start) = r.base.checked_align_up(PAGE_SIZE) else { continue };
            let end = r.end().align_down(PAGE_SIZE);
            if start < end {
                let _ = free.try_push(PhysRange::new(start, end.0 - start.0));
            }
        }
        let mut frames = BootFrames { free };
        for r in reserved {
            frames.remove(*r);
        }
        frames
    }

    /// Takes `range` (widened to whole pages) out of the free ranges.
    pub fn remove(&mut self, range: PhysRange) {
        if range.size_bytes == 0 {
            return;
        }
        let cut_start = range.base.align_down(PAGE_SIZE);
        let cut_end = range.end().checked_align_up(PAGE_SIZE).unwrap_or(PhysAddr(!(PAGE_SIZE - 1)));
        let mut kept: ArrayVec<PhysRange, MAX_FREE_RANGES> = ArrayVec::new();
        for r in &self.free {
            let (start, end) = (r.base, r.end());
            if end <= cut_start || start >= cut_end {
                let _ = kept.try_push(*r);
                continue;
            }
            if start < cut_start {
                let _ = kept.try_push(PhysRange::new(start, cut_start.0 - start.0));
            }
            if end > cut_end {
                let _ = kept.try_push(PhysRange::new(cut_end, end.0 - cut_end.0));
            }
        }
        self.free = kept;
    }

    /// Allocates `size_bytes` (rounded up to pages) aligned to `align` (a power of two, at
    /// least a page), from the lowest free address that fits.
    pub fn alloc(&mut self, size_bytes: u64, align: u64) -> Option<PhysAddr> {
        let size = PhysAddr(size_bytes).checked_align_up(PAGE_SIZE)?.0;
        let align = align.max(PAGE_SIZE);
        if size == 0 || !align.is_power_of_two() {
            return None;
        }
        let base = self.free.iter().find_map(|r| {
            let base = r.base.checked_align_up(align)?;
            (base.0.checked_add(size)? <= r.end().0).then_some(base)
        })?;
        self.remove(PhysRange::new(base, size));
        Some(base)
    }

    /// The free ranges, lowest first.
    pub fn free_ranges(&self) -> &[PhysRange] {
        &self.free
    }

    /// Total free bytes.
    pub fn free_bytes(&self) -> u64 {
        self.free.iter().map(|r| r.size_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(base: u64, size: u64) -> PhysRange {
        PhysRange::new(PhysAddr(base), size)
    }

    #[test]
    fn reservations_split_ram_into_page_aligned_free_ranges() {
        let frames = BootFrames::new(&[range(0, 0x10_0000)], &[range(0xd8, 8), range(0x8_0000, 0x1_0001)]);
        assert_eq!(frames.free_ranges(), &[range(0x1000, 0x7_f000), range(0x9_1000, 0x6_f000)]);
    }

    #[test]
    fn allocation_is_aligned_and_never_overlaps_a_reservation() {
        let mut frames = BootFrames::new(&[range(0x4000_0000, 0x100_0000)], &[range(0x4000_0000, 0x20_1000)]);
        let a = frames.alloc(0x3000, 0x10_0000).unwrap();
        assert_eq!(a, PhysAddr(0x4030_0000));
        let b = frames.alloc(0x1000, 0x1000).unwrap();
        assert_eq!(b, PhysAddr(0x4020_1000));
        assert!(!range(0x4000_0000, 0x20_1000).contains(b));
    }

    #[test]
    fn allocation_fails_cleanly_when_memory_runs_out() {
        let mut frames = BootFrames::new(&[range(0x1000, 0x2000)], &[]);
        assert!(frames.alloc(0x2000, 0x1000).is_some());
        assert_eq!(frames.alloc(0x1000, 0x1000), None);
        assert_eq!(frames.free_bytes(), 0);
    }

    #[test]
    fn reservation_beyond_the_top_of_memory_does_not_wrap() {
        let mut frames = BootFrames::new(&[range(0x1000, 0x2000)], &[]);
        frames.remove(range(u64::MAX - 10, 10));
        assert_eq!(frames.free_bytes(), 0x2000);
    }

    #[test]
    fn unaligned_ram_edges_are_trimmed_to_whole_pages() {
        let frames = BootFrames::new(&[range(0x1234, 0x3000)], &[]);
        assert_eq!(frames.free_ranges(), &[range(0x2000, 0x2000)]);
    }
}
