//! RAM for this core's programs, from the memory this core owns, as the replicated
//! ownership map (`replica::memory`) says.
//!
//! At start the monitor keeps a little of its RAM for itself (its heap, channel frames,
//! the programs it starts) and puts the rest in the replica as this core's regions,
//! announced to every other monitor. A program's request is served from those regions by
//! retyping them out of the monitor's RAM capability: no messages. When they run out, the
//! replica asks another core, which gives regions by a transfer every replica applies;
//! the monitor then makes RAM capabilities for them through its Kernel capability and
//! serves the request.
//!
//! The monitor keeps its own copy of every RAM capability it hands out, so that giving RAM
//! back (`RAM_FREE`) destroys whatever the program made of it (revoke) before the regions
//! are free again. A donor keeps its capability to its whole share: regions it gave away
//! are never retyped from it again, because the replica never hands them out here.

use alloc::vec::Vec;
use libos::abi::cap::{CapType, Rights};
use libos::cap::{CapRef, EndpointCap, RamCap};
use libos::monitor::status;
use replica::memory::{Completion, Effects, Extent, MemoryError, MemoryReplica, Msg};
use replica::CoreId;

/// The replica's region size.
pub const REGION_BYTES: u64 = 1 << 20;

/// RAM the monitor keeps for itself rather than put in the replica.
const MONITOR_RESERVE_BYTES: u64 = 24 << 20;

/// What the monitor must do after a step: messages to other monitors, answers to programs.
#[derive(Default)]
pub struct Outcome {
    pub messages: Vec<(CoreId, Msg)>,
    pub replies: Vec<(EndpointCap, [u64; 4], Option<CapRef>)>,
}

pub struct RamService {
    me: u64,
    replica: MemoryReplica,
    /// This core's own share, as announced.
    share: Option<Extent>,
    /// RAM capabilities covering the memory this core owns: its share, then what other
    /// cores gave it.
    sources: Vec<(Extent, RamCap)>,
    /// The monitor's copies of the RAM it handed out, and whether each is a whole source
    /// (handed out as it is: a retype into an object of the same type, base and size would
    /// be indistinguishable from a copy of its parent).
    handed: Vec<(Extent, CapRef, bool)>,
    /// Programs waiting for memory from another core: (token, reply endpoint, bytes).
    waiting: Vec<(u64, EndpointCap, u64)>,
}

impl RamService {
    /// Takes all but a reserve of the monitor's RAM into the replica.
    pub fn new(me: usize, cores: usize) -> RamService {
        let mut service = RamService {
            me: me as u64,
            replica: MemoryReplica::new(CoreId(me as u8), cores, REGION_BYTES),
            share: None,
            sources: Vec::new(),
            handed: Vec::new(),
            waiting: Vec::new(),
        };
        let bytes = libos::ram::free_bytes().saturating_sub(MONITOR_RESERVE_BYTES) & !(REGION_BYTES - 1);
        if bytes > 0 {
            match libos::ram::alloc_ram(bytes, REGION_BYTES).and_then(|ram| Ok((ram, ram.0.identify()?))) {
                Ok((ram, info)) => {
                    let extent = Extent { base: info.base, size_bytes: info.size };
                    service.share = Some(extent);
                    service.sources.push((extent, ram));
                }
                Err(e) => libos::println!("monitor: core {me}: cannot set its RAM aside: {e}"),
            }
        }
        service
    }

    /// Announces this core's share to every other monitor.
    pub fn announce(&mut self) -> Outcome {
        let ranges: Vec<Extent> = self.share.into_iter().collect();
        match self.replica.announce(&ranges) {
            Ok(effects) => self.process(effects),
            Err(e) => {
                libos::println!("monitor: core {}: cannot announce its RAM: {e:?}", self.me);
                Outcome::default()
            }
        }
    }

    pub fn digest(&self) -> u64 {
        self.replica.digest()
    }

    /// True if every member's announcement is applied here and no transfer of this core's
    /// is in progress: the replica is as it will be until the next change.
    pub fn is_settled(&self, members: u64) -> bool {
        self.replica.is_settled() && self.replica.announced().0 & members == members
    }

    /// `(owned, free)` bytes of `core` as this replica sees them.
    pub fn info(&self, core: u64) -> Result<(u64, u64), u64> {
        let summary = self.replica.summary();
        let entry = summary.iter().find(|s| u64::from(s.core.0) == core).ok_or(status::BAD_CORE)?;
        Ok((entry.owned_bytes, entry.free_bytes))
    }

    /// Serves a program's request for `bytes`, now if this core has the memory, else once
    /// another core has given some.
    pub fn alloc(&mut self, bytes: u64, reply: EndpointCap, token: u64) -> Outcome {
        if bytes == 0 {
            return reply_only(reply, Err(status::BAD_REQUEST));
        }
        if let Some(extent) = self.replica.allocate(bytes) {
            let answer = self.hand_out(extent);
            return reply_only(reply, answer);
        }
        self.waiting.push((token, reply, bytes));
        let effects = self.replica.request(bytes, token);
        self.process(effects)
    }

    /// The monitor's own copy of the RAM it handed out as `[base, base + size)`.
    pub fn handed_copy(&self, base: u64, size: u64) -> Option<CapRef> {
        self.handed.iter().find(|(e, ..)| e.base == base && e.size_bytes == size).map(|(_, cap, _)| *cap)
    }

    /// The size of the RAM handed out at `base`.
    pub fn handed_size(&self, base: u64) -> Option<u64> {
        self.handed.iter().find(|(e, ..)| e.base == base).map(|(e, ..)| e.size_bytes)
    }

    /// Takes back the RAM handed out at `base`, destroying everything made from it.
    pub fn free(&mut self, base: u64) -> Result<(), u64> {
        let index = self.handed.iter().position(|(e, ..)| e.base == base).ok_or(status::BAD_REQUEST)?;
        let (extent, cap, whole) = self.handed.swap_remove(index);
        let _ = cap.revoke();
        if whole {
            self.sources.push((extent, RamCap(cap)));
        } else {
            libos::cspace::discard(cap);
        }
        self.replica.free(extent).map_err(|_| status::FAILED)
    }

    pub fn receive(&mut self, from: CoreId, msg: &Msg) -> Result<Outcome, MemoryError> {
        let effects = self.replica.receive(from, msg)?;
        Ok(self.process(effects))
    }

    fn process(&mut self, effects: Effects) -> Outcome {
        let mut outcome = Outcome { messages: effects.messages, replies: Vec::new() };
        for Completion { token, result } in effects.completions {
            let Some(index) = self.waiting.iter().position(|w| w.0 == token) else { continue };
            let (_, reply, bytes) = self.waiting.swap_remove(index);
            let answer = match result {
                Ok(extents) => {
                    for extent in extents {
                        self.adopt(extent);
                    }
                    match self.replica.allocate(bytes) {
                        Some(extent) => self.hand_out(extent),
                        None => Err(status::OUT_OF_MEMORY),
                    }
                }
                Err(_) => Err(status::OUT_OF_MEMORY),
            };
            outcome.replies.push(reply_words(reply, answer));
        }
        outcome
    }

    /// Makes a RAM capability for memory another core gave this one.
    fn adopt(&mut self, extent: Extent) {
        let made = libos::cspace::alloc_slot().and_then(|slot| {
            libos::kernel::create_cap(
                CapType::Ram,
                extent.base,
                extent.size_bytes,
                Rights::ALL,
                self.me,
                slot,
            )
            .map(|()| slot)
            .inspect_err(|_| libos::cspace::free_slot(slot))
        });
        match made {
            Ok(slot) => self.sources.push((extent, RamCap(slot))),
            Err(e) => {
                libos::println!("monitor: core {}: cannot take memory at {:#x}: {e}", self.me, extent.base)
            }
        }
    }

    /// A RAM capability for `extent` (memory this core owns, just allocated in the replica),
    /// retyped from the capability that covers it; the monitor keeps a copy.
    fn hand_out(&mut self, extent: Extent) -> Result<([u64; 3], Option<CapRef>), u64> {
        let source = self.sources.iter().position(|(s, _)| s.base <= extent.base && extent.end() <= s.end());
        if let Some(index) = source.filter(|&i| self.sources[i].0 == extent) {
            let (_, whole) = self.sources.swap_remove(index);
            self.handed.push((extent, whole.0, true));
            return Ok(([extent.base, extent.size_bytes, 0], Some(whole.0)));
        }
        let source = source.map(|i| self.sources[i]);
        let made = source.ok_or(status::FAILED).and_then(|(s, cap)| {
            let slot = libos::cspace::alloc_slot().map_err(|_| status::FAILED)?;
            match cap.0.retype(CapType::Ram, extent.size_bytes, extent.base - s.base, 1, slot) {
                Ok(()) => Ok(slot),
                Err(e) => {
                    libos::println!("monitor: core {}: cannot hand out {:#x}: {e}", self.me, extent.base);
                    libos::cspace::free_slot(slot);
                    Err(status::FAILED)
                }
            }
        });
        match made {
            Ok(slot) => {
                self.handed.push((extent, slot, false));
                Ok(([extent.base, extent.size_bytes, 0], Some(slot)))
            }
            Err(code) => {
                let _ = self.replica.free(extent);
                Err(code)
            }
        }
    }
}

fn reply_words(
    reply: EndpointCap,
    answer: Result<([u64; 3], Option<CapRef>), u64>,
) -> (EndpointCap, [u64; 4], Option<CapRef>) {
    match answer {
        Ok(([x, y, z], cap)) => (reply, [status::OK, x, y, z], cap),
        Err(code) => (reply, [code, 0, 0, 0], None),
    }
}

fn reply_only(reply: EndpointCap, answer: Result<([u64; 3], Option<CapRef>), u64>) -> Outcome {
    Outcome { messages: Vec::new(), replies: alloc::vec![reply_words(reply, answer)] }
}
