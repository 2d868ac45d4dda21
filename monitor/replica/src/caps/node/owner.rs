//! The owner's side: ordering everything about an object that reaches beyond one core.
//!
//! The owner keeps the books ([`Owner`]): which other cores may hold copies, which may
//! hold descendants, which copies are on their way. Copies are pipelined (several may be
//! in flight); retypes and revokes are *operations*, run one at a time from a queue,
//! because each must see a settled picture of the whole system. When nothing is running,
//! [`CapNode::settle`] looks at what is left: the next queued operation, or, if the owner
//! has no copy left, a handover to a core that has one, or reclaiming the object if none
//! does; or, if no other core is involved any more, dropping the record so that the CPU
//! driver handles the object alone again.

use super::{CapNode, Fault, Out, Record, Role, Standing, Stub};
use crate::caps::kernel::{LocalKernel, Relations};
use crate::caps::wire::Msg;
use crate::caps::{IgnoreReason, ObjectKey, ProtocolError};
use crate::{CoreId, CoreSet};
use alloc::collections::{BTreeMap, VecDeque};

/// The owner's books for one object. "Other cores" everywhere: the owner's own copies and
/// descendants are in its own kernel, which it asks directly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Owner {
    /// Other cores that may hold copies: added when a copy is installed there, removed when
    /// the core says it dropped its last one, or by a revoke.
    holders: CoreSet,
    /// Other cores that may hold descendants: added when a retype there is granted,
    /// removed when a probe finds none, or by a revoke.
    descendants: CoreSet,
    /// Copies sent and not yet acknowledged, by install number.
    in_flight: BTreeMap<u64, InFlight>,
    /// The retype or revoke in progress.
    op: Option<Op>,
    /// Retype and revoke requests waiting for `op` to finish, in arrival order.
    queue: VecDeque<Msg>,
    /// The former owner, until it says it has forwarded everything; until then this core
    /// holds back every owner-bound message and decides nothing.
    pub(super) predecessor: Option<CoreId>,
    /// Where ownership should go when this core's last copy goes (where it was moved to).
    pub(super) successor_hint: Option<CoreId>,
}

/// A copy on its way to `to`, asked for by request `req` of core `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct InFlight {
    to: CoreId,
    origin: CoreId,
    req: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    /// Probing the cores that may hold descendants before deciding a retype.
    Retype {
        origin: CoreId,
        req: u64,
        awaiting: CoreSet,
        found: CoreSet,
    },
    Revoke(Revoke),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Revoke {
    revoker: CoreId,
    req: u64,
    /// Every other core that may hold copies or descendants, and the revoker.
    marked: CoreSet,
    phase: Phase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    /// Waiting for every mark acknowledgement; `keeps` turns false if the revoker's own
    /// capability is gone, which calls the revoke off.
    Marking { awaiting: CoreSet, keeps: bool },
    /// Waiting for every commit acknowledgement.
    Committing { awaiting: CoreSet, revoker_holds: bool },
    /// Called off; waiting for every unmark acknowledgement, so that no message about the
    /// object is left in flight when the revoke ends (the object may end right after).
    Unmarking { awaiting: CoreSet },
}

/// An acknowledgement of a revoke's mark or commit.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ack {
    Marked { keeps: bool },
    Committed { holds: bool },
    Unmarked,
}

fn union(a: CoreSet, b: CoreSet) -> CoreSet {
    CoreSet(a.0 | b.0)
}

impl Owner {
    /// The books a new owner starts from, as its predecessor handed them over.
    pub(super) fn succeeding(predecessor: CoreId, holders: CoreSet, descendants: CoreSet) -> Owner {
        Owner { holders, descendants, predecessor: Some(predecessor), ..Owner::default() }
    }

    pub(super) fn standing(&self) -> Standing {
        Standing::Owner {
            holders: self.holders,
            descendants: self.descendants,
            in_flight: self.in_flight.values().fold(CoreSet::EMPTY, |set, copy| set.with(copy.to)),
            busy: self.op.is_some() || !self.queue.is_empty(),
            awaiting_predecessor: self.predecessor.is_some(),
        }
    }

    fn revoking(&self) -> bool {
        matches!(self.op, Some(Op::Revoke(_)))
    }
}

impl CapNode {
    fn owner_mut(&mut self, obj: ObjectKey) -> Option<&mut Owner> {
        match self.objects.get_mut(&obj).map(|record| &mut record.role) {
            Some(Role::Owner(owner)) => Some(owner),
            _ => None,
        }
    }

    /// An owner-bound message, at the owner, which is free to act.
    pub(super) fn owner_receive<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        obj: ObjectKey,
        msg: Msg,
    ) {
        let me = self.me;
        let known = self.cores;
        // The field, not `owner_mut`, so that `next_number` stays free to borrow.
        let Some(Record { role: Role::Owner(owner), .. }) = self.objects.get_mut(&obj) else { return };
        match msg {
            Msg::CopyRequest { origin, req, rights, to, dest, .. } => {
                if to == origin || !known.contains(to) {
                    out.reply(origin, req, Err(ProtocolError::BadCore));
                } else if owner.revoking() {
                    // Ordered after the revoke's start: the revoke will delete (or has
                    // deleted) the capability this would copy.
                    out.reply(origin, req, Err(ProtocolError::Revoked));
                } else if to == me {
                    let result = k.install(obj, rights, me, dest).map_err(ProtocolError::DestinationRefused);
                    out.reply(origin, req, result);
                } else {
                    // On the books before it leaves: from now on the copy counts as held.
                    let install = self.next_number;
                    self.next_number += 1;
                    owner.in_flight.insert(install, InFlight { to, origin, req });
                    out.send(to, Msg::Install { obj, rights, install, dest });
                }
            }
            Msg::RetypeRequest { origin, req, .. } if owner.revoking() => {
                out.reply(origin, req, Err(ProtocolError::Revoked));
            }
            Msg::RetypeRequest { .. } | Msg::RevokeRequest { .. } => owner.queue.push_back(msg),
            Msg::Dropped { origin, .. } => owner.holders = owner.holders.without(origin),
            _ => {}
        }
    }

    /// A copy arrived, or was refused.
    pub(super) fn install_done<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        install: u64,
        result: Result<(), ProtocolError>,
    ) {
        let Some(owner) = self.owner_mut(obj) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let Some(copy) = owner.in_flight.get(&install).copied().filter(|copy| copy.to == from) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        owner.in_flight.remove(&install);
        if result.is_ok() {
            owner.holders = owner.holders.with(from);
        }
        out.reply(copy.origin, copy.req, result);
        // A revoke waits for every copy that was in flight when it started.
        self.advance_revoke(k, out, obj);
    }

    /// Starts the next queued operation if none runs; or, if the owner is idle, hands
    /// ownership on, reclaims, or lets go of the record. Finally drops a record that holds
    /// nothing any more.
    ///
    /// Called only when this core has processed everything it sent itself, and starts one
    /// operation per call. That keeps the owner's own requests in order with its local
    /// actions, as FIFO channels keep them for other cores: a retype granted to this core
    /// is performed before a revoke queued behind it deletes this core's descendants.
    pub(super) fn settle<K: LocalKernel>(&mut self, k: &mut K, out: &mut Out, obj: ObjectKey) {
        if let Some(owner) = self.owner_mut(obj) {
            if owner.predecessor.is_none() && owner.op.is_none() {
                if let Some(next) = owner.queue.pop_front() {
                    match next {
                        Msg::RetypeRequest { origin, req, .. } => self.start_retype(k, out, obj, origin, req),
                        Msg::RevokeRequest { origin, req, .. } => self.start_revoke(k, out, obj, origin, req),
                        _ => {}
                    }
                    // Settle again once what that operation sent this core is handled.
                    out.touched.push(obj);
                    return;
                }
            }
        }
        self.end_if_idle(k, out, obj);
        if self.objects.get(&obj).is_some_and(Record::is_empty) {
            self.objects.remove(&obj);
        }
    }

    fn end_if_idle<K: LocalKernel>(&mut self, k: &mut K, out: &mut Out, obj: ObjectKey) {
        let me = self.me;
        let reclaim_early = self.fault(Fault::ReclaimIgnoresInFlight);
        let Some(record) = self.objects.get_mut(&obj) else { return };
        let Role::Owner(owner) = &record.role else { return };
        if owner.predecessor.is_some() || owner.op.is_some() || !owner.queue.is_empty() {
            return;
        }
        // A copy in flight is a copy: nothing ends while one is.
        let settled = owner.in_flight.is_empty();
        if k.copies(obj) > 0 {
            if settled && owner.holders.is_empty() && owner.descendants.is_empty() {
                // No other core is involved any more: the CPU driver can handle the object
                // alone again.
                k.set_relations(obj, Relations { owner: me, remote: false });
                record.role = Role::None;
            }
        } else if let Some(successor) = owner
            .successor_hint
            .filter(|&s| owner.holders.contains(s))
            .or_else(|| owner.holders.iter().next())
        {
            if settled {
                record.stub = Some(hand_over(me, k, out, obj, owner, successor));
                record.role = Role::None;
            }
        } else if settled || reclaim_early {
            // No copy here, none on another core, none on the way: this was the last.
            let may_remain = !owner.descendants.is_empty() || k.has_descendants(obj);
            k.reclaim(obj, may_remain);
            record.role = Role::None;
        }
    }

    // ---- Retype: exactly one wins ----

    fn start_retype<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        obj: ObjectKey,
        origin: CoreId,
        req: u64,
    ) {
        let me = self.me;
        let reckless = self.fault(Fault::GrantEveryRetype);
        let Some(owner) = self.owner_mut(obj) else { return };
        // Ask every core that may still have descendants. A core granted a retype gets the
        // probe after the grant (FIFO), so it answers after it has retyped.
        let others = owner.descendants.without(me);
        if others.is_empty() || reckless {
            decide_retype(me, k, out, obj, owner, (origin, req), reckless);
        } else {
            for core in others.iter() {
                out.send(core, Msg::Probe { obj });
            }
            owner.op = Some(Op::Retype { origin, req, awaiting: others, found: CoreSet::EMPTY });
        }
    }

    pub(super) fn probe_reply<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        has_descendants: bool,
    ) {
        let me = self.me;
        let Some(owner) = self.owner_mut(obj) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let Some(Op::Retype { origin, req, awaiting, found }) = owner.op.filter(|op| match op {
            Op::Retype { awaiting, .. } => awaiting.contains(from),
            Op::Revoke(_) => false,
        }) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let awaiting = awaiting.without(from);
        let found = if has_descendants { found.with(from) } else { found };
        if awaiting.is_empty() {
            // Every core answered, and no grant happened meanwhile (this is the one
            // operation running): `found` is now exactly where descendants are.
            owner.op = None;
            owner.descendants = found;
            decide_retype(me, k, out, obj, owner, (origin, req), false);
        } else {
            owner.op = Some(Op::Retype { origin, req, awaiting, found });
        }
    }

    // ---- Revoke: mark, then commit ----

    fn start_revoke<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        obj: ObjectKey,
        revoker: CoreId,
        req: u64,
    ) {
        let me = self.me;
        if revoker == me && !self.revoke_slot(req).is_some_and(|slot| k.holds(obj, slot)) {
            return out.reply(me, req, Err(ProtocolError::NotHeld));
        }
        let blind = self.fault(Fault::RevokeIgnoresInFlight);
        let Some(owner) = self.owner_mut(obj) else { return };
        let mut marked = union(owner.holders, owner.descendants).with(revoker);
        if !blind {
            // A copy on its way will be installed before the mark arrives (FIFO), so its
            // destination must be marked, and committed, too.
            marked = owner.in_flight.values().fold(marked, |set, copy| set.with(copy.to));
        }
        let marked = marked.without(me);
        for core in marked.iter() {
            out.send(core, Msg::Mark { obj, revoker, req });
        }
        let phase = Phase::Marking { awaiting: marked, keeps: true };
        owner.op = Some(Op::Revoke(Revoke { revoker, req, marked, phase }));
        self.advance_revoke(k, out, obj);
    }

    pub(super) fn revoke_ack<K: LocalKernel>(
        &mut self,
        k: &mut K,
        out: &mut Out,
        from: CoreId,
        obj: ObjectKey,
        ack: Ack,
    ) {
        let Some(owner) = self.owner_mut(obj) else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let Some(Op::Revoke(revoke)) = &mut owner.op else {
            return out.ignore(from, IgnoreReason::Unexpected);
        };
        let is_revoker = from == revoke.revoker;
        match (&mut revoke.phase, ack) {
            (Phase::Marking { awaiting, keeps }, Ack::Marked { keeps: still_there })
                if awaiting.contains(from) =>
            {
                *awaiting = awaiting.without(from);
                *keeps &= still_there || !is_revoker;
            }
            (Phase::Committing { awaiting, revoker_holds }, Ack::Committed { holds })
                if awaiting.contains(from) =>
            {
                *awaiting = awaiting.without(from);
                *revoker_holds |= holds && is_revoker;
            }
            (Phase::Unmarking { awaiting }, Ack::Unmarked) if awaiting.contains(from) => {
                *awaiting = awaiting.without(from);
            }
            _ => return out.ignore(from, IgnoreReason::Unexpected),
        }
        self.advance_revoke(k, out, obj);
    }

    /// Moves a revoke on as far as its acknowledgements allow.
    fn advance_revoke<K: LocalKernel>(&mut self, k: &mut K, out: &mut Out, obj: ObjectKey) {
        let me = self.me;
        let blind = self.fault(Fault::RevokeIgnoresInFlight);
        let Some(owner) = self.owner_mut(obj) else { return };
        let Some(Op::Revoke(revoke)) = owner.op else { return };
        match revoke.phase {
            Phase::Marking { awaiting, keeps } => {
                // Every copy in flight at mark time has been installed or refused by now
                // (its acknowledgement precedes the mark's on the same channel); waiting
                // for `in_flight` to empty says so explicitly.
                if !awaiting.is_empty() || !(owner.in_flight.is_empty() || blind) {
                    return;
                }
                if !keeps {
                    for core in revoke.marked.iter() {
                        out.send(core, Msg::Unmark { obj });
                    }
                    let phase = Phase::Unmarking { awaiting: revoke.marked };
                    owner.op = Some(Op::Revoke(Revoke { phase, ..revoke }));
                    return;
                }
                for core in revoke.marked.iter() {
                    out.send(core, Msg::Commit { obj, revoker: revoke.revoker, req: revoke.req });
                }
                let phase = Phase::Committing { awaiting: revoke.marked, revoker_holds: false };
                owner.op = Some(Op::Revoke(Revoke { phase, ..revoke }));
                let keep = if revoke.revoker == me { self.revoke_slot(revoke.req) } else { None };
                k.delete_copies(obj, keep);
                k.delete_descendants(obj);
                // With no other core marked, the revoke is already complete.
                self.advance_revoke(k, out, obj);
            }
            Phase::Committing { awaiting, revoker_holds } => {
                if !awaiting.is_empty() {
                    return;
                }
                // Every other copy and every descendant is gone. If the revoker is another
                // core, this one has no copy left and settling hands ownership to it.
                owner.holders = if revoke.revoker != me && revoker_holds {
                    CoreSet::EMPTY.with(revoke.revoker)
                } else {
                    CoreSet::EMPTY
                };
                owner.descendants = CoreSet::EMPTY;
                owner.op = None;
                out.reply(revoke.revoker, revoke.req, Ok(()));
            }
            Phase::Unmarking { awaiting } => {
                if awaiting.is_empty() {
                    owner.op = None;
                    out.reply(revoke.revoker, revoke.req, Err(ProtocolError::NotHeld));
                }
            }
        }
    }
}

/// Grants or refuses a retype, from books that are exact for descendants on other cores
/// (just probed, or empty) and this core's own kernel.
fn decide_retype<K: LocalKernel>(
    me: CoreId,
    k: &K,
    out: &mut Out,
    obj: ObjectKey,
    owner: &mut Owner,
    (origin, req): (CoreId, u64),
    reckless: bool,
) {
    if !reckless && (!owner.descendants.is_empty() || k.has_descendants(obj)) {
        return out.reply(origin, req, Err(ProtocolError::DescendantsExist));
    }
    // On the books before the grant leaves, so the next retype probes this core.
    if origin != me {
        owner.descendants = owner.descendants.with(origin);
    }
    out.reply(origin, req, Ok(()));
}

/// Passes ownership to `successor`, a core that may hold a copy; tells the other holders;
/// returns the stub that forwards until all of them (and the successor) have acknowledged.
/// Nothing is in flight and no operation runs, so the books are complete.
fn hand_over<K: LocalKernel>(
    me: CoreId,
    k: &K,
    out: &mut Out,
    obj: ObjectKey,
    owner: &Owner,
    successor: CoreId,
) -> Stub {
    let descendants = if k.has_descendants(obj) { owner.descendants.with(me) } else { owner.descendants };
    let others = owner.holders.without(successor);
    out.send(successor, Msg::Handover { obj, holders: others, descendants: descendants.without(successor) });
    for core in others.iter() {
        out.send(core, Msg::NewOwner { obj, owner: successor });
    }
    Stub { successor, awaiting: owner.holders }
}
