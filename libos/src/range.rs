//! Free ranges of an address space, in a fixed-size list: the one allocator behind both
//! the RAM allocator ([`crate::ram`], physical addresses) and the virtual address window
//! of an address space ([`crate::paging`]).
//!
//! Both hand out large, aligned, rarely freed ranges, so the simplest structure serves:
//! a sorted array of disjoint free `[start, end)` ranges, first fit on allocation,
//! merging with both neighbours on free. It cannot use a heap — the heap grows through
//! it — so its capacity is a const parameter, and a free or an allocation that would need
//! one entry more than that says so ([`RangeError::Full`]) instead of losing memory.

/// Why a range could not be allocated or freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// No free range is large enough (at the alignment asked for).
    NoFit,
    /// The operation would need more entries than the list has.
    Full,
    /// The range to free is (partly) free already, or empty.
    NotAllocated,
}

/// Up to `N` disjoint free ranges, sorted by address.
#[derive(Clone, Debug)]
pub struct RangeSet<const N: usize> {
    ranges: [(u64, u64); N],
    len: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RangeSet<N> {
    /// An empty set: nothing is free.
    pub const fn new() -> Self {
        RangeSet { ranges: [(0, 0); N], len: 0 }
    }

    /// The free ranges, in address order.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges[..self.len]
    }

    /// Bytes free in all.
    pub fn free_bytes(&self) -> u64 {
        self.ranges().iter().map(|(start, end)| end - start).sum()
    }

    /// Takes `size` bytes starting at a multiple of `align` (a power of two) from the first
    /// free range that has room, and returns where they start.
    pub fn alloc(&mut self, size: u64, align: u64) -> Result<u64, RangeError> {
        debug_assert!(align.is_power_of_two());
        if size == 0 {
            return Err(RangeError::NoFit);
        }
        let mut needed_an_entry = false;
        for i in 0..self.len {
            let (start, end) = self.ranges[i];
            let Some(at) = start.checked_next_multiple_of(align) else { continue };
            let Some(after) = at.checked_add(size).filter(|after| *after <= end) else { continue };
            match (at == start, after == end) {
                (true, true) => self.remove(i),
                (true, false) => self.ranges[i].0 = after,
                (false, true) => self.ranges[i].1 = at,
                (false, false) => {
                    // The alignment gap stays free as a range of its own.
                    if self.len == N {
                        needed_an_entry = true;
                        continue;
                    }
                    self.ranges[i].1 = at;
                    self.insert_at(i + 1, (after, end));
                }
            }
            return Ok(at);
        }
        Err(if needed_an_entry { RangeError::Full } else { RangeError::NoFit })
    }

    /// Makes `[start, start + size)` free again, merging it with free neighbours.
    pub fn free(&mut self, start: u64, size: u64) -> Result<(), RangeError> {
        let end = start.checked_add(size).filter(|_| size > 0).ok_or(RangeError::NotAllocated)?;
        // The first free range that starts after the freed one.
        let i = self.ranges().partition_point(|&(s, _)| s < start);
        let before = i.checked_sub(1).map(|j| self.ranges[j]);
        let after = self.ranges().get(i).copied();
        if before.is_some_and(|(_, e)| e > start) || after.is_some_and(|(s, _)| s < end) {
            return Err(RangeError::NotAllocated);
        }
        match (before.filter(|(_, e)| *e == start), after.filter(|(s, _)| *s == end)) {
            (Some(_), Some((_, after_end))) => {
                self.ranges[i - 1].1 = after_end;
                self.remove(i);
            }
            (Some(_), None) => self.ranges[i - 1].1 = end,
            (None, Some(_)) => self.ranges[i].0 = start,
            (None, None) => {
                if self.len == N {
                    return Err(RangeError::Full);
                }
                self.insert_at(i, (start, end));
            }
        }
        Ok(())
    }

    fn remove(&mut self, i: usize) {
        self.ranges.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }

    fn insert_at(&mut self, i: usize, range: (u64, u64)) {
        self.ranges.copy_within(i..self.len, i + 1);
        self.ranges[i] = range;
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<const N: usize>(free: &[(u64, u64)]) -> RangeSet<N> {
        let mut s = RangeSet::new();
        for &(start, end) in free {
            s.free(start, end - start).unwrap();
        }
        s
    }

    #[test]
    fn allocations_are_first_fit_and_aligned() {
        let mut s: RangeSet<4> = set(&[(0x1000, 0x3000), (0x10000, 0x40000)]);
        assert_eq!(s.alloc(0x1000, 0x1000), Ok(0x1000));
        assert_eq!(s.alloc(0x2000, 0x1000), Ok(0x10000), "the first range has only 0x1000 left");
        assert_eq!(s.alloc(0x1000, 0x10000), Ok(0x20000), "aligned up, leaving a gap");
        assert_eq!(s.ranges(), [(0x2000, 0x3000), (0x12000, 0x20000), (0x21000, 0x40000)]);
    }

    #[test]
    fn freeing_merges_with_both_neighbours() {
        let mut s: RangeSet<4> = set(&[(0, 0x10000)]);
        let a = s.alloc(0x1000, 0x1000).unwrap();
        let b = s.alloc(0x1000, 0x1000).unwrap();
        let c = s.alloc(0x1000, 0x1000).unwrap();
        s.free(a, 0x1000).unwrap();
        s.free(c, 0x1000).unwrap();
        assert_eq!(s.ranges().len(), 2);
        s.free(b, 0x1000).unwrap();
        assert_eq!(s.ranges(), [(0, 0x10000)]);
        assert_eq!(s.free_bytes(), 0x10000);
    }

    #[test]
    fn nothing_large_enough_is_no_fit() {
        let mut s: RangeSet<4> = set(&[(0, 0x2000)]);
        assert_eq!(s.alloc(0x3000, 0x1000), Err(RangeError::NoFit));
        assert_eq!(s.alloc(0x2000, 0x4000), Ok(0), "0 is aligned to anything");
        assert_eq!(s.alloc(0x1000, 0x1000), Err(RangeError::NoFit));
        assert_eq!(s.alloc(0, 0x1000), Err(RangeError::NoFit));
    }

    #[test]
    fn a_full_list_refuses_splits_and_separate_frees_but_still_merges() {
        let mut s: RangeSet<2> = set(&[(0x1000, 0x10000), (0x21000, 0x30000)]);
        assert_eq!(s.alloc(0x1000, 0x8000), Err(RangeError::Full), "would split either range");
        assert_eq!(s.alloc(0x1000, 0x1000), Ok(0x1000), "taking from an end needs no entry");
        assert_eq!(s.free(0x40000, 0x1000), Err(RangeError::Full));
        s.free(0x30000, 0x1000).unwrap();
        assert_eq!(s.ranges(), [(0x2000, 0x10000), (0x21000, 0x31000)]);
    }

    #[test]
    fn a_range_that_is_partly_free_cannot_be_freed_again() {
        let mut s: RangeSet<4> = set(&[(0x1000, 0x3000)]);
        assert_eq!(s.free(0x2000, 0x2000), Err(RangeError::NotAllocated));
        assert_eq!(s.free(0, 0x2000), Err(RangeError::NotAllocated));
        assert_eq!(s.free(0x5000, 0), Err(RangeError::NotAllocated));
        assert_eq!(s.free(u64::MAX, 2), Err(RangeError::NotAllocated));
        assert_eq!(s.ranges(), [(0x1000, 0x3000)]);
    }
}
