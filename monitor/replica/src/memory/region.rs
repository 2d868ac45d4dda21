//! The region map: all announced physical memory, cut into regions, each with its owner.
//!
//! The map is a vector of regions sorted by base address. Regions never overlap, and once a
//! region is in the map it is never removed, split or merged: an announcement only inserts
//! regions, a transfer only changes owners and states. That is what lets every replica name
//! a region by its base address, and lets a transfer's extents, once checked, be looked up
//! again later without failing.

use alloc::vec::Vec;
use core::ops::Range;

use super::Extent;
use crate::CoreId;

/// What this replica's core is doing with one region.
///
/// The first three are for regions this replica says its own core owns, the last two for
/// regions it says another core owns: `owner == me` exactly when the state is `Free`,
/// `Allocated` or `Incoming`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum RegionState {
    /// Ours, not handed out: allocations and donations are taken from these only.
    Free,
    /// Ours, handed out to a program on this core.
    Allocated,
    /// Ours by a transfer this replica has applied, but the donor has not yet said that
    /// every replica has applied it: not to be handed out until it has.
    Incoming,
    /// Given away by this core in a transfer whose acknowledgements are not all in.
    Leaving,
    /// Another core's, and none of this core's business beyond knowing whose it is.
    Remote,
}

/// One region of physical memory and who owns it, as this replica sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Region {
    pub base: u64,
    pub size_bytes: u64,
    pub owner: CoreId,
    pub state: RegionState,
}

impl Region {
    pub fn end(&self) -> u64 {
        self.base + self.size_bytes
    }
}

/// All regions a replica knows, sorted by base, disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct RegionMap {
    regions: Vec<Region>,
}

impl RegionMap {
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Whether any known region shares a byte with `extent`.
    pub fn overlaps(&self, extent: Extent) -> bool {
        // The first region ending after the extent's base is the only one that can start
        // before the extent's end and still overlap it.
        let first_after = self.regions.partition_point(|r| r.end() <= extent.base);
        self.regions.get(first_after).is_some_and(|r| r.base < extent.end())
    }

    /// Adds `extent`, cut at every multiple of `region_bytes`, as regions of `owner` in
    /// `state`. The caller has checked that it overlaps nothing known.
    ///
    /// Cutting on a grid aligned to address 0, rather than from the range's own base, puts
    /// the same boundaries everywhere whatever the ranges are, and keeps every whole region
    /// aligned to its size (so a region of 2 MiB can be mapped as one block). A range that
    /// starts or ends between grid lines gets a shorter region there: no announced byte is
    /// rounded away.
    pub fn insert(&mut self, extent: Extent, region_bytes: u64, owner: CoreId, state: RegionState) {
        let at = self.regions.partition_point(|r| r.base < extent.base);
        let mut pieces = Vec::new();
        let mut base = extent.base;
        while base < extent.end() {
            let grid_line = (base / region_bytes + 1).saturating_mul(region_bytes);
            let end = grid_line.min(extent.end());
            pieces.push(Region { base, size_bytes: end - base, owner, state });
            base = end;
        }
        self.regions.splice(at..at, pieces);
    }

    /// The index of the region holding `addr`.
    pub fn index_of(&self, addr: u64) -> Option<usize> {
        let after = self.regions.partition_point(|r| r.base <= addr);
        let index = after.checked_sub(1)?;
        (addr < self.regions[index].end()).then_some(index)
    }

    /// The indices of the regions that make up `extent` exactly: it must start at a region's
    /// base, end at a region's end, and have no gap in between.
    pub fn span(&self, extent: Extent) -> Option<Range<usize>> {
        let first = self.regions.binary_search_by_key(&extent.base, |r| r.base).ok()?;
        let mut end = first;
        let mut covered_to = extent.base;
        while covered_to < extent.end() {
            let region = self.regions.get(end).filter(|r| r.base == covered_to)?;
            covered_to = region.end();
            end += 1;
        }
        (covered_to == extent.end()).then_some(first..end)
    }

    pub fn extent_of(&self, span: Range<usize>) -> Extent {
        let first = &self.regions[span.start];
        let last = &self.regions[span.end - 1];
        Extent { base: first.base, size_bytes: last.end() - first.base }
    }

    pub fn span_regions(&self, span: Range<usize>) -> &[Region] {
        &self.regions[span]
    }

    /// Sets owner and state of the regions of `span`.
    pub fn assign(&mut self, span: Range<usize>, owner: CoreId, state: RegionState) {
        for region in &mut self.regions[span] {
            region.owner = owner;
            region.state = state;
        }
    }

    /// Regions of `owner` in `state` chosen to cover `bytes`, as at most `max_runs` runs of
    /// adjacent regions (ascending), or `None` if they cannot.
    ///
    /// One run is best: the smallest one long enough, so that long runs stay whole for
    /// larger requests. Failing that, the longest runs first, which needs the fewest. From
    /// a run only as many regions are taken, from its low end, as the bytes need.
    pub fn choose(&self, owner: CoreId, bytes: u64, max_runs: usize) -> Option<Vec<Range<usize>>> {
        if bytes == 0 || max_runs == 0 {
            return None;
        }
        let mut runs = self.runs(|r| r.owner == owner && r.state == RegionState::Free);
        let best_fit =
            runs.iter().filter(|run| self.bytes_in(run) >= bytes).min_by_key(|run| self.bytes_in(run));
        if let Some(run) = best_fit {
            return Some(alloc::vec![self.prefix(run.clone(), bytes)]);
        }
        // Stable sort: among runs of one length, lower addresses go first.
        runs.sort_by_key(|run| core::cmp::Reverse(self.bytes_in(run)));
        let mut chosen = Vec::new();
        let mut remaining = bytes;
        for run in runs.into_iter().take(max_runs) {
            let run_bytes = self.bytes_in(&run);
            if run_bytes >= remaining {
                chosen.push(self.prefix(run, remaining));
                chosen.sort_by_key(|run| run.start);
                return Some(chosen);
            }
            remaining -= run_bytes;
            chosen.push(run);
        }
        None
    }

    /// Maximal runs of adjacent regions (each ending where the next begins) that satisfy
    /// `keep`.
    fn runs(&self, keep: impl Fn(&Region) -> bool) -> Vec<Range<usize>> {
        let mut runs: Vec<Range<usize>> = Vec::new();
        for (index, region) in self.regions.iter().enumerate() {
            if !keep(region) {
                continue;
            }
            match runs.last_mut() {
                Some(run) if run.end == index && self.regions[index - 1].end() == region.base => {
                    run.end = index + 1
                }
                _ => runs.push(index..index + 1),
            }
        }
        runs
    }

    fn bytes_in(&self, span: &Range<usize>) -> u64 {
        self.regions[span.clone()].iter().map(|r| r.size_bytes).sum()
    }

    /// The shortest start of `run` holding at least `bytes` (all of it if it holds less).
    fn prefix(&self, run: Range<usize>, bytes: u64) -> Range<usize> {
        let mut taken = 0;
        for index in run.clone() {
            taken += self.regions[index].size_bytes;
            if taken >= bytes {
                return run.start..index + 1;
            }
        }
        run
    }
}
