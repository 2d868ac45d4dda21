//! # A model checker for the capability protocol
//!
//! The protocol's correctness rests on arguments about orders of messages; this module
//! tries the orders. A [`World`] is a whole system: one real [`CapNode`] per core, one
//! [`ModelKernel`] per core standing in for its CPU driver, and a FIFO channel for every
//! ordered pair of cores (every message is encoded and decoded on the way in, as between
//! real monitors). A step either delivers the message at the head of one channel or lets
//! one core's program start its next action. [`explore`] runs a [`Scenario`] through every
//! order of steps, depth first, remembering a 128-bit fingerprint of every whole-system
//! state it has seen so that each state is expanded once.
//!
//! ## What is checked
//!
//! In every state reached ([`World::check`]):
//! - at most one core owns each object;
//! - the owner's books cover reality: every other core that holds a copy, or has one on the
//!   way, is listed as a holder or as a destination in flight, and every other core with
//!   descendants is listed (while ownership changes hands, the `Handover` on its way must
//!   cover them instead);
//! - descendants of an object exist on at most one core: two retypes never both win;
//! - a copy whose relations flag is clear has no relative on another core, so the CPU
//!   driver's fast path (deleting, retyping, revoking without the monitor) is safe.
//!
//! At every step, as things happen ([`World::deliver`], [`World::observe`]):
//! - every message sent decodes to itself, and no node ignores a message it receives;
//! - an object is reclaimed at most once, and only when no copy exists or is on the way,
//!   no core keeps a record of it and no message about it is in flight (so nothing can
//!   confuse it with a new object at the same address later);
//! - when a revoke completes, every copy and descendant made before its commit is gone and
//!   no such copy is on the way; a copy made before it is never installed afterwards.
//!   Copies carry a *generation* for this: a revoke's commit gives the copy it keeps a new
//!   generation, a copy inherits the generation its source had when the copy was asked
//!   for, and descendants the generation of the copy they were retyped from.
//!
//! Whenever no message is in flight ([`World::check_quiet`]): every request has completed;
//! no core forwards or holds back anything; the owner holds a copy, lists exactly the other
//! cores holding copies, and every one of them names it as owner (in its node and in its
//! kernel's relations); an object with no copy left was reclaimed exactly once.
//! At the end of a scenario, its own `outcome` (exactly one retype won, the revoke
//! completed, …).
//!
//! ## Limits
//!
//! The exploration is exhaustive only for the scenarios given: a handful of requests on
//! three or four cores, with objects that start fully settled. States are told apart by a
//! 128-bit fingerprint (a collision would hide a state; at these sizes it is very
//! unlikely). Program actions that need no monitor are modelled only as far as they matter
//! here (copies within a core, dropping descendants). To tie a revoke to its commit and a
//! copy to its source, the model allows one revoke per core, object and slot at a time, and
//! one copy of an object to a given slot at a time. The random test in `random.rs` covers
//! longer, messier runs, not exhaustively. And the model trusts what the kernel trait
//! promises; whether the real monitor keeps those promises is for its own tests.

mod kernel;
mod random;
mod scenarios;

use super::node::Fault;
use super::{CapNode, Completion, Effects, Msg, ObjectKey, ProtocolError, Request, Slot, Standing};
use crate::{CoreId, CoreSet};
use kernel::{Event, ModelKernel};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// What a program on one core does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A request to the monitor, with its token.
    Ask { token: u64, request: Request },
    /// A copy within the core, which the CPU driver makes without the monitor.
    LocalCopy { obj: ObjectKey, from: Slot, dest: Slot },
    /// Deleting every object retyped from `obj` on this core, also without the monitor.
    DropDescendants { obj: ObjectKey },
}

/// One step of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Move {
    Deliver { from: u8, to: u8 },
    Start { core: u8 },
}

/// Facts about the run that no node or kernel keeps, for the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Ghost {
    /// The newest generation of each object's copies.
    generation: BTreeMap<ObjectKey, u32>,
    /// Copies older than this must be gone: the newest generation a completed revoke made.
    floor: BTreeMap<ObjectKey, u32>,
    /// The generation a copy of an object to (core, slot) will have: its source's when it
    /// was asked for. At most one copy of an object to one slot is outstanding at a time.
    copy_generation: BTreeMap<(u8, ObjectKey, Slot), u32>,
    /// The generation each revoke's commit gave the copy it kept, by token.
    revoke_generation: BTreeMap<u64, u32>,
    reclaims: BTreeMap<ObjectKey, u32>,
    /// Started and not completed: token → (core, request).
    outstanding: BTreeMap<u64, (u8, Request)>,
    results: BTreeMap<u64, Result<(), ProtocolError>>,
}

/// A whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    nodes: Vec<CapNode>,
    kernels: Vec<ModelKernel>,
    /// `channels[from * cores + to]`: messages, oldest first. Each went through
    /// [`Msg::encode`] and [`Msg::decode`] when it was sent.
    channels: Vec<VecDeque<Msg>>,
    objects: Vec<ObjectKey>,
    ghost: Ghost,
}

fn set_of(cores: impl Iterator<Item = u8>) -> CoreSet {
    cores.fold(CoreSet::EMPTY, |set, core| set.with(CoreId(core)))
}

impl World {
    /// `cores` cores; each object made on a core, in a slot, as at boot.
    pub fn new(cores: u8, objects: &[(u8, ObjectKey, Slot)]) -> World {
        let all = CoreSet::first(cores as usize);
        let mut world = World {
            nodes: (0..cores).map(|core| CapNode::new(CoreId(core), all)).collect(),
            kernels: vec![ModelKernel::default(); cores as usize],
            channels: vec![VecDeque::new(); cores as usize * cores as usize],
            objects: objects.iter().map(|&(_, obj, _)| obj).collect(),
            ghost: Ghost::default(),
        };
        for &(core, obj, slot) in objects {
            world.kernels[core as usize].create(obj, slot, CoreId(core));
        }
        world
    }

    pub fn cores(&self) -> u8 {
        self.nodes.len() as u8
    }

    pub fn inject(&mut self, faults: &[Fault]) {
        for node in &mut self.nodes {
            for &fault in faults {
                node.inject(fault);
            }
        }
    }

    pub fn kernel(&self, core: u8) -> &ModelKernel {
        &self.kernels[core as usize]
    }

    /// True if core `core` made `request` and it has not completed.
    pub fn is_outstanding(&self, core: u8, request: Request) -> bool {
        self.ghost.outstanding.values().any(|&(c, r)| c == core && r == request)
    }

    /// True if a copy of `obj` to slot `dest` of core `to` has been asked for and has not
    /// completed.
    pub fn copy_outstanding(&self, to: u8, obj: ObjectKey, dest: Slot) -> bool {
        self.ghost.outstanding.values().any(|(_, request)| match *request {
            Request::Copy { obj: o, to: t, dest: d, .. } | Request::Move { obj: o, to: t, dest: d, .. } => {
                (t.0, o, d) == (to, obj, dest)
            }
            _ => false,
        })
    }

    pub fn result(&self, token: u64) -> Option<Result<(), ProtocolError>> {
        self.ghost.results.get(&token).copied()
    }

    /// The core every node that has an opinion names as owner of `obj` (checked to agree
    /// at rest), or the core holding it alone.
    pub fn owner(&self, obj: ObjectKey) -> Option<u8> {
        let owning = |core: &u8| matches!(self.nodes[*core as usize].view(obj), Some(v) if matches!(v.standing, Standing::Owner { .. }));
        (0..self.cores()).find(owning).or_else(|| self.copies_at(obj).iter().next().map(|c| c.0))
    }

    pub fn quiet(&self) -> bool {
        self.channels.iter().all(VecDeque::is_empty)
    }

    pub fn busy_channels(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        let n = self.cores() as usize;
        (0..self.channels.len())
            .filter(|&i| !self.channels[i].is_empty())
            .map(move |i| ((i / n) as u8, (i % n) as u8))
    }

    /// Core `core`'s program does `action`.
    pub fn act(&mut self, core: u8, action: Action) -> Result<(), String> {
        let c = core as usize;
        match action {
            Action::Ask { token, request } => {
                if let Request::Copy { obj, from, to, dest, .. } | Request::Move { obj, from, to, dest, .. } =
                    request
                {
                    if self.copy_outstanding(to.0, obj, dest) {
                        return Err(format!("the model cannot tell two copies of {obj:?} to {dest:?} apart"));
                    }
                    if let Some(generation) = self.kernels[c].generation(obj, from) {
                        self.ghost.copy_generation.insert((to.0, obj, dest), generation);
                    }
                }
                self.ghost.outstanding.insert(token, (core, request));
                let effects = self.nodes[c].request(&mut self.kernels[c], token, request);
                self.absorb(core, effects)
            }
            Action::LocalCopy { obj, from, dest } => {
                self.kernels[c].local_copy(obj, from, dest);
                Ok(())
            }
            Action::DropDescendants { obj } => {
                self.kernels[c].drop_descendants(obj);
                Ok(())
            }
        }
    }

    /// The oldest message from `from` to `to`, if there is one.
    pub fn peek(&self, from: u8, to: u8) -> Option<Msg> {
        let n = self.cores() as usize;
        self.channels[from as usize * n + to as usize].front().copied()
    }

    /// Delivers the oldest message from `from` to `to`.
    pub fn deliver(&mut self, from: u8, to: u8) -> Result<(), String> {
        let n = self.cores() as usize;
        let msg = self.channels[from as usize * n + to as usize]
            .pop_front()
            .ok_or("delivery from an empty channel")?;
        let effects = self.nodes[to as usize].handle(&mut self.kernels[to as usize], CoreId(from), msg);
        self.absorb(to, effects)
    }

    /// Delivers messages, lowest channel first, until none is left, checking every state.
    pub fn run_to_rest(&mut self) -> Result<(), String> {
        loop {
            let Some((from, to)) = self.busy_channels().next() else { break };
            self.deliver(from, to)?;
            self.check()?;
        }
        self.check_quiet()
    }

    fn absorb(&mut self, core: u8, effects: Effects) -> Result<(), String> {
        if let Some(ignored) = effects.ignored.first() {
            return Err(format!("core {core} ignored a message: {ignored:?}"));
        }
        let n = self.cores() as usize;
        for &(to, msg) in &effects.sends {
            // What the receiver gets is what the words say, as between real monitors.
            let mut words = Vec::new();
            msg.encode(&mut words);
            let received = Msg::decode(&words).map_err(|e| format!("{msg:?} does not decode: {e:?}"))?;
            if received != msg {
                return Err(format!("{msg:?} arrives as {received:?}"));
            }
            self.channels[core as usize * n + to.0 as usize].push_back(received);
        }
        for event in std::mem::take(&mut self.kernels[core as usize].events) {
            self.observe(core, event)?;
        }
        for completion in effects.completions {
            self.complete(core, completion)?;
        }
        Ok(())
    }

    /// Every message in flight, with its sender and receiver.
    fn in_flight(&self) -> impl Iterator<Item = (u8, u8, Msg)> + '_ {
        let n = self.cores() as usize;
        self.channels
            .iter()
            .enumerate()
            .flat_map(move |(i, channel)| channel.iter().map(move |&msg| ((i / n) as u8, (i % n) as u8, msg)))
    }

    fn copies_at(&self, obj: ObjectKey) -> CoreSet {
        set_of(
            (0..self.cores())
                .filter(|&c| self.kernels[c as usize].local(obj).is_some_and(|l| !l.slots.is_empty())),
        )
    }

    fn descendants_at(&self, obj: ObjectKey) -> CoreSet {
        set_of((0..self.cores()).filter(|&c| self.kernels[c as usize].descendants(obj) > 0))
    }

    /// Checks what a kernel reported the moment it happened.
    fn observe(&mut self, core: u8, event: Event) -> Result<(), String> {
        match event {
            Event::Installed { obj, dest } => {
                let generation =
                    *self.ghost.copy_generation.get(&(core, obj, dest)).ok_or_else(|| {
                        format!("core {core} installed a copy nobody asked for in {dest:?}")
                    })?;
                let floor = self.ghost.floor.get(&obj).copied().unwrap_or(0);
                if generation < floor {
                    return Err(format!(
                        "core {core} installed a copy of {obj:?} (generation {generation}) after a revoke \
                         that should have deleted it completed (generation {floor})"
                    ));
                }
                self.kernels[core as usize].set_generation(obj, dest, generation);
            }
            Event::RevokedKeeping { obj, slot } => {
                let generation = self.ghost.generation.get(&obj).copied().unwrap_or(0) + 1;
                self.ghost.generation.insert(obj, generation);
                self.kernels[core as usize].set_generation(obj, slot, generation);
                let revokes = self
                    .ghost
                    .outstanding
                    .iter()
                    .filter(|(_, (c, request))| *c == core && *request == Request::Revoke { obj, slot });
                let tokens: Vec<u64> = revokes.map(|(token, _)| *token).collect();
                for token in tokens {
                    self.ghost.revoke_generation.insert(token, generation);
                }
            }
            Event::Retyped { obj, slot } => {
                let kernel = &mut self.kernels[core as usize];
                let generation = kernel.generation(obj, slot).unwrap_or(0);
                kernel.set_descendant_generation(obj, generation);
            }
            Event::Reclaimed { obj, descendants_may_remain } => {
                let count = self.ghost.reclaims.entry(obj).or_default();
                *count += 1;
                if *count > 1 {
                    return Err(format!("{obj:?} reclaimed twice (now by core {core})"));
                }
                if !self.copies_at(obj).is_empty() {
                    return Err(format!(
                        "core {core} reclaimed {obj:?} while copies exist on {:?}",
                        self.copies_at(obj)
                    ));
                }
                if let Some((from, to, msg)) = self.in_flight().find(|(_, _, m)| m.object() == Some(obj)) {
                    return Err(format!(
                        "core {core} reclaimed {obj:?} with {msg:?} in flight from {from} to {to}"
                    ));
                }
                if let Some(c) = (0..self.cores()).find(|&c| self.nodes[c as usize].view(obj).is_some()) {
                    return Err(format!(
                        "core {core} reclaimed {obj:?} while core {c} still keeps a record of it"
                    ));
                }
                if !descendants_may_remain && !self.descendants_at(obj).is_empty() {
                    return Err(format!(
                        "core {core} reclaimed {obj:?} saying no descendants remain, but some do"
                    ));
                }
            }
        }
        Ok(())
    }

    fn complete(&mut self, core: u8, completion: Completion) -> Result<(), String> {
        let Completion { token, result } = completion;
        let (asker, request) = self
            .ghost
            .outstanding
            .remove(&token)
            .ok_or_else(|| format!("core {core} completed token {token}, which is not outstanding"))?;
        if asker != core {
            return Err(format!("token {token} of core {asker} completed on core {core}"));
        }
        self.ghost.results.insert(token, result);
        if let (Request::Revoke { obj, .. }, Ok(())) = (request, result) {
            let generation = self
                .ghost
                .revoke_generation
                .remove(&token)
                .ok_or_else(|| format!("revoke {token} completed without committing on its own core"))?;
            let floor = self.ghost.floor.entry(obj).or_default();
            *floor = (*floor).max(generation);
            self.check_revoked(obj, generation)?;
        }
        Ok(())
    }

    /// A revoke that made generation `generation` has completed.
    fn check_revoked(&self, obj: ObjectKey, generation: u32) -> Result<(), String> {
        for (core, kernel) in self.kernels.iter().enumerate() {
            if let Some(local) = kernel.local(obj) {
                if let Some((slot, g)) = local.slots.iter().find(|(_, &g)| g < generation) {
                    return Err(format!(
                        "a revoke of {obj:?} completed, yet core {core} still holds a copy from before it \
                         ({slot:?}, generation {g} < {generation})"
                    ));
                }
                if local.descendants > 0 && local.descendant_generation < generation {
                    return Err(format!(
                        "a revoke of {obj:?} completed, yet core {core} still has descendants made before it"
                    ));
                }
            }
        }
        for (from, to, msg) in self.in_flight() {
            if let Msg::Install { obj: o, dest, .. } = msg {
                let g = self.ghost.copy_generation.get(&(to, o, dest)).copied().unwrap_or(0);
                if o == obj && g < generation {
                    return Err(format!(
                        "a revoke of {obj:?} completed with an older copy on its way from {from} to {to}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The invariants of every state.
    pub fn check(&self) -> Result<(), String> {
        let flying: Vec<(u8, u8, Msg)> = self.in_flight().collect();
        for &obj in &self.objects {
            let copies_at = self.copies_at(obj);
            let descendants_at = self.descendants_at(obj);
            let installs_to = set_of(flying.iter().filter_map(|(_, to, msg)| match msg {
                Msg::Install { obj: o, .. } if *o == obj => Some(*to),
                _ => None,
            }));
            if descendants_at.len() > 1 {
                return Err(format!("descendants of {obj:?} on cores {descendants_at:?}: two retypes won"));
            }
            let claimed = CoreSet(copies_at.0 | installs_to.0);
            let owners: Vec<(u8, Standing)> = (0..self.cores())
                .filter_map(|c| self.nodes[c as usize].view(obj).map(|v| (c, v.standing)))
                .filter(|(_, standing)| matches!(standing, Standing::Owner { .. }))
                .collect();
            match owners.as_slice() {
                [] => {
                    let handover = flying.iter().find_map(|(_, to, msg)| match *msg {
                        Msg::Handover { obj: o, holders, descendants } if o == obj => {
                            Some((*to, holders, descendants))
                        }
                        _ => None,
                    });
                    if let Some((successor, holders, descendants)) = handover {
                        covers(obj, "the handover", claimed.without(CoreId(successor)), holders)?;
                        covers(obj, "the handover", descendants_at.without(CoreId(successor)), descendants)?;
                    } else if claimed.len() > 1 {
                        return Err(format!("{obj:?} is on cores {claimed:?} and nobody owns it"));
                    } else if let Some(alone) = claimed.iter().next() {
                        if !descendants_at.without(alone).is_empty() {
                            return Err(format!("{obj:?} has descendants elsewhere and nobody owns it"));
                        }
                    }
                }
                [(owner, Standing::Owner { holders, descendants, in_flight, .. })] => {
                    let owner = CoreId(*owner);
                    covers(
                        obj,
                        "the owner's books",
                        claimed.without(owner),
                        CoreSet(holders.0 | in_flight.0),
                    )?;
                    covers(obj, "the owner's books", descendants_at.without(owner), *descendants)?;
                }
                _ => return Err(format!("{obj:?} has several owners: {owners:?}")),
            }
            for core in copies_at.iter() {
                let relations = self.kernels[core.0 as usize].local(obj).and_then(|local| local.relations);
                let others = CoreSet((copies_at.0 | descendants_at.0 | installs_to.0) & !(1 << core.0));
                if relations.is_some_and(|r| !r.remote) && !others.is_empty() {
                    return Err(format!(
                        "core {} can delete, retype or revoke {obj:?} without its monitor, though cores {others:?} \
                         hold copies or descendants",
                        core.0
                    ));
                }
            }
        }
        Ok(())
    }

    /// The invariants of a state with no message in flight.
    pub fn check_quiet(&self) -> Result<(), String> {
        if let Some((token, (core, request))) = self.ghost.outstanding.iter().next() {
            return Err(format!("at rest, request {token} of core {core} ({request:?}) never completed"));
        }
        for node in &self.nodes {
            let core = node.core().0;
            if node.outstanding() > 0 {
                return Err(format!("at rest, core {core} still waits for an answer"));
            }
            for obj in node.objects() {
                let Some(view) = node.view(obj) else { continue };
                let settled = match view.standing {
                    Standing::Owner { in_flight, busy, awaiting_predecessor, .. } => {
                        in_flight.is_empty() && !busy && !awaiting_predecessor
                    }
                    Standing::Holder { marked, .. } => !marked,
                    Standing::None => false,
                };
                if !settled || view.forwarding_to.is_some() || view.held_back > 0 {
                    return Err(format!("at rest, core {core} is not settled on {obj:?}: {view:?}"));
                }
            }
        }
        for &obj in &self.objects {
            let copies_at = self.copies_at(obj);
            let reclaims = self.ghost.reclaims.get(&obj).copied().unwrap_or(0);
            let Some(owner) = self.owner(obj) else {
                if reclaims != 1 {
                    return Err(format!(
                        "at rest, no copy of {obj:?} is left, but it was reclaimed {reclaims} times"
                    ));
                }
                continue;
            };
            let kernel = &self.kernels[owner as usize];
            if kernel.local(obj).is_none_or(|local| local.slots.is_empty()) {
                return Err(format!("at rest, core {owner} owns {obj:?} without holding a copy"));
            }
            for node in &self.nodes {
                let core = node.core();
                let standing = node.view(obj).map(|v| v.standing);
                let holds = copies_at.contains(core);
                match standing {
                    Some(Standing::Owner { holders, .. }) if holders != copies_at.without(core) => {
                        return Err(format!(
                            "at rest, the owner of {obj:?} lists holders {holders:?}, but copies are on {copies_at:?}"
                        ));
                    }
                    Some(Standing::Holder { owner: named, .. }) if named.0 != owner || !holds => {
                        return Err(format!(
                            "at rest, core {} names core {} as owner of {obj:?}",
                            core.0, named.0
                        ));
                    }
                    None if holds && core.0 != owner => {
                        return Err(format!(
                            "at rest, core {} holds {obj:?} without knowing its owner",
                            core.0
                        ));
                    }
                    _ => {}
                }
                let relations = self.kernels[core.0 as usize].local(obj).and_then(|local| local.relations);
                if relations.is_some_and(|r| r.owner.0 != owner) {
                    return Err(format!(
                        "at rest, core {}'s kernel names the wrong owner of {obj:?}",
                        core.0
                    ));
                }
            }
            if reclaims != 0 {
                return Err(format!("{obj:?} was reclaimed, yet copies remain"));
            }
        }
        Ok(())
    }
}

/// Fails unless every core in `actual` is in `listed`.
fn covers(obj: ObjectKey, whose: &str, actual: CoreSet, listed: CoreSet) -> Result<(), String> {
    let missing = CoreSet(actual.0 & !listed.0);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{whose} for {obj:?} miss cores {missing:?} (list {listed:?}, reality {actual:?})"))
    }
}

/// A run to explore: objects made at boot, requests run to rest beforehand to reach the
/// starting point, and each core's program (its actions start in order, but at any time:
/// a program does not wait for one answer before the next request).
pub struct Scenario {
    pub name: &'static str,
    pub cores: u8,
    pub objects: Vec<(u8, ObjectKey, Slot)>,
    pub setup: Vec<(u8, Request)>,
    pub script: Vec<Vec<Action>>,
    /// What must hold at the end of every run, beyond the invariants.
    pub outcome: fn(&World) -> Result<(), String>,
}

/// How much an exploration saw.
#[derive(Clone, Copy, Debug)]
pub struct Explored {
    /// Distinct whole-system states.
    pub states: usize,
    /// Of those, states where nothing more can happen.
    pub end_states: usize,
}

#[derive(Clone, Hash)]
struct State {
    world: World,
    /// The index of each core's next action.
    next: Vec<u8>,
}

impl State {
    fn moves(&self, script: &[Vec<Action>]) -> Vec<Move> {
        let starts = (0..self.world.cores())
            .filter(|&c| (self.next[c as usize] as usize) < script.get(c as usize).map_or(0, Vec::len))
            .map(|core| Move::Start { core });
        starts.chain(self.world.busy_channels().map(|(from, to)| Move::Deliver { from, to })).collect()
    }

    fn apply(&mut self, script: &[Vec<Action>], step: Move) -> Result<(), String> {
        match step {
            Move::Deliver { from, to } => self.world.deliver(from, to)?,
            Move::Start { core } => {
                let action = script[core as usize][self.next[core as usize] as usize];
                self.next[core as usize] += 1;
                self.world.act(core, action)?;
            }
        }
        Ok(())
    }

    /// The invariants of a state: a function of the state alone, so checked once per state.
    fn check(&self) -> Result<(), String> {
        self.world.check()?;
        if self.world.quiet() {
            self.world.check_quiet()?;
        }
        Ok(())
    }

    fn fingerprint(&self) -> u128 {
        let mut hasher = Fingerprint::default();
        self.hash(&mut hasher);
        hasher.finish128()
    }
}

/// A 128-bit hash of a whole state: two independent multiply-and-shift lanes over its
/// words. Much faster than the standard library's SipHash on the many small writes a
/// derived `Hash` makes, which matters at a hundred thousand states per scenario; and two
/// lanes make a collision (which would silently skip a state) even less likely.
#[derive(Default)]
struct Fingerprint {
    lanes: [u64; 2],
}

impl Fingerprint {
    const MULTIPLIERS: [u64; 2] = [0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f];

    fn mix(&mut self, word: u64) {
        // Written out rather than looped: this runs for every word of every state, and
        // tests are built without optimisation.
        let [a, b] = self.lanes;
        let (a, b) =
            ((a ^ word).wrapping_mul(Self::MULTIPLIERS[0]), (b ^ word).wrapping_mul(Self::MULTIPLIERS[1]));
        self.lanes = [a ^ (a >> 29), b ^ (b >> 29)];
    }

    fn finish128(&self) -> u128 {
        // The splitmix64 finalizer on each lane.
        let finish = |mut x: u64| {
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        (finish(self.lanes[0]) as u128) << 64 | finish(self.lanes[1]) as u128
    }
}

impl Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        // The length, so that byte strings of different lengths differ.
        self.mix(bytes.len() as u64);
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(i as u64);
    }

    fn write_u32(&mut self, i: u32) {
        self.mix(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        self.finish128() as u64
    }
}

/// Builds a scenario's starting world: objects, then the setup requests, each run to rest.
pub fn starting_world(scenario: &Scenario) -> Result<World, String> {
    let mut world = World::new(scenario.cores, &scenario.objects);
    for (i, &(core, request)) in scenario.setup.iter().enumerate() {
        let token = 1_000_000 + i as u64;
        world.act(core, Action::Ask { token, request })?;
        world.run_to_rest()?;
        if world.result(token) != Some(Ok(())) {
            return Err(format!("setup request {request:?} failed: {:?}", world.result(token)));
        }
    }
    Ok(world)
}

/// Explores every interleaving of `scenario` with `faults` injected into every node.
/// Returns the first violation found, with the steps that lead to it.
pub fn explore(scenario: &Scenario, faults: &[Fault]) -> Result<Explored, String> {
    let mut world = starting_world(scenario)?;
    world.inject(faults);
    let start = State { world, next: vec![0; scenario.cores as usize] };
    let mut seen = HashSet::from([start.fingerprint()]);
    let mut stack = vec![(start, Vec::new())];
    let mut end_states = 0;
    while let Some((state, trace)) = stack.pop() {
        let moves = state.moves(&scenario.script);
        if moves.is_empty() {
            end_states += 1;
            (scenario.outcome)(&state.world).map_err(|e| failure(scenario, &trace, e))?;
            continue;
        }
        for step in moves {
            let mut next = state.clone();
            let mut path: Vec<Move> = trace.clone();
            path.push(step);
            next.apply(&scenario.script, step).map_err(|e| failure(scenario, &path, e))?;
            if seen.insert(next.fingerprint()) {
                next.check().map_err(|e| failure(scenario, &path, e))?;
                stack.push((next, path));
            }
        }
    }
    Ok(Explored { states: seen.len(), end_states })
}

fn failure(scenario: &Scenario, trace: &[Move], error: String) -> String {
    format!("{}: {error}\n  after {} steps: {trace:?}", scenario.name, trace.len())
}
