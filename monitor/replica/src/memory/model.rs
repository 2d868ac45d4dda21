//! Whole systems of replicas, checked in every order their messages can arrive.
//!
//! A [`World`] is every core's replica, the messages in flight on each ordered pair of
//! cores (FIFO, as the channels are), what each core still means to do (a script of
//! announcements, allocations and requests, run whenever the core gets to run), and what
//! has completed. A step either delivers the message at the head of one channel or runs
//! one core's next action; any interleaving of the channels is possible, so every one is
//! explored.
//!
//! [`explore`] walks all reachable worlds depth first with a visited set, and checks in
//! each one the safety properties of `mod.rs`:
//!
//! - each replica is well-formed (regions sorted and disjoint, states consistent with
//!   owners and with the transfers it has in progress): no replica names two owners;
//! - no region is usable (free or allocated, and owned in its own replica) at two cores;
//! - a region usable at a core is owned by that core in every replica that knows it;
//! - no replica rejects a message: all cores here are correct.
//!
//! and in each world where nothing is left to do, that every replica has the same digest,
//! all memory is still there, no transfer is half done, and every request completed once,
//! with at least the bytes it asked for if it succeeded. [`random_walk`] checks the same
//! things along long random runs of a larger system.

use std::collections::{BTreeMap, HashSet, VecDeque};

use super::region::RegionState;
use super::*;

const MIB: u64 = 1 << 20;

/// Something a core's monitor does of its own accord.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    Announce(Vec<Extent>),
    Allocate {
        bytes: u64,
    },
    /// Frees the lowest extent this core has handed out, if any.
    FreeFirst,
    Request {
        bytes: u64,
        token: u64,
    },
}

/// A safety or liveness property that failed.
#[derive(Debug, PartialEq, Eq)]
enum Violation {
    /// A replica's books contradict themselves.
    Inconsistent { replica: CoreId, what: &'static str },
    /// A region is usable at two cores at once.
    DoublyUsable { base: u64, cores: CoreSet },
    /// A region is usable at `holder` while `replica` says `owner` owns it.
    SplitOwnership { base: u64, holder: CoreId, replica: CoreId, owner: CoreId },
    /// A correct core's message was rejected.
    Rejected { replica: CoreId, from: CoreId, error: MemoryError },
    /// Nothing left to do, but a replica still has a request or donation in progress.
    Unfinished { replica: CoreId },
    /// Nothing left to do, but the replicas' digests differ.
    Diverged,
    /// A replica's regions do not add up to all announced memory.
    NotConserved { replica: CoreId, bytes: u64 },
    /// Nothing left to do, but the requests that completed are not those that were made,
    /// once each.
    Incomplete { requested: Vec<u64>, completed: Vec<u64> },
    /// A request was served with fewer bytes than it asked for.
    ShortGrant { token: u64 },
}

/// The whole system at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct World {
    replicas: Vec<MemoryReplica>,
    /// The messages in flight from core `f` to core `t`, at `f * cores + t`.
    channels: Vec<VecDeque<Msg>>,
    scripts: Vec<VecDeque<Action>>,
    /// Requests issued, as (token, bytes), sorted: the order they were issued in does not
    /// make two worlds different.
    requested: Vec<(u64, u64)>,
    /// Completions, sorted by token, for the same reason.
    completions: Vec<Completion>,
    /// Memory handed out, as (core, extent), sorted.
    allocated: Vec<(CoreId, Extent)>,
}

impl World {
    /// Cores with empty replicas, about to run `scripts`.
    fn new(region_bytes: u64, scripts: Vec<Vec<Action>>, grant_early: bool) -> World {
        let cores = scripts.len();
        let replicas = (0..cores as u8)
            .map(|core| {
                let mut replica = MemoryReplica::new(CoreId(core), cores, region_bytes);
                replica.grant_early = grant_early;
                replica
            })
            .collect();
        World {
            replicas,
            channels: vec![VecDeque::new(); cores * cores],
            scripts: scripts.into_iter().map(VecDeque::from).collect(),
            requested: Vec::new(),
            completions: Vec::new(),
            allocated: Vec::new(),
        }
    }

    /// Cores that have announced `shares` and received every announcement, about to run
    /// `scripts`.
    fn booted(
        region_bytes: u64,
        shares: &[Vec<Extent>],
        scripts: Vec<Vec<Action>>,
        grant_early: bool,
    ) -> World {
        let boot = shares.iter().map(|share| vec![Action::Announce(share.clone())]).collect();
        let mut world = World::new(region_bytes, boot, grant_early);
        for core in 0..shares.len() {
            world.act(core);
        }
        while let Some(channel) = world.channels.iter().position(|c| !c.is_empty()) {
            world.deliver(channel).expect("boot announcements are accepted");
        }
        world.scripts = scripts.into_iter().map(VecDeque::from).collect();
        world
    }

    fn cores(&self) -> usize {
        self.replicas.len()
    }

    /// Runs core `core`'s next action.
    fn act(&mut self, core: usize) {
        let Some(action) = self.scripts[core].pop_front() else { return };
        let effects = match action {
            Action::Announce(share) => {
                self.replicas[core].announce(&share).expect("a scenario announces valid memory")
            }
            Action::Allocate { bytes } => {
                if let Some(extent) = self.replicas[core].allocate(bytes) {
                    self.allocated.push((CoreId(core as u8), extent));
                    self.allocated.sort_by_key(|&(core, e)| (core, e.base));
                }
                Effects::default()
            }
            Action::FreeFirst => {
                if let Some(index) =
                    self.allocated.iter().position(|&(owner, _)| usize::from(owner.0) == core)
                {
                    self.free(index);
                }
                Effects::default()
            }
            Action::Request { bytes, token } => {
                self.requested.push((token, bytes));
                self.requested.sort();
                self.replicas[core].request(bytes, token)
            }
        };
        self.post(core, effects);
    }

    /// Delivers the message at the head of `channel`.
    fn deliver(&mut self, channel: usize) -> Result<(), Violation> {
        let (from, to) = (channel / self.cores(), channel % self.cores());
        let Some(msg) = self.channels[channel].pop_front() else { return Ok(()) };
        let from_core = CoreId(from as u8);
        match self.replicas[to].receive(from_core, &msg) {
            Ok(effects) => {
                self.post(to, effects);
                Ok(())
            }
            Err(error) => Err(Violation::Rejected { replica: CoreId(to as u8), from: from_core, error }),
        }
    }

    /// Frees the `index`-th handed-out extent.
    fn free(&mut self, index: usize) {
        let (core, extent) = self.allocated.remove(index);
        let freed = self.replicas[usize::from(core.0)].free(extent);
        assert_eq!(freed, Ok(()), "core {} frees {extent:x?}, which it handed out", core.0);
    }

    fn post(&mut self, core: usize, effects: Effects) {
        let cores = self.cores();
        for (to, msg) in effects.messages {
            self.channels[core * cores + usize::from(to.0)].push_back(msg);
        }
        self.completions.extend(effects.completions);
        self.completions.sort_by_key(|c| c.token);
    }

    /// Every world one step away.
    fn successors(&self) -> Result<Vec<World>, Violation> {
        let mut next = Vec::new();
        for core in 0..self.cores() {
            if !self.scripts[core].is_empty() {
                let mut world = self.clone();
                world.act(core);
                next.push(world);
            }
        }
        for channel in 0..self.channels.len() {
            if !self.channels[channel].is_empty() {
                let mut world = self.clone();
                world.deliver(channel)?;
                next.push(world);
            }
        }
        Ok(next)
    }

    fn is_quiet(&self) -> bool {
        self.channels.iter().all(VecDeque::is_empty) && self.scripts.iter().all(VecDeque::is_empty)
    }

    /// The properties that hold in every reachable world.
    fn check_safety(&self) -> Result<(), Violation> {
        for replica in &self.replicas {
            check_books(replica)?;
        }
        let mut usable_at: BTreeMap<u64, CoreSet> = BTreeMap::new();
        for replica in &self.replicas {
            for region in replica.map.regions() {
                let usable = matches!(region.state, RegionState::Free | RegionState::Allocated);
                if usable && region.owner == replica.me {
                    let cores = usable_at.entry(region.base).or_default();
                    *cores = cores.with(replica.me);
                }
            }
        }
        for (&base, &cores) in &usable_at {
            if cores.len() > 1 {
                return Err(Violation::DoublyUsable { base, cores });
            }
            let Some(holder) = cores.iter().next() else { continue };
            for replica in &self.replicas {
                // A replica that does not know the region yet is waiting for an
                // announcement; one that knows it must name the holder.
                let Some(index) = replica.map.index_of(base) else { continue };
                let region = &replica.map.regions()[index];
                if region.base != base {
                    return Err(Violation::Inconsistent { replica: replica.me, what: "region bounds" });
                }
                if region.owner != holder {
                    return Err(Violation::SplitOwnership {
                        base,
                        holder,
                        replica: replica.me,
                        owner: region.owner,
                    });
                }
            }
        }
        Ok(())
    }

    /// The properties of a world with nothing left to do.
    fn check_quiescent(&self, total_bytes: u64) -> Result<(), Violation> {
        for replica in &self.replicas {
            if !replica.is_settled() {
                return Err(Violation::Unfinished { replica: replica.me });
            }
            let bytes: u64 = replica.summary().iter().map(|core| core.owned_bytes).sum();
            if bytes != total_bytes {
                return Err(Violation::NotConserved { replica: replica.me, bytes });
            }
        }
        let digest = self.replicas[0].digest();
        if self.replicas.iter().any(|replica| replica.digest() != digest) {
            return Err(Violation::Diverged);
        }
        let completed: Vec<u64> = self.completions.iter().map(|c| c.token).collect();
        let requested: Vec<u64> = self.requested.iter().map(|&(token, _)| token).collect();
        if completed != requested {
            return Err(Violation::Incomplete { requested, completed });
        }
        for (completion, &(token, bytes)) in self.completions.iter().zip(&self.requested) {
            if let Ok(extents) = &completion.result {
                if extents.iter().map(|e| e.size_bytes).sum::<u64>() < bytes {
                    return Err(Violation::ShortGrant { token });
                }
            }
        }
        Ok(())
    }
}

/// One replica's own books: sorted disjoint regions; `owner == me` exactly for its own
/// states; `Leaving` and `Incoming` regions exactly those of its transfers in progress.
fn check_books(replica: &MemoryReplica) -> Result<(), Violation> {
    let inconsistent = |what| Err(Violation::Inconsistent { replica: replica.me, what });
    let regions = replica.map.regions();
    if !regions.windows(2).all(|pair| pair[0].end() <= pair[1].base) {
        return inconsistent("regions out of order or overlapping");
    }
    for region in regions {
        let own_state =
            matches!(region.state, RegionState::Free | RegionState::Allocated | RegionState::Incoming);
        if own_state != (region.owner == replica.me) {
            return inconsistent("a region's state contradicts its owner");
        }
    }
    let bytes_in = |state| regions.iter().filter(|r| r.state == state).map(|r| r.size_bytes).sum::<u64>();
    let extent_bytes = |extents: &[Extent]| extents.iter().map(|e| e.size_bytes).sum::<u64>();
    let leaving: u64 = replica.outgoing.iter().map(|t| extent_bytes(&t.extents)).sum();
    let incoming: u64 =
        replica.requests.iter().filter_map(|r| r.arriving.as_ref()).map(|(_, e)| extent_bytes(e)).sum();
    if bytes_in(RegionState::Leaving) != leaving {
        return inconsistent("leaving regions are not those of outgoing transfers");
    }
    if bytes_in(RegionState::Incoming) != incoming {
        return inconsistent("incoming regions are not those of arriving transfers");
    }
    Ok(())
}

/// What an exploration saw.
#[derive(Debug, Default)]
struct Exploration {
    /// Distinct worlds reached.
    states: usize,
    /// Steps taken, to new worlds or to ones seen before.
    transitions: usize,
    /// Worlds with nothing left to do.
    quiescent: usize,
    /// The distinct outcomes (every request's completion) of quiescent worlds.
    outcomes: HashSet<Vec<Completion>>,
}

/// Checks every world reachable from `start`; the first violation found ends the search.
fn explore(start: World, total_bytes: u64) -> Result<Exploration, Violation> {
    let mut seen = Exploration::default();
    start.check_safety()?;
    let mut visited = HashSet::from([start.clone()]);
    let mut stack = vec![start];
    while let Some(world) = stack.pop() {
        seen.states += 1;
        if world.is_quiet() {
            world.check_quiescent(total_bytes)?;
            seen.quiescent += 1;
            seen.outcomes.insert(world.completions.clone());
            continue;
        }
        for next in world.successors()? {
            seen.transitions += 1;
            if visited.contains(&next) {
                continue;
            }
            next.check_safety()?;
            visited.insert(next.clone());
            stack.push(next);
        }
    }
    Ok(seen)
}

fn mib(base_mib: u64, size_mib: u64) -> Extent {
    Extent { base: 0x4000_0000 + base_mib * MIB, size_bytes: size_mib * MIB }
}

/// Each core's boot memory: `sizes_mib[c]` MiB for core `c`, the cores' ranges side by
/// side with a gap of 1 MiB, so that no run of free regions spans two cores' memory.
fn shares(sizes_mib: &[u64]) -> Vec<Vec<Extent>> {
    let mut base = 0;
    sizes_mib
        .iter()
        .map(|&size| {
            let share = vec![mib(base, size)];
            base += size + 1;
            share
        })
        .collect()
}

fn total_bytes(shares: &[Vec<Extent>]) -> u64 {
    shares.iter().flatten().map(|e| e.size_bytes).sum()
}

fn request(bytes_mib: u64, token: u64) -> Action {
    Action::Request { bytes: bytes_mib * MIB, token }
}

/// Explores a scenario that starts after boot, prints what it saw, and fails on a violation.
fn explore_booted(name: &str, sizes_mib: &[u64], scripts: Vec<Vec<Action>>) -> Exploration {
    let shares = shares(sizes_mib);
    let world = World::booted(MIB, &shares, scripts, false);
    let seen = explore(world, total_bytes(&shares)).unwrap_or_else(|v| panic!("{name}: {v:?}"));
    print_counts(name, &seen);
    seen
}

fn two_donor_scripts() -> Vec<Vec<Action>> {
    let allocate = |mib| Action::Allocate { bytes: mib * MIB };
    vec![
        vec![request(2, 1)],
        vec![allocate(2), Action::FreeFirst],
        vec![allocate(2), request(2, 2), allocate(2)],
    ]
}

fn print_counts(name: &str, seen: &Exploration) {
    println!(
        "{name}: {} states, {} transitions, {} quiescent states, {} distinct outcomes",
        seen.states,
        seen.transitions,
        seen.quiescent,
        seen.outcomes.len()
    );
}

/// The core that owned `extent` at boot, by where its memory starts.
fn boot_owner(shares: &[Vec<Extent>], extent: &Extent) -> Option<usize> {
    shares
        .iter()
        .position(|share| share.iter().any(|range| range.base <= extent.base && extent.base < range.end()))
}

/// Each request's token and whose boot memory served it (`None` if it failed).
fn served_from(shares: &[Vec<Extent>], outcome: &[Completion]) -> Vec<(u64, Option<usize>)> {
    let boot_owner = |c: &Completion| c.result.as_ref().ok()?.first().and_then(|e| boot_owner(shares, e));
    outcome.iter().map(|c| (c.token, boot_owner(c))).collect()
}

#[test]
fn transfers_from_two_donors_at_once_are_safe_in_every_order() {
    // Core 2 asks core 0 (4 MiB free, the most it sees); core 0 asks core 1 (3 MiB, more
    // than core 2's 2): two donors, two recipients, one of them also a donor. Meanwhile
    // programs allocate and free: core 1's may take so much that it refuses, and core 2's
    // second allocation succeeds only if the grant came first.
    let shares = shares(&[4, 3, 2]);
    let seen = explore_booted("two donors at once", &[4, 3, 2], two_donor_scripts());
    let as_planned = vec![(1, Some(1)), (2, Some(0))];
    assert!(
        seen.outcomes.iter().any(|outcome| served_from(&shares, outcome) == as_planned),
        "core 1 serves core 0 while core 0 serves core 2, in some order"
    );
}

#[test]
fn two_requesters_of_one_donor_are_safe_in_every_order() {
    // Both ask core 0 for 3 of its 5 MiB: the first served takes 3, the other is refused
    // and asks the remaining core, which can serve it only if its own grant came first.
    let seen = explore_booted(
        "two requesters, one donor",
        &[5, 2, 2],
        vec![vec![], vec![request(3, 1)], vec![request(3, 2)]],
    );
    let failed = |outcome: &Vec<Completion>| outcome.iter().filter(|c| c.result.is_err()).count();
    // Both served means 6 MiB went out of core 0's 5: one recipient passed memory it had
    // just been granted on to the other.
    assert!(seen.outcomes.iter().any(|outcome| failed(outcome) == 0), "both served in some order");
    assert!(seen.outcomes.iter().any(|outcome| failed(outcome) == 1), "one refused everywhere in another");
}

#[test]
fn a_refused_requester_is_served_by_the_next_core_in_every_order() {
    // Core 1 asks core 0, which still advertises 4 MiB, for 2. If core 0 has meanwhile
    // handed out 3 MiB to its own programs (without telling anyone), it refuses, and core 2
    // serves the request instead.
    let shares = shares(&[4, 1, 3]);
    let seen = explore_booted(
        "refused, then served elsewhere",
        &[4, 1, 3],
        vec![vec![Action::Allocate { bytes: 3 * MIB }], vec![request(2, 1)], vec![]],
    );
    let outcomes: HashSet<Vec<(u64, Option<usize>)>> =
        seen.outcomes.iter().map(|outcome| served_from(&shares, outcome)).collect();
    assert_eq!(
        outcomes,
        HashSet::from([vec![(1, Some(0))], vec![(1, Some(2))]]),
        "served by core 0 in some orders, by core 2 after core 0 refused in the others"
    );
}

#[test]
fn several_outstanding_requests_of_one_core_are_safe_in_every_order() {
    // Core 0 asks for 1 MiB and then 2 before hearing back, and core 2 asks for 1. All
    // three go first to core 1, which has 3 MiB for 4 MiB of asks: whichever comes last is
    // refused and served by another core.
    let shares = shares(&[1, 3, 2]);
    let seen = explore_booted(
        "several outstanding from one core",
        &[1, 3, 2],
        vec![vec![request(1, 1), request(2, 2)], vec![], vec![request(1, 3)]],
    );
    for outcome in &seen.outcomes {
        let donors = served_from(&shares, outcome);
        assert!(donors.iter().all(|(_, donor)| donor.is_some()), "every request served: {outcome:?}");
        assert_eq!(donors.iter().filter(|(_, donor)| *donor == Some(1)).count(), 2, "core 1 can serve two");
    }
}

#[test]
fn requests_racing_the_boot_announcements_are_safe_in_every_order() {
    // Nothing is delivered beforehand: core 1 may ask before it has heard from anyone, and
    // a donor may be asked before it has announced its own memory.
    let shares = shares(&[3, 1, 2]);
    let scripts = vec![
        vec![Action::Announce(shares[0].clone())],
        vec![Action::Announce(shares[1].clone()), request(2, 1)],
        vec![Action::Announce(shares[2].clone())],
    ];
    let seen = explore(World::new(MIB, scripts, false), total_bytes(&shares))
        .unwrap_or_else(|v| panic!("boot race: {v:?}"));
    print_counts("requests racing the boot", &seen);
    let served = |outcome: &Vec<Completion>| outcome.iter().all(|c| c.result.is_ok());
    assert!(seen.outcomes.iter().any(served) && !seen.outcomes.iter().all(served));
}

#[test]
fn the_checker_catches_a_donor_that_grants_before_every_replica_applied() {
    // The broken donor grants together with the transfer: the recipient can hand the
    // memory out while a third core still names the donor as its owner.
    let shares = shares(&[4, 3, 2]);
    let world = World::booted(MIB, &shares, two_donor_scripts(), true);
    let violation = explore(world, total_bytes(&shares)).expect_err("the broken donor must be caught");
    println!("broken donor: {violation:?}");
    assert!(matches!(violation, Violation::SplitOwnership { .. }), "{violation:?}");
}

#[test]
fn the_checker_catches_a_region_usable_at_two_cores() {
    let shares = shares(&[2, 2]);
    let mut world = World::booted(MIB, &shares, vec![vec![], vec![]], false);
    world.replicas[1].map.assign(0..1, CoreId(1), RegionState::Free);
    assert!(matches!(world.check_safety(), Err(Violation::DoublyUsable { .. })));
}

#[test]
fn the_checker_catches_a_replica_that_diverges() {
    let shares = shares(&[2, 2]);
    let mut world = World::booted(MIB, &shares, vec![vec![], vec![]], false);
    world.replicas[1].transfers_applied[0] = 1;
    assert_eq!(explore(world, total_bytes(&shares)).err(), Some(Violation::Diverged));
}

/// A small fixed-seed random number generator (xorshift64*): the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// What a random walk did.
#[derive(Debug, Default)]
struct Walk {
    deliveries: usize,
    allocations: usize,
    frees: usize,
    requests: usize,
    served: usize,
    refused: usize,
}

/// Runs `actions` random allocations, frees and requests on a booted system, with random
/// deliveries in between and until nothing is in flight; checks safety after every step
/// and the quiescent properties at the end.
fn random_walk(seed: u64, shares: &[Vec<Extent>], actions: usize) -> Result<Walk, Violation> {
    let mut rng = Rng(seed);
    let cores = shares.len();
    let mut world = World::booted(MIB, shares, vec![Vec::new(); cores], false);
    let mut walk = Walk::default();
    let mut token = 0;
    let mut acted = 0;
    loop {
        let busy: Vec<usize> = (0..world.channels.len()).filter(|&c| !world.channels[c].is_empty()).collect();
        if acted == actions && busy.is_empty() {
            break;
        }
        // Deliver four times in five: a transfer is eight messages or so, and a slower
        // network would only pile them up.
        if !busy.is_empty() && (acted == actions || rng.below(5) > 0) {
            world.deliver(busy[rng.below(busy.len())])?;
            walk.deliveries += 1;
            world.check_safety()?;
            continue;
        }
        acted += 1;
        let core = rng.below(cores);
        match rng.below(10) {
            0..=4 => {
                // A program asks its monitor for memory; a monitor without a long enough
                // run of free regions asks the other cores for as much.
                let bytes = 1 + rng.next() % (2 * MIB);
                let handed_out = world.allocated.len();
                world.scripts[core].push_back(Action::Allocate { bytes });
                world.act(core);
                if world.allocated.len() > handed_out {
                    walk.allocations += 1;
                } else {
                    token += 1;
                    world.scripts[core].push_back(Action::Request { bytes, token });
                    world.act(core);
                    walk.requests += 1;
                }
            }
            5..=8 if !world.allocated.is_empty() => {
                world.free(rng.below(world.allocated.len()));
                walk.frees += 1;
            }
            _ => {
                // A monitor stocking up ahead of need.
                token += 1;
                world.scripts[core].push_back(Action::Request { bytes: 1 + rng.next() % (3 * MIB), token });
                world.act(core);
                walk.requests += 1;
            }
        }
        world.check_safety()?;
    }
    world.check_quiescent(total_bytes(shares))?;
    walk.served = world.completions.iter().filter(|c| c.result.is_ok()).count();
    walk.refused = world.completions.len() - walk.served;
    Ok(walk)
}

#[test]
fn four_cores_converge_after_thousands_of_random_allocations_frees_and_transfers() {
    // Ranges that start and end off the 1 MiB grid, and a core with two ranges, so short
    // regions are handed out and transferred too.
    let page = PAGE_BYTES;
    let shares = vec![
        vec![Extent { base: 0x4000_0000 + 3 * page, size_bytes: 24 * MIB }],
        vec![Extent { base: 0x4200_0000, size_bytes: 20 * MIB + 5 * page }],
        vec![Extent { base: 0x4400_0000 - 2 * page, size_bytes: 16 * MIB + 2 * page }],
        vec![
            Extent { base: 0x4600_0000, size_bytes: 6 * MIB },
            Extent { base: 0x4700_0000 + page, size_bytes: 10 * MIB },
        ],
    ];
    for seed in [1, 0x5eed, 0xf107_111a] {
        let walk = random_walk(seed, &shares, 3000).unwrap_or_else(|v| panic!("seed {seed:#x}: {v:?}"));
        println!("random walk, seed {seed:#x}: {walk:?}");
        assert!(walk.served > 100 && walk.refused > 0 && walk.frees > 500, "seed {seed:#x}: {walk:?}");
    }
}
