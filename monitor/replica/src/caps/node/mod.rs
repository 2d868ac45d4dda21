//! [`CapNode`]: one core's part in the capability protocol.
//!
//! A node keeps a [`Record`] for each object that has (or is getting) relations with other
//! cores, and nothing for the rest. A record says what this core is to the object (its
//! [`Role`]: owner, holder of copies, or nothing), whether it is still forwarding messages
//! as a former owner (a [`Stub`]), and which owner-bound messages it is holding back until
//! it may act as the owner.
//!
//! This file has the entry points, the routing of owner-bound messages, and everything a
//! core does as a *member*: making requests, holding copies, answering the owner. What the
//! owner does is in `owner.rs`.
//!
//! Every event runs to completion inside one call. A message a node addresses to itself
//! (the owner answering its own core's request, say) goes through a loopback queue drained
//! before the call returns, so the owner's logic has one path whoever asked. After the
//! messages, every object the event touched is *settled*: the owner starts queued work, or
//! hands ownership on, reclaims the object, or drops the record (see `owner.rs`).

mod owner;

use super::kernel::{LocalKernel, Relations};
use super::wire::Msg;
use super::{Completion, Effects, IgnoreReason, Ignored, ObjectKey, ProtocolError, Request, Rights, Slot};
use crate::{CoreId, CoreSet};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use owner::Owner;

/// The most owner-bound messages a node holds back at once. A correct system holds back a
/// few per handover; the bound keeps a faulty peer from growing a node's memory without end.
const MAX_HELD: usize = 1024;

/// One core's state in the capability protocol. See the module documentation of
/// [`caps`](crate::caps) for how a monitor drives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CapNode {
    me: CoreId,
    cores: CoreSet,
    objects: BTreeMap<ObjectKey, Record>,
    /// This core's requests that wait for an answer from the owner, by request number.
    requests: BTreeMap<u64, Pending>,
    /// The next request or install number; numbers are never reused.
    next_number: u64,
    /// Owner-bound messages held back, over all records (bounded by [`MAX_HELD`]).
    held: usize,
    /// Deliberate bugs the model checker must find (bits of [`Fault`]); tests only.
    #[cfg(test)]
    faults: u8,
}

/// What this core knows about one object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Record {
    role: Role,
    /// Set while this core, a former owner, passes owner-bound messages on.
    stub: Option<Stub>,
    /// Owner-bound messages the predecessor forwarded, waiting for [`Msg::ForwardingDone`].
    from_predecessor: VecDeque<Msg>,
    /// Owner-bound messages that came straight from their senders before this core could
    /// act as the owner. They are replayed after `from_predecessor`, because every one of
    /// them was sent after anything its sender sent by way of the old owner.
    direct: VecDeque<Msg>,
}

impl Record {
    fn is_empty(&self) -> bool {
        matches!(self.role, Role::None)
            && self.stub.is_none()
            && self.from_predecessor.is_empty()
            && self.direct.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
enum Role {
    #[default]
    None,
    /// This core orders the object's operations.
    Owner(Owner),
    /// This core may hold copies; `owner` is where its requests go. `marked` while a revoke
    /// is in progress: new copies and retypes are refused.
    Holder { owner: CoreId, marked: bool },
}

/// A former owner's forwarding duty: until every core told of the new owner (and the new
/// owner itself) has acknowledged, messages may still reach this core, and go to `successor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Stub {
    successor: CoreId,
    awaiting: CoreSet,
}

/// A request of this core's that waits for the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Pending {
    token: u64,
    obj: ObjectKey,
    kind: PendingKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PendingKind {
    Copy,
    /// After the copy is in, `from` is deleted; `to` is the preferred next owner if that
    /// leaves this core, the owner, without copies.
    Move {
        from: Slot,
        to: CoreId,
    },
    Retype {
        slot: Slot,
    },
    /// `slot` is the copy the revoke keeps.
    Revoke {
        slot: Slot,
    },
}

/// Where this core stands with an object when one of its programs asks for something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// No record, yet this core holds the capability: the object has no relations on other
    /// cores, and this core is its owner (a holder always has a record).
    Alone,
    Owner,
    Holder {
        owner: CoreId,
        marked: bool,
    },
}

/// Deliberate mistakes for the model checker's own tests, which show that each check can
/// fail. Outside tests [`CapNode::fault`] is constantly false and the compiler removes the
/// branches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Grant every retype without looking for descendants.
    GrantEveryRetype = 1 << 0,
    /// Revoke without marking the destinations of copies in flight or waiting for them.
    RevokeIgnoresInFlight = 1 << 1,
    /// Reclaim when the owner's last copy goes, even with copies still in flight.
    ReclaimIgnoresInFlight = 1 << 2,
    /// A former owner drops what reaches it instead of forwarding it.
    StubDropsMessages = 1 << 3,
}

/// What one core knows about one object, for the monitor's consistency checks and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectView {
    pub standing: Standing,
    /// The new owner this core forwards to, while it does.
    pub forwarding_to: Option<CoreId>,
    /// Owner-bound messages held back until this core may act as the owner.
    pub held_back: usize,
}

/// What a core is to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// This core orders the object's operations.
    Owner {
        /// Other cores that may hold copies (installed ones).
        holders: CoreSet,
        /// Other cores that may hold descendants.
        descendants: CoreSet,
        /// Destinations of copies sent and not yet acknowledged.
        in_flight: CoreSet,
        /// A retype or revoke is in progress or queued.
        busy: bool,
        /// The previous owner has not yet finished forwarding; nothing is decided until it has.
        awaiting_predecessor: bool,
    },
    /// This core may hold copies and sends its requests to `owner`.
    Holder { owner: CoreId, marked: bool },
    /// Neither: the record exists only for forwarding or held-back messages.
    None,
}

/// The effects of one event while it runs: what it sends (to other cores, or back to this
/// one), what it completes, and which objects it touched and so must settle.
struct Out {
    me: CoreId,
    effects: Effects,
    loopback: VecDeque<Msg>,
    touched: Vec<ObjectKey>,
}

impl Out {
    fn new(me: CoreId) -> Out {
        Out { me, effects: Effects::default(), loopback: VecDeque::new(), touched: Vec::new() }
    }

    fn send(&mut self, to: CoreId, msg: Msg) {
        if to == self.me {
            self.loopback.push_back(msg);
        } else {
            self.effects.sends.push((to, msg));
        }
    }

    fn reply(&mut self, origin: CoreId, req: u64, result: Result<(), ProtocolError>) {
        self.send(origin, Msg::Reply { req, result });
    }

    fn complete(&mut self, token: u64, result: Result<(), ProtocolError>) {
        self.effects.completions.push(Completion { token, result });
    }

    fn ignore(&mut self, from: CoreId, reason: IgnoreReason) {
        self.effects.ignored.push(Ignored { from, reason });
    }
}

impl CapNode {
    /// The node of core `me` in a system of `cores`.
    pub fn new(me: CoreId, cores: CoreSet) -> CapNode {
        CapNode {
            me,
            cores,
            objects: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_number: 1,
            held: 0,
            #[cfg(test)]
            faults: 0,
        }
    }

    /// This node's core.
    pub fn core(&self) -> CoreId {
        self.me
    }

    /// A program's request, with the monitor's `token` for the reply. The capability is in
    /// this core's `kernel`; the request completes in the returned effects or in those of a
    /// later message.
    pub fn request<K: LocalKernel>(&mut self, kernel: &mut K, token: u64, request: Request) -> Effects {
        let mut out = Out::new(self.me);
        self.start_request(kernel, &mut out, token, request);
        self.run(kernel, &mut out);
        out.effects
    }

    /// A message from core `from`'s monitor.
    pub fn handle<K: LocalKernel>(&mut self, kernel: &mut K, from: CoreId, msg: Msg) -> Effects {
        let mut out = Out::new(self.me);
        if from == self.me || !self.cores.contains(from) {
            out.ignore(from, IgnoreReason::UnknownCore);
        } else {
            self.receive(kernel, &mut out, from, msg);
        }
        self.run(kernel, &mut out);
        out.effects
    }

    /// The objects this core keeps a record for.
    pub fn objects(&self) -> impl Iterator<Item = ObjectKey> + '_ {
        self.objects.keys().copied()
    }

    /// What this core knows about `obj`, if it keeps a record.
    pub fn view(&self, obj: ObjectKey) -> Option<ObjectView> {
        let record = self.objects.get(&obj)?;
        let standing = match &record.role {
            Role::None => Standing::None,
            Role::Holder { owner, marked } => Standing::Holder { owner: *owner, marked: *marked },
            Role::Owner(owner) => owner.standing(),
        };
        Some(ObjectView {
            standing,
            forwarding_to: record.stub.map(|stub| stub.successor),
            held_back: record.from_predecessor.len() + record.direct.len(),
        })
    }

    /// How many of this core's requests wait for the owner.
    pub fn outstanding(&self) -> usize {
        self.requests.len()
    }

    /// Processes what the event sent to this core itself, then settles every object it
    /// touched; settling may send more, so this runs until both are done.
    fn run<K: LocalKernel>(&mut self, kernel: &mut K, out: &mut Out) {
        loop {
            if let Some(msg) = out.loopback.pop_front() {
                self.receive(kernel, out, self.me, msg);
            } else if let Some(obj) = out.touched.pop() {
                self.settle(kernel, out, obj);
            } else {
                return;
            }
        }
    }

    fn fresh_number(&mut self) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        number
    }

    #[cfg(test)]
    fn fault(&self, fault: Fault) -> bool {
        self.faults & fault as u8 != 0
    }

    #[cfg(not(test))]
    fn fault(&self, _: Fault) -> bool {
        false
    }

    /// Makes this node commit `fault` from now on.
    #[cfg(test)]
    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults |= fault as u8;
    }

    /// The slot a pending revoke of this core keeps.
    fn revoke_slot(&self, req: u64) -> Option<Slot> {
        match self.requests.get(&req)?.kind {
            PendingKind::Revoke { slot } => Some(slot),
            _ => None,
        }
    }

    fn place(&self, obj: ObjectKey) -> Place {
        match self.objects.get(&obj).map(|record| &record.role) {
            Some(Role::Owner(_)) => Place::Owner,
            Some(Role::Holder { owner, marked }) => Place::Holder { owner: *owner, marked: *marked },
            Some(Role::None) | None => Place::Alone,
        }
    }

    // ---- Requests from this core's programs ----

    fn start_request<K: LocalKernel>(&mut self, k: &mut K, out: &mut Out, token: u64, request: Request) {
        let obj = request.object();
        out.touched.push(obj);
        if let Some(to) = request.destination() {
            if to == self.me || !self.cores.contains(to) {
                return out.complete(token, Err(ProtocolError::BadCore));
            }
        }
        if !k.holds(obj, request.slot()) {
            return out.complete(token, Err(ProtocolError::NotHeld));
        }
        let place = self.place(obj);
        match request {
            Request::Delete { slot, .. } => {
                let result = k.delete_copy(obj, slot).map_err(ProtocolError::Kernel);
                if result.is_ok() {
                    if place == Place::Alone {
                        // Nobody else holds a copy or has one coming: this was the last.
                        if k.copies(obj) == 0 {
                            k.reclaim(obj, k.has_descendants(obj));
                        }
                    } else {
                        self.after_local_delete(k, out, obj, None);
                    }
                }
                out.complete(token, result);
            }
            Request::Retype { slot, .. } if place == Place::Alone => {
                let result = if k.has_descendants(obj) {
                    Err(ProtocolError::DescendantsExist)
                } else {
                    k.retype(obj, slot, token).map_err(ProtocolError::Kernel)
                };
                out.complete(token, result);
            }
            Request::Revoke { slot, .. } if place == Place::Alone => {
                k.delete_copies(obj, Some(slot));
                k.delete_descendants(obj);
                out.complete(token, Ok(()));
            }
            // A revoke is under way: it would delete what a copy or retype made from this
            // capability, so the answer is the one the owner would give, without asking.
            Request::Copy { .. } | Request::Move { .. } | Request::Retype { .. }
                if matches!(place, Place::Holder { marked: true, .. }) =>
            {
                out.complete(token, Err(ProtocolError::Revoked));
            }
            Request::Copy { rights, to, dest, .. } => {
                self.ask_owner(k, out, token, obj, PendingKind::Copy, Ask::Copy { rights, to, dest });
            }
            Request::Move { from, rights, to, dest, .. } => {
                self.ask_owner(
                    k,
                    out,
                    token,
                    obj,
                    PendingKind::Move { from, to },
                    Ask::Copy { rights, to, dest },
                );
            }
            Request::Retype { slot, .. } => {
                self.ask_owner(k, out, token, obj, PendingKind::Retype { slot }, Ask::Retype);
            }
            Request::Revoke { slot, .. } => {
                self.ask_owner(k, out, token, obj, PendingKind::Revoke { slot }, Ask::Revoke);
            }
        }
    }

    /// Sends an owner-bound request: to the owner this core knows, or to itself if it owns
    /// the object. A copy of an object with no relations yet makes this core its owner
    /// first, with a record and the remote-relations flag set before anything leaves.
    fn ask_owner<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        token: u64,
        obj: ObjectKey,
        kind: PendingKind,
        ask: Ask,
    ) {
        let me = self.me;
        let owner = match self.place(obj) {
            Place::Holder { owner, .. } => owner,
            Place::Owner => me,
            Place::Alone => {
                self.objects.entry(obj).or_default().role = Role::Owner(Owner::default());
                k.set_relations(obj, Relations { owner: me, remote: true });
                me
            }
        };
        let req = self.fresh_number();
        self.requests.insert(req, Pending { token, obj, kind });
        let msg = match ask {
            Ask::Copy { rights, to, dest } => Msg::CopyRequest { obj, origin: me, req, rights, to, dest },
            Ask::Retype => Msg::RetypeRequest { obj, origin: me, req },
            Ask::Revoke => Msg::RevokeRequest { obj, origin: me, req },
        };
        out.send(owner, msg);
    }

    /// After this core deleted a copy: if none is left, a holder tells the owner and stops
    /// being a holder (it holds nothing that could go anywhere without the owner), and an
    /// owner notes where it would like ownership to go (settling hands it on).
    fn after_local_delete<K: LocalKernel>(
        &mut self,
        k: &K,
        out: &mut Out,
        obj: ObjectKey,
        next: Option<CoreId>,
    ) {
        if k.copies(obj) > 0 {
            return;
        }
        let me = self.me;
        let Some(record) = self.objects.get_mut(&obj) else { return };
        match &mut record.role {
            Role::Holder { owner, .. } => {
                out.send(*owner, Msg::Dropped { obj, origin: me });
                record.role = Role::None;
            }
            Role::Owner(owner) => {
                if next.is_some() {
                    owner.successor_hint = next;
                }
            }
            Role::None => {}
        }
    }

    // ---- Messages ----

    fn receive<K: LocalKernel>(&mut self, k: &mut K, out: &mut Out, from: CoreId, msg: Msg) {
        if !self.knows_every_core_in(&msg) {
            return out.ignore(from, IgnoreReason::UnknownCore);
        }
        if let Some(obj) = msg.object() {
            out.touched.push(obj);
        }
        match msg {
            Msg::CopyRequest { obj, .. }
            | Msg::RetypeRequest { obj, .. }
            | Msg::RevokeRequest { obj, .. }
            | Msg::Dropped { obj, .. } => self.route_to_owner(k, out, from, obj, msg),
            Msg::Install { obj, rights, install, dest } => {
                self.install(k, out, from, obj, (rights, install, dest))
            }
            Msg::Probe { obj } => {
                out.send(from, Msg::ProbeReply { obj, has_descendants: k.has_descendants(obj) })
            }
            Msg::Mark { obj, revoker, req } => self.mark(k, out, from, obj, (revoker, req)),
            Msg::Commit { obj, revoker, req } => self.commit(k, out, from, obj, (revoker, req)),
            Msg::Unmark { obj } => self.unmark(out, from, obj),
            Msg::UnmarkAck { obj } => self.revoke_ack(k, out, from, obj, owner::Ack::Unmarked),
            Msg::Reply { req, result } => self.reply(k, out, from, req, result),
            Msg::InstallDone { obj, install, result } => {
                self.install_done(k, out, from, obj, install, result)
            }
            Msg::ProbeReply { obj, has_descendants } => self.probe_reply(k, out, from, obj, has_descendants),
            Msg::MarkAck { obj, keeps } => self.revoke_ack(k, out, from, obj, owner::Ack::Marked { keeps }),
            Msg::CommitAck { obj, holds } => {
                self.revoke_ack(k, out, from, obj, owner::Ack::Committed { holds })
            }
            Msg::Handover { obj, holders, descendants } => {
                self.take_over(k, out, from, obj, (holders, descendants))
            }
            Msg::NewOwner { obj, owner } => self.new_owner(k, out, from, obj, owner),
            Msg::OwnerAck { obj } => self.owner_ack(out, from, obj),
            Msg::ForwardingDone { obj } => self.forwarding_done(k, out, from, obj),
        }
    }

    /// Every core a message names must be in the system: a correct peer never names
    /// another, and acting on one would send to a core that is not there.
    fn knows_every_core_in(&self, msg: &Msg) -> bool {
        let within = |set: CoreSet| set.0 & !self.cores.0 == 0;
        match *msg {
            Msg::CopyRequest { origin, to, .. } => self.cores.contains(origin) && self.cores.contains(to),
            Msg::RetypeRequest { origin, .. }
            | Msg::RevokeRequest { origin, .. }
            | Msg::Dropped { origin, .. } => self.cores.contains(origin),
            Msg::Mark { revoker, .. } | Msg::Commit { revoker, .. } => self.cores.contains(revoker),
            Msg::NewOwner { owner, .. } => self.cores.contains(owner),
            Msg::Handover { holders, descendants, .. } => within(holders) && within(descendants),
            _ => true,
        }
    }

    /// An owner-bound message reached this core. The owner acts on it; a former owner
    /// passes it on; a core that is about to become the owner (its [`Msg::Handover`] is on
    /// the way, or its predecessor still forwards) holds it back, so that the owner acts on
    /// each sender's messages in the order they were sent.
    fn route_to_owner<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        msg: Msg,
    ) {
        enum Route {
            Act,
            Forward(CoreId),
            Hold { from_predecessor: bool },
        }
        let route = match self.objects.get(&obj) {
            Some(Record { role: Role::Owner(owner), .. }) => match owner.predecessor {
                None => Route::Act,
                Some(predecessor) => Route::Hold { from_predecessor: predecessor == from },
            },
            Some(Record { stub: Some(stub), .. }) => Route::Forward(stub.successor),
            // Nobody sends owner-bound messages to a core that neither owns the object nor
            // owned it with a stub still up, unless its Handover is already on the way.
            _ => Route::Hold { from_predecessor: false },
        };
        match route {
            Route::Act => self.owner_receive(k, out, obj, msg),
            Route::Forward(successor) => {
                if !self.fault(Fault::StubDropsMessages) {
                    out.send(successor, msg);
                }
            }
            Route::Hold { from_predecessor } => {
                if self.held >= MAX_HELD {
                    return out.ignore(from, IgnoreReason::TooManyHeld);
                }
                self.held += 1;
                let record = self.objects.entry(obj).or_default();
                if from_predecessor {
                    record.from_predecessor.push_back(msg);
                } else {
                    record.direct.push_back(msg);
                }
            }
        }
    }

    /// The owner sent a copy. A marked core refuses it (only a faulty owner sends one during
    /// its own revoke); otherwise the kernel installs it and this core becomes a holder.
    fn install<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        (rights, install, dest): (Rights, u64, Slot),
    ) {
        let record = self.objects.entry(obj).or_default();
        let result = match record.role {
            Role::Owner(_) => return out.ignore(from, IgnoreReason::NotFromOwner),
            Role::Holder { owner, .. } if owner != from => {
                return out.ignore(from, IgnoreReason::NotFromOwner)
            }
            Role::Holder { marked: true, .. } => Err(ProtocolError::Revoked),
            _ => k.install(obj, rights, from, dest).map_err(ProtocolError::DestinationRefused),
        };
        if result.is_ok() {
            record.role = Role::Holder { owner: from, marked: false };
        }
        out.send(from, Msg::InstallDone { obj, install, result });
    }

    /// True unless this core's record says the owner is someone other than `from`: the
    /// owner's messages reach only cores that have heard of it (it acts only after every
    /// holder acknowledged the handover), so anything else is a confused peer.
    fn sent_by_owner(&self, obj: ObjectKey, from: CoreId) -> bool {
        match self.objects.get(&obj).map(|record| &record.role) {
            Some(Role::Owner(_)) => false,
            Some(Role::Holder { owner, .. }) => *owner == from,
            Some(Role::None) | None => true,
        }
    }

    /// A revoke begins. The core stops starting operations on the object; the revoker also
    /// checks that the capability it revokes through is still there.
    fn mark<K: LocalKernel>(
        &mut self,
        k: &K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        (revoker, req): (CoreId, u64),
    ) {
        if !self.sent_by_owner(obj, from) {
            return out.ignore(from, IgnoreReason::NotFromOwner);
        }
        let keeps = revoker != self.me || self.revoke_slot(req).is_some_and(|slot| k.holds(obj, slot));
        if let Some(Record { role: Role::Holder { marked, .. }, .. }) = self.objects.get_mut(&obj) {
            *marked = true;
        }
        out.send(from, Msg::MarkAck { obj, keeps });
    }

    /// The revoke takes effect here: every copy but the revoker's kept one, and every
    /// descendant, goes. A core left without copies stops being a holder; the owner learns
    /// from the acknowledgement whether the revoker still holds its copy.
    fn commit<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        (revoker, req): (CoreId, u64),
    ) {
        if !self.sent_by_owner(obj, from) {
            return out.ignore(from, IgnoreReason::NotFromOwner);
        }
        let keep = if revoker == self.me { self.revoke_slot(req) } else { None };
        k.delete_copies(obj, keep);
        k.delete_descendants(obj);
        let holds = k.copies(obj) > 0;
        if let Some(record) = self.objects.get_mut(&obj) {
            if let Role::Holder { marked, .. } = &mut record.role {
                if holds {
                    *marked = false;
                } else {
                    record.role = Role::None;
                }
            }
        }
        out.send(from, Msg::CommitAck { obj, holds });
    }

    fn unmark(&mut self, out: &mut Out, from: CoreId, obj: ObjectKey) {
        if !self.sent_by_owner(obj, from) {
            return out.ignore(from, IgnoreReason::NotFromOwner);
        }
        if let Some(Record { role: Role::Holder { marked, .. }, .. }) = self.objects.get_mut(&obj) {
            *marked = false;
        }
        out.send(from, Msg::UnmarkAck { obj });
    }

    /// The owner answered one of this core's requests.
    fn reply<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        req: u64,
        result: Result<(), ProtocolError>,
    ) {
        let Some(pending) = self.requests.remove(&req) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let obj = pending.obj;
        out.touched.push(obj);
        let result = match (pending.kind, result) {
            (PendingKind::Move { from: source, to }, Ok(())) => {
                // The copy is in; the source goes. If a revoke deleted it meanwhile, the
                // move still happened: the revoke came after it and deleted the copy too.
                if k.delete_copy(obj, source).is_ok() {
                    self.after_local_delete(k, out, obj, Some(to));
                }
                Ok(())
            }
            // Granted: the owner counts this core among those with descendants from now on.
            (PendingKind::Retype { slot }, Ok(())) => {
                k.retype(obj, slot, pending.token).map_err(ProtocolError::Kernel)
            }
            (_, result) => result,
        };
        out.complete(pending.token, result);
    }

    /// This core becomes the owner. It acknowledges at once (so the old owner knows all this
    /// core's earlier messages to it have arrived), but acts only after
    /// [`Msg::ForwardingDone`].
    fn take_over<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        (holders, descendants): (CoreSet, CoreSet),
    ) {
        let me = self.me;
        if !self.sent_by_owner(obj, from) {
            return out.ignore(from, IgnoreReason::NotFromOwner);
        }
        let record = self.objects.entry(obj).or_default();
        if record.stub.is_some() || !record.from_predecessor.is_empty() {
            return out.ignore(from, IgnoreReason::Unexpected);
        }
        record.role = Role::Owner(Owner::succeeding(from, holders.without(me), descendants.without(me)));
        if k.copies(obj) > 0 {
            k.set_relations(obj, Relations { owner: me, remote: true });
        }
        out.send(from, Msg::OwnerAck { obj });
    }

    /// Another core owns the object now. A holder sends its requests there from now on.
    fn new_owner<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        owner: CoreId,
    ) {
        if !self.sent_by_owner(obj, from) {
            return out.ignore(from, IgnoreReason::NotFromOwner);
        }
        if let Some(Record { role: Role::Holder { owner: current, .. }, .. }) = self.objects.get_mut(&obj) {
            *current = owner;
            if k.copies(obj) > 0 {
                k.set_relations(obj, Relations { owner, remote: true });
            }
        }
        out.send(from, Msg::OwnerAck { obj });
    }

    /// A core has heard of the new owner. Once all have, nothing more can reach this former
    /// owner (per-pair FIFO: each acknowledgement follows that core's last message here), so
    /// it stops forwarding and tells its successor to act.
    fn owner_ack(&mut self, out: &mut Out, from: CoreId, obj: ObjectKey) {
        let Some(record) = self.objects.get_mut(&obj) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let Some(Stub { successor, awaiting }) = record.stub.filter(|stub| stub.awaiting.contains(from))
        else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let awaiting = awaiting.without(from);
        if awaiting.is_empty() {
            record.stub = None;
            out.send(successor, Msg::ForwardingDone { obj });
        } else {
            record.stub = Some(Stub { successor, awaiting });
        }
    }

    /// The predecessor has passed everything on: act on what was held back, first what it
    /// forwarded, then what came directly.
    fn forwarding_done<K: LocalKernel>(&mut self, k: &mut K, out: &mut Out, from: CoreId, obj: ObjectKey) {
        let Some(record) = self.objects.get_mut(&obj) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let Role::Owner(owner) = &mut record.role else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        if owner.predecessor != Some(from) {
            return out.ignore(from, IgnoreReason::Unexpected);
        }
        owner.predecessor = None;
        let held: Vec<Msg> = record.from_predecessor.drain(..).chain(record.direct.drain(..)).collect();
        self.held -= held.len();
        for msg in held {
            self.owner_receive(k, out, obj, msg);
        }
    }
}

/// What a request asks of the owner.
enum Ask {
    Copy { rights: Rights, to: CoreId, dest: Slot },
    Retype,
    Revoke,
}
