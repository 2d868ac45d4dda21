//! # Memory: which core owns which physical memory, and how memory moves between cores
//!
//! Every core's monitor keeps a [`MemoryReplica`]: a map of all physical RAM in the system,
//! cut into fixed-size *regions*, each with the core that owns it (`docs/DESIGN.md` §7).
//! The owner is the only core that hands a region out to programs, so a core serves its
//! programs from its own regions without a single message to anyone. A core that runs low
//! asks another for some of its regions; the move is agreed by messages and applied at
//! every replica, so that all monitors always agree on who owns what once the messages
//! have arrived, and [`MemoryReplica::digest`] lets them check that they do.
//!
//! ## The map
//!
//! At boot each core's monitor holds its share of RAM as one or more page-aligned ranges.
//! It [`announce`](MemoryReplica::announce)s them to every other core, and every replica
//! inserts every core's ranges as they arrive, in whatever order: the map is sorted by
//! address, so the result does not depend on the order. Ranges are cut on a grid of
//! `region_bytes` aligned to address 0; a range that starts or ends between grid lines gets
//! a shorter region at that end rather than losing the bytes (see `region.rs`). Short
//! regions are owned, handed out and transferred like any other.
//!
//! For regions its own core owns, a replica also knows what the core does with each: free,
//! allocated to a program, or in the middle of a transfer. Of other cores it knows only the
//! owner, and how many free bytes each last said it had: every message carries the
//! sender's count, which is a hint for choosing whom to ask, never a promise.
//!
//! ## Allocation
//!
//! [`MemoryReplica::allocate`] hands out a run of adjacent free regions of this core, the
//! smallest run that is long enough (whole regions: the region is the monitor's unit of
//! RAM), and [`MemoryReplica::free`] takes back what was handed out. Neither sends a
//! message: memory a core owns is its own business until it gives it away.
//!
//! ## Transfers
//!
//! A transfer moves regions from a *donor* to a *recipient*. It is a state machine; each
//! call returns [`Effects`]: messages for the monitor to send, requests of this core that
//! completed, and donations of this core that are done.
//!
//! ```text
//!  recipient R                     donor D                      every other core C
//!  request(bytes) ── Request ────▶ enough free?
//!                 ◀─ Refuse ────── no: R asks the next core, or fails if none is left
//!                                  yes: take free regions, owner := R here, Leaving
//!  owner := R,    ◀─ Transfer ──── ─── Transfer ──────────────▶ owner := R
//!  regions Incoming
//!                 ── Ack ────────▶ ◀───────────────────────────── Ack ──
//!                                  every Ack in: regions Remote, Donation
//!  regions Free,  ◀─ Granted ─────
//!  Completion
//! ```
//!
//! The requester asks the core that last said it had the most free memory; on a refusal it
//! asks the next, and the request fails with [`TransferError::AllRefused`] once every other
//! core has refused. Each donor numbers its transfers, and every replica applies a donor's
//! transfers in that order (the channel from donor to each core is FIFO), so a transfer
//! that arrives out of turn is recognised as bogus. Transfers from different donors, and
//! several requests from one core, may all be in flight at once: they touch different
//! regions, and applying them in either order gives the same map.
//!
//! ## Why no region is ever handed out by two cores
//!
//! A region can be handed out only by a core whose own replica says it owns the region and
//! whose state for it is `Free` or `Allocated`. The donor stops being such a core at the
//! moment it decides on the transfer, before any message leaves: it applies the transfer to
//! its own replica first and keeps the regions as `Leaving`. The recipient becomes one only
//! when `Granted` arrives, which the donor sends after every other core has acknowledged
//! applying the transfer. So while a region is usable anywhere, every replica that knows of
//! it names that core as its owner. That also makes a region safe to pass on: a transfer
//! that gives away regions received earlier reaches each replica only after that replica
//! applied the transfer that brought them, so "the sender owns it" holds everywhere.
//!
//! ## Principles
//!
//! - **The owner decides.** A donor alone chooses what it gives and serialises its own
//!   transfers; there is no global lock, no leader, and no vote.
//! - **No messages on the allocation path.** Programs get memory from their own core's
//!   monitor, which asks no one as long as it has regions left.
//! - **Regions are named by address.** A transfer lists the extents it moves, so every
//!   replica can check that the sender owns exactly those regions before applying it.
//! - **All or nothing.** A message is checked completely before anything changes; a message
//!   about an unknown transfer or request, or about memory its sender does not own, is
//!   rejected with a [`MemoryError`] and leaves the replica exactly as it was.
//! - **Pure.** No I/O, no clock, no global state: the monitor moves messages, and the tests
//!   drive whole systems of replicas through every order the channels allow.
//!
//! ## What it deliberately does not do
//!
//! It does not touch capabilities: after a transfer the recipient's monitor creates a RAM
//! capability for the memory it was granted ([`Completion`]), and the donor's deletes its own
//! ([`Donation`]). It does not take memory back from programs, move allocated memory, or
//! rebalance on its own: a core gives only free regions, and only when asked. It does not
//! keep memory in reserve for the donor: a donor gives whatever it has free. It sends no
//! messages just to advertise free bytes: a core that has said nothing since boot is
//! still believed to have what it announced, and a refusal corrects that. It does not
//! survive a core that stops answering (a transfer waits for every acknowledgement), nor
//! repair a replica that rejected a message: it reports, and a diverged digest shows it.
//!
//! ## Testing
//!
//! Besides unit tests, `model.rs` explores every order in which the messages of small
//! three-core systems can arrive, checking in each reachable state that no region is usable
//! at two cores and that every usable region has one owner in every replica, and at the end
//! that all replicas agree, memory is conserved and every request completed. A deliberately
//! broken donor shows the checker catches a violation. A randomised four-core test runs
//! thousands of allocations, frees and transfers with random delivery.

mod region;
mod transfer;
mod wire;

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use crate::{CoreId, CoreSet, MAX_CORES};
use region::{RegionMap, RegionState};
use transfer::{OutgoingTransfer, PendingRequest};
pub use wire::{Body, Msg, MAX_EXTENTS};

/// The smallest unit of physical memory here: every range and region is a whole number of
/// 4 KiB pages, the translation granule Flotilla's page tables use.
pub const PAGE_BYTES: u64 = 4096;

/// A range of physical memory: `size_bytes` bytes from the physical address `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extent {
    pub base: u64,
    pub size_bytes: u64,
}

impl Extent {
    /// The first address after the extent. Only for well-formed extents, which do not wrap.
    pub fn end(&self) -> u64 {
        self.base + self.size_bytes
    }

    /// Page-aligned, not empty, and not wrapping past the end of the address space.
    pub fn is_well_formed(&self) -> bool {
        self.size_bytes != 0
            && self.base.is_multiple_of(PAGE_BYTES)
            && self.size_bytes.is_multiple_of(PAGE_BYTES)
            && self.base.checked_add(self.size_bytes).is_some()
    }
}

/// Why a replica refused an operation or a message. When it does, nothing has changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryError {
    /// A range is empty, not page-aligned, wraps, or overlaps another in the same list.
    BadRange,
    /// More ranges than one message carries ([`MAX_EXTENTS`]).
    TooManyRanges,
    /// An announced range overlaps memory the replica already knows.
    Overlap,
    /// The core has announced its memory already.
    AlreadyAnnounced,
    /// A core id that is not a core of this system, a message from this core itself, or a
    /// transfer to its own donor.
    BadCore,
    /// A message whose fields no correct peer sends (see [`Msg::check`]).
    Malformed,
    /// A range that does not start and end on region boundaries of known memory, or has a
    /// gap of unknown memory inside.
    NotWholeRegions,
    /// Memory that is not the right core's: for `free`, not this core's; for a transfer,
    /// not (or no longer, or not yet) the sender's.
    NotOwned,
    /// This core's memory that is not handed out: free already, or still arriving.
    NotHandedOut,
    /// A transfer that is not the donor's next one, or an acknowledgement or grant for a
    /// transfer that is not waiting for one from that core.
    UnknownTransfer,
    /// A refusal, transfer or grant for a request this core has not made of that core.
    UnknownRequest,
}

/// Why a request for memory from other cores failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferError {
    /// A request for zero bytes.
    ZeroBytes,
    /// Every other core was asked and refused (`asked` is empty in a one-core system).
    AllRefused { asked: CoreSet },
}

/// A request of this core's for memory has finished.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Completion {
    /// The token the caller passed to [`MemoryReplica::request`].
    pub token: u64,
    /// The memory this core now owns and may hand out (at least the bytes requested, in
    /// whole regions, ascending), or why there is none. The monitor creates its RAM
    /// capabilities for these extents now.
    pub result: Result<Vec<Extent>, TransferError>,
}

/// A transfer this core donated is complete: every replica has applied it and the
/// recipient has been told. The monitor deletes its own capabilities for the extents.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Donation {
    pub recipient: CoreId,
    pub extents: Vec<Extent>,
}

/// What one step of the replica asks of its monitor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "the messages must be sent and the completions reported, or the protocol stalls"]
pub struct Effects {
    /// Messages to send, in this order, each to its core's monitor.
    pub messages: Vec<(CoreId, Msg)>,
    /// Requests of this core that finished.
    pub completions: Vec<Completion>,
    /// Transfers this core gave that finished.
    pub donations: Vec<Donation>,
}

/// One core's memory as its replica sees it, for the `mem` shell command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreSummary {
    pub core: CoreId,
    /// Bytes the replica says the core owns.
    pub owned_bytes: u64,
    /// Bytes free at the core: exact for the replica's own core, otherwise what the core
    /// said in its latest message to this one.
    pub free_bytes: u64,
}

/// One core's replica of the system's physical memory ownership, and its side of the
/// transfer protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemoryReplica {
    me: CoreId,
    cores: usize,
    region_bytes: u64,
    map: RegionMap,
    announced: CoreSet,
    /// Per donor, how many of its transfers this replica has applied; for this core, how
    /// many it has made. Replicated: equal everywhere once the messages are in.
    transfers_applied: Vec<u64>,
    /// Per core, the free bytes it last reported (a hint; this core's own entry is unused).
    advertised_free: Vec<u64>,
    /// The id the next request of this core gets.
    next_request: u64,
    /// This core's requests that have not finished.
    requests: Vec<PendingRequest>,
    /// This core's donations that wait for acknowledgements.
    outgoing: Vec<OutgoingTransfer>,
    /// A deliberately broken donor for the model checker to catch: it grants at once,
    /// before any replica has acknowledged.
    #[cfg(test)]
    grant_early: bool,
}

impl MemoryReplica {
    /// The replica of core `me` in a system of `cores` cores, with regions of
    /// `region_bytes`. It knows no memory until announcements are applied.
    ///
    /// # Panics
    ///
    /// If `cores` is 0 or more than [`MAX_CORES`], `me` is not below `cores`, or
    /// `region_bytes` is not a power of two of at least a page: all fixed by the monitor's
    /// code, none by a peer.
    pub fn new(me: CoreId, cores: usize, region_bytes: u64) -> MemoryReplica {
        assert!((1..=MAX_CORES).contains(&cores), "{cores} cores");
        assert!(usize::from(me.0) < cores, "core {} of {cores}", me.0);
        assert!(
            region_bytes.is_power_of_two() && region_bytes >= PAGE_BYTES,
            "regions of {region_bytes} bytes"
        );
        MemoryReplica {
            me,
            cores,
            region_bytes,
            map: RegionMap::default(),
            announced: CoreSet::EMPTY,
            transfers_applied: alloc::vec![0; cores],
            advertised_free: alloc::vec![0; cores],
            next_request: 1,
            requests: Vec::new(),
            outgoing: Vec::new(),
            #[cfg(test)]
            grant_early: false,
        }
    }

    /// The core this replica belongs to.
    pub fn core(&self) -> CoreId {
        self.me
    }

    pub fn region_bytes(&self) -> u64 {
        self.region_bytes
    }

    /// The cores whose announcements this replica has applied (its own included): boot is
    /// over for it when this holds every core.
    pub fn announced(&self) -> CoreSet {
        self.announced
    }

    /// Announces this core's boot memory: applies it here and returns the announcement for
    /// every other core. Each core does this once, before anything else.
    pub fn announce(&mut self, ranges: &[Extent]) -> Result<Effects, MemoryError> {
        if ranges.len() > MAX_EXTENTS {
            return Err(MemoryError::TooManyRanges);
        }
        let mut ranges = ranges.to_vec();
        ranges.sort_by_key(|range| range.base);
        if !wire::extents_well_formed(&ranges) {
            return Err(MemoryError::BadRange);
        }
        self.apply_announcement(self.me, &ranges)?;
        let mut effects = Effects::default();
        self.broadcast(Body::Announce { ranges }, &mut effects);
        Ok(effects)
    }

    /// Hands out at least `bytes` of this core's free memory, as one extent of whole
    /// regions: the shortest run of adjacent free regions long enough. `None` if there is
    /// no such run (or `bytes` is 0); the monitor may then [`request`](Self::request) more.
    pub fn allocate(&mut self, bytes: u64) -> Option<Extent> {
        let run = self.map.choose(self.me, bytes, 1)?.pop()?;
        let extent = self.map.extent_of(run.clone());
        self.map.assign(run, self.me, RegionState::Allocated);
        Some(extent)
    }

    /// Takes back memory this core handed out. `extent` must be whole regions, all of them
    /// this core's and handed out (a part of one allocation, in whole regions, is fine).
    pub fn free(&mut self, extent: Extent) -> Result<(), MemoryError> {
        if !extent.is_well_formed() {
            return Err(MemoryError::BadRange);
        }
        let span = self.map.span(extent).ok_or(MemoryError::NotWholeRegions)?;
        let regions = self.map.span_regions(span.clone());
        if regions.iter().any(|r| r.owner != self.me) {
            return Err(MemoryError::NotOwned);
        }
        if regions.iter().any(|r| r.state != RegionState::Allocated) {
            return Err(MemoryError::NotHandedOut);
        }
        self.map.assign(span, self.me, RegionState::Free);
        Ok(())
    }

    /// The core that owns the byte at `addr`, or `None` if no announced memory holds it.
    pub fn owner_of(&self, addr: u64) -> Option<CoreId> {
        self.map.index_of(addr).map(|index| self.map.regions()[index].owner)
    }

    /// Bytes of this core's memory that are free to hand out or give away.
    pub fn free_bytes(&self) -> u64 {
        self.bytes_where(|r| r.owner == self.me && r.state == RegionState::Free)
    }

    /// Per core, the bytes it owns and (as far as this replica knows) has free.
    pub fn summary(&self) -> Vec<CoreSummary> {
        (0..self.cores as u8)
            .map(CoreId)
            .map(|core| CoreSummary {
                core,
                owned_bytes: self.bytes_where(|r| r.owner == core),
                free_bytes: if core == self.me {
                    self.free_bytes()
                } else {
                    self.advertised_free[usize::from(core.0)]
                },
            })
            .collect()
    }

    /// Whether this core has no request and no donation in progress.
    pub fn is_settled(&self) -> bool {
        self.requests.is_empty() && self.outgoing.is_empty()
    }

    /// A hash (FNV-1a, 64 bits) of the replicated part of this replica: every region's
    /// bounds and owner, and how many transfers of each donor it has applied. Equal at every
    /// core once no messages are in flight; different (with near certainty) if any replica
    /// disagrees. Free/allocated states and free-byte hints are each core's own and are left
    /// out.
    pub fn digest(&self) -> u64 {
        const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = FNV_OFFSET_BASIS;
        let mut eat = |word: u64| {
            for byte in word.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
            }
        };
        eat(self.cores as u64);
        eat(self.region_bytes);
        for region in self.map.regions() {
            eat(region.base);
            eat(region.size_bytes);
            eat(u64::from(region.owner.0));
        }
        for &applied in &self.transfers_applied {
            eat(applied);
        }
        hash
    }

    fn bytes_where(&self, keep: impl Fn(&region::Region) -> bool) -> u64 {
        self.map.regions().iter().filter(|r| keep(r)).map(|r| r.size_bytes).sum()
    }

    /// Inserts `core`'s boot ranges (well formed, ascending) into the map.
    fn apply_announcement(&mut self, core: CoreId, ranges: &[Extent]) -> Result<(), MemoryError> {
        if self.announced.contains(core) {
            return Err(MemoryError::AlreadyAnnounced);
        }
        if ranges.iter().any(|&range| self.map.overlaps(range)) {
            return Err(MemoryError::Overlap);
        }
        let state = if core == self.me { RegionState::Free } else { RegionState::Remote };
        for &range in ranges {
            self.map.insert(range, self.region_bytes, core, state);
        }
        self.announced = self.announced.with(core);
        Ok(())
    }

    /// A message from this core, carrying its free bytes as they are now.
    fn msg(&self, body: Body) -> Msg {
        Msg { sender_free_bytes: self.free_bytes(), body }
    }

    fn others(&self) -> CoreSet {
        CoreSet::first(self.cores).without(self.me)
    }

    /// Queues `body` for every other core.
    fn broadcast(&self, body: Body, effects: &mut Effects) {
        let msg = self.msg(body);
        for core in self.others().iter() {
            effects.messages.push((core, msg.clone()));
        }
    }

    /// Whether this donor grants before any acknowledgement (the model checker's broken
    /// variant); never outside tests.
    fn grants_early(&self) -> bool {
        #[cfg(test)]
        return self.grant_early;
        #[cfg(not(test))]
        false
    }
}
