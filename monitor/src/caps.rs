//! Capabilities across cores: this monitor's half of the protocol in
//! `docs/capability-protocol.md`, run by `replica::caps::CapNode` against this core's CPU
//! driver.
//!
//! Programs reach it with `libos::crosscore`: they attach the capability (the monitor gets
//! its own copy in one of its slots) and name the operation. Every slot the protocol sees
//! is one of the monitor's own: an attached copy, a copy waiting in a *mailbox* for the
//! program it was sent to, or the *anchor*.
//!
//! ## Anchors
//!
//! For every object with relations on other cores the monitor keeps one copy of its own,
//! marked as the anchor (`abi::method::remote::ANCHOR`). The CPU driver does not count it
//! when a program deletes its core's last copy, so that delete still comes here; and it
//! keeps the object known to this core's capability database while programs here hold no
//! copy, which is what lets the monitor ask "are there descendants here?" and delete them.
//!
//! The core where an object first went beyond one core is its *origin*: its database has
//! the object's parent (the RAM it was made from). The origin keeps its anchor until the
//! object is reclaimed, so the parent's memory is never retyped again while a copy exists
//! on any core. The protocol reclaims on the last owner, which need not be the origin: that
//! core then tells every other monitor ([`wire::RECLAIM`]), and the origin, which alone
//! holds an anchor without a record, destroys the object there. RAM this core's monitor
//! handed out is anchored by the monitor's own copy of it (`RamService`), and reclaiming it
//! gives the memory back to the replicated ownership map.
//!
//! [`wire::RECLAIM`]: crate::wire::RECLAIM

use crate::serve::answer_program;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libos::abi::cap::{CapType, Rights as CapRights};
use libos::abi::method::{cap_op, remote};
use libos::abi::{CapAddr, SysError};
use libos::cap::{CapRef, EndpointCap};
use libos::monitor::status;
use libos::Error;
use replica::caps::{
    CapNode, Completion, Effects, KernelError, LocalKernel, Msg, ObjectKey, ProtocolError, Relations,
    Request, Rights, Slot, Standing,
};
use replica::{CoreId, CoreSet};

/// An object's anchor on this core.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    slot: CapRef,
    /// This core is the object's origin.
    origin: bool,
    /// The anchor is the RAM service's copy of RAM it handed out (never deleted here).
    handed: bool,
}

/// What a program's request becomes once the protocol has finished it.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Answer; then delete the attached copy.
    Answer,
    /// Answer (the protocol deleted the attached copy itself).
    AnswerOnly,
    /// Answer with a copy of the attached capability; then delete it.
    HandBack,
    /// Answer with the object the retype made.
    Made,
}

struct Pending {
    reply: EndpointCap,
    attached: CapRef,
    then: Then,
}

/// The monitor's capability books beside the protocol node: what the [`LocalKernel`] needs.
#[derive(Default)]
struct Books {
    anchors: BTreeMap<ObjectKey, Anchor>,
    /// Copies sent to this core, by mailbox, until their program collects them.
    mailbox: BTreeMap<u64, CapRef>,
    /// Granted retypes: the arguments by token, and the object made.
    retypes: BTreeMap<u64, (CapType, u64, u64, Option<CapRef>)>,
    /// Objects the protocol decided to reclaim here: `(object, descendants may remain)`.
    reclaims: Vec<(ObjectKey, bool)>,
}

/// What the monitor must do after a step: messages to other monitors, and objects to
/// reclaim (which may need the RAM service).
#[derive(Default)]
pub struct Outcome {
    pub messages: Vec<(usize, Msg)>,
    pub reclaims: Vec<(ObjectKey, bool)>,
}

pub struct CapService {
    me: usize,
    node: CapNode,
    books: Books,
    /// Capabilities programs attached, by nonce, until a request names them.
    attached: BTreeMap<u64, CapRef>,
    /// Programs waiting for a mailbox to fill.
    receivers: Vec<(u64, EndpointCap)>,
    pending: BTreeMap<u64, Pending>,
    next_token: u64,
    /// Objects this core destroyed as the last copy's anywhere.
    reclaimed: u64,
}

impl CapService {
    pub fn new(me: usize, cores: usize) -> CapService {
        CapService {
            me,
            node: CapNode::new(CoreId(me as u8), CoreSet::first(cores)),
            books: Books::default(),
            attached: BTreeMap::new(),
            receivers: Vec::new(),
            pending: BTreeMap::new(),
            next_token: 1,
            reclaimed: 0,
        }
    }

    /// Keeps a capability a program attached under `nonce`.
    pub fn attach(&mut self, nonce: u64, cap: CapRef) -> Result<(), Error> {
        if self.attached.contains_key(&nonce) {
            return Err(Error::Sys(SysError::SlotOccupied));
        }
        self.attached.insert(nonce, cap);
        Ok(())
    }

    /// Takes back a capability a program attached for a request that is not the
    /// protocol's (an endpoint to export, to bind a port to, to connect with).
    pub fn take_attached(&mut self, nonce: u64) -> Option<CapRef> {
        self.attached.remove(&nonce)
    }

    /// Whether the protocol has anything to do with `(base, size)`'s RAM object: the RAM
    /// service must not take it back behind the protocol's back.
    pub fn is_shared(&self, base: u64, size: u64) -> bool {
        let key = ObjectKey { type_code: CapType::Ram as u8, base, size_bytes: size };
        self.books.anchors.contains_key(&key) || self.node.view(key).is_some()
    }

    /// This core's side of the links between owners and holders, for `check`: the owner
    /// of an object adds a term for every holder in its books, a holder one for the owner it
    /// names. At rest the sums over every core are equal: every owner lists exactly the
    /// holders that name it. Also whether this core is quiet (no request waiting, nothing
    /// forwarded, held back or in progress), without which the sums may differ for a while.
    pub fn links(&self) -> Links {
        let mut links = Links { as_owner: 0, as_holder: 0, quiet: self.node.outstanding() == 0 };
        let me = CoreId(self.me as u8);
        for obj in self.node.objects() {
            let Some(view) = self.node.view(obj) else { continue };
            links.quiet &= view.forwarding_to.is_none() && view.held_back == 0;
            match view.standing {
                Standing::Owner { holders, in_flight, busy, awaiting_predecessor, .. } => {
                    links.quiet &= in_flight.is_empty() && !busy && !awaiting_predecessor;
                    for core in (0..64).map(CoreId).filter(|&c| holders.contains(c)) {
                        links.as_owner = links.as_owner.wrapping_add(link(obj, core, me));
                    }
                }
                Standing::Holder { owner, .. } => {
                    links.as_holder = links.as_holder.wrapping_add(link(obj, me, owner))
                }
                Standing::None => links.quiet = false,
            }
        }
        links
    }

    /// `[reclaimed, records, outstanding]`.
    pub fn info(&self) -> [u64; 3] {
        [self.reclaimed, self.node.objects().count() as u64, self.node.outstanding() as u64]
    }

    /// A program's request `op` (one of `op::CAP_*`), answered on `reply` now or later.
    /// `handed` finds the RAM service's copy of an object, the anchor of RAM it handed out.
    pub fn request(
        &mut self,
        op: u64,
        core: u64,
        [a, b, c]: [u64; 3],
        reply: EndpointCap,
        handed: impl Fn(ObjectKey) -> Option<CapRef>,
    ) -> Result<Outcome, u64> {
        use libos::monitor::op;
        if op == op::CAP_RECEIVE {
            match self.books.mailbox.remove(&a) {
                Some(cap) => hand_over(reply, cap),
                None if b == 1 => return Err(status::NOT_FOUND),
                None if self.receivers.iter().any(|r| r.0 == a) => return Err(status::BAD_REQUEST),
                None => self.receivers.push((a, reply)),
            }
            return Ok(Outcome::default());
        }
        let attached = self.attached.remove(&a).ok_or(status::NOT_FOUND)?;
        let refuse = |code: u64| {
            discard(attached);
            Err(code)
        };
        // A revoke may have deleted the attached copy while it waited for this request.
        let Some(obj) = key_of(attached) else { return refuse(status::NOT_FOUND) };
        let from = slot_of(attached);
        let travels = obj.type_code == CapType::Ram as u8 || obj.type_code == CapType::Frame as u8;
        let (request, then) = match op {
            op::CAP_COPY if !travels => return refuse(status::BAD_REQUEST),
            op::CAP_COPY => {
                if core as usize == self.me || core > u64::from(u8::MAX) {
                    return refuse(status::BAD_CORE);
                }
                let Some(rights) = CapRights::from_bits(c & 0xff) else { return refuse(status::BAD_REQUEST) };
                let (to, dest, rights) = (CoreId(core as u8), Slot(b), Rights(rights.bits() as u8));
                if c >> 8 & 1 == 1 {
                    (Request::Move { obj, from, rights, to, dest }, Then::AnswerOnly)
                } else {
                    (Request::Copy { obj, from, rights, to, dest }, Then::Answer)
                }
            }
            op::CAP_DELETE => (Request::Delete { obj, slot: from }, Then::AnswerOnly),
            op::CAP_REVOKE => (Request::Revoke { obj, slot: from }, Then::HandBack),
            op::CAP_RETYPE => {
                let Some(ty) = CapType::from_raw(b & 0xff) else { return refuse(status::BAD_REQUEST) };
                let token = self.next_token;
                self.books.retypes.insert(token, (ty, c, b >> 8, None));
                (Request::Retype { obj, slot: from }, Then::Made)
            }
            _ => return refuse(status::BAD_REQUEST),
        };
        if let Err(e) = self.books.ensure_anchor(obj, attached, &handed) {
            libos::println!("monitor: core {}: cannot anchor a capability: {e}", self.me);
            self.books.retypes.remove(&self.next_token);
            return refuse(status::FAILED);
        }
        let token = self.fresh_token();
        self.pending.insert(token, Pending { reply, attached, then });
        let effects = self.node.request(&mut self.books, token, request);
        Ok(self.settle(effects))
    }

    /// A protocol message from core `from`'s monitor.
    pub fn on_message(&mut self, from: usize, words: &[u64]) -> Outcome {
        match Msg::decode(words) {
            Ok(msg) => {
                let effects = self.node.handle(&mut self.books, CoreId(from as u8), msg);
                self.settle(effects)
            }
            Err(e) => {
                libos::println!(
                    "monitor: core {}: undecodable capability message from core {from}: {e:?}",
                    self.me
                );
                Outcome::default()
            }
        }
    }

    /// The last owner of `obj` reclaimed it on another core: if this core is its origin,
    /// destroy it here. Returns the RAM to give back, if the anchor was the RAM service's.
    pub fn on_reclaimed_elsewhere(
        &mut self,
        obj: ObjectKey,
        descendants_may_remain: bool,
    ) -> Option<ObjectKey> {
        let anchor = *self.books.anchors.get(&obj)?;
        if !anchor.origin || self.node.view(obj).is_some() {
            return None;
        }
        self.finish(obj, anchor, descendants_may_remain)
    }

    /// This core reclaims `obj`: destroys it if this is its origin, else says it should
    /// be destroyed at the origin (true: tell every other monitor). The RAM to give back
    /// comes out in `give_back`.
    pub fn reclaim_here(
        &mut self,
        obj: ObjectKey,
        descendants_may_remain: bool,
        give_back: &mut Option<ObjectKey>,
    ) -> bool {
        match self.books.anchors.get(&obj).copied() {
            Some(anchor) if anchor.origin => {
                *give_back = self.finish(obj, anchor, descendants_may_remain);
                false
            }
            Some(anchor) => {
                self.books.drop_anchor(obj, anchor);
                true
            }
            None => true,
        }
    }

    /// Tells the protocol about objects whose copies on this core vanished without a
    /// request: a program that ended took its capabilities with its CSpace, and the CPU
    /// driver deleted them there without asking anybody. For each object the protocol
    /// still counts this core in while no copy is left here, a stand-in copy is made from
    /// the anchor and deleted through the protocol, as if the program had deleted its last.
    pub fn sweep(&mut self) -> Outcome {
        let vanished: Vec<(ObjectKey, CapRef)> = self
            .books
            .anchors
            .iter()
            .filter(|(obj, _)| self.node.view(**obj).is_some_and(|v| !matches!(v.standing, Standing::None)))
            .filter(|(obj, _)| self.books.copies(**obj) == 0)
            .map(|(obj, anchor)| (*obj, anchor.slot))
            .collect();
        let mut outcome = Outcome::default();
        for (obj, anchor) in vanished {
            let Ok(stand_in) = libos::cspace::alloc_slot() else { break };
            if anchor.copy_to(stand_in).is_err() {
                libos::cspace::free_slot(stand_in);
                continue;
            }
            let token = self.fresh_token();
            let effects =
                self.node.request(&mut self.books, token, Request::Delete { obj, slot: slot_of(stand_in) });
            libos::cspace::free_slot(stand_in);
            let more = self.settle(effects);
            outcome.messages.extend(more.messages);
            outcome.reclaims.extend(more.reclaims);
        }
        outcome
    }

    fn finish(&mut self, obj: ObjectKey, anchor: Anchor, descendants_may_remain: bool) -> Option<ObjectKey> {
        self.reclaimed += 1;
        if anchor.handed {
            // The RAM service's own copy: giving the RAM back destroys the object, unless
            // things made from it live on (then the memory stays in use).
            self.books.anchors.remove(&obj);
            let _ = libos::kernel::set_remote(anchor.slot, 0);
            return (!descendants_may_remain).then_some(obj);
        }
        self.books.drop_anchor(obj, anchor);
        None
    }

    fn fresh_token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token - 1
    }

    /// Turns one event's effects into messages and answers, finishing requests (which can
    /// start more: deleting an attached copy) until nothing is left; then lets go of
    /// anchors the protocol no longer needs.
    fn settle(&mut self, effects: Effects) -> Outcome {
        let mut outcome = Outcome::default();
        let mut queue = alloc::vec![effects];
        while let Some(effects) = queue.pop() {
            outcome.messages.extend(effects.sends.into_iter().map(|(to, msg)| (usize::from(to.0), msg)));
            for ignored in effects.ignored {
                libos::println!("monitor: core {}: capability message ignored: {ignored:?}", self.me);
            }
            for Completion { token, result } in effects.completions {
                if let Some(follow_up) = self.complete(token, result) {
                    queue.push(follow_up);
                }
            }
        }
        outcome.reclaims.append(&mut self.books.reclaims);
        self.deliver_mail();
        self.release_anchors();
        outcome
    }

    /// Answers the program whose request `token` finished.
    fn complete(&mut self, token: u64, result: Result<(), ProtocolError>) -> Option<Effects> {
        let made = self.books.retypes.remove(&token).and_then(|r| r.3);
        let pending = self.pending.remove(&token)?;
        let code = match result {
            Ok(()) => status::OK,
            Err(ProtocolError::NotHeld) => status::NOT_FOUND,
            Err(ProtocolError::BadCore) => status::BAD_CORE,
            Err(ProtocolError::Revoked) => status::REVOKED,
            Err(ProtocolError::DescendantsExist) => status::DESCENDANTS_EXIST,
            Err(ProtocolError::DestinationRefused(_)) => status::REFUSED,
            Err(ProtocolError::Kernel(_)) => status::FAILED,
        };
        let cap = match (code, pending.then) {
            (status::OK, Then::HandBack) => Some(pending.attached),
            (status::OK, Then::Made) => made,
            _ => None,
        };
        answer_program(pending.reply, [code, 0, 0, 0], cap);
        if let Some(made) = made {
            // The program has its copy of the new object now.
            libos::cspace::discard(made);
        }
        if matches!(pending.then, Then::AnswerOnly) && code == status::OK {
            libos::cspace::free_slot(pending.attached);
            return None;
        }
        // The attached copy goes, through the protocol: it may have been the last.
        match key_of(pending.attached) {
            Some(obj) => {
                let token = self.fresh_token();
                let request = Request::Delete { obj, slot: slot_of(pending.attached) };
                let effects = self.node.request(&mut self.books, token, request);
                libos::cspace::free_slot(pending.attached);
                Some(effects)
            }
            None => {
                // Deleted by a revoke meanwhile.
                libos::cspace::free_slot(pending.attached);
                None
            }
        }
    }

    /// Hands mailboxes that filled to the programs waiting for them.
    fn deliver_mail(&mut self) {
        let mut i = 0;
        while i < self.receivers.len() {
            let (mailbox, _) = self.receivers[i];
            match self.books.mailbox.remove(&mailbox) {
                Some(cap) => hand_over(self.receivers.swap_remove(i).1, cap),
                None => i += 1,
            }
        }
    }

    /// Anchors of objects the protocol forgot. A core that is not the origin lets its
    /// anchor go once no program here holds a copy (while one does, the anchor and the
    /// relations mark stay, so the last delete still comes to the monitor, which then
    /// reclaims as the object's only owner). The origin keeps its anchor while no copy is
    /// here (the object lives elsewhere) and lets it go when the object is entirely its
    /// own again.
    fn release_anchors(&mut self) {
        let forgotten: Vec<(ObjectKey, Anchor)> = self
            .books
            .anchors
            .iter()
            .filter(|(obj, _)| self.node.view(**obj).is_none())
            .map(|(obj, anchor)| (*obj, *anchor))
            .collect();
        for (obj, anchor) in forgotten {
            let copies = self.books.copies(obj);
            if anchor.origin && copies > 0 {
                let _ = libos::kernel::set_remote(anchor.slot, 0);
                self.books.drop_anchor(obj, anchor);
            } else if !anchor.origin && copies == 0 {
                self.books.drop_anchor(obj, anchor);
            } else if !anchor.origin {
                let _ = libos::kernel::set_remote(anchor.slot, remote::COPIES);
            }
        }
    }
}

impl Books {
    /// Makes sure `obj` has an anchor here before the protocol first sees it: the RAM
    /// service's copy, or a copy of `attached`. A new anchor makes this core the origin.
    fn ensure_anchor(
        &mut self,
        obj: ObjectKey,
        attached: CapRef,
        handed: &impl Fn(ObjectKey) -> Option<CapRef>,
    ) -> Result<(), Error> {
        if self.anchors.contains_key(&obj) {
            return Ok(());
        }
        let (slot, is_handed) = match handed(obj) {
            Some(slot) => (slot, true),
            None => {
                let slot = libos::cspace::alloc_slot()?;
                if let Err(e) = attached.copy_to(slot) {
                    libos::cspace::free_slot(slot);
                    return Err(e);
                }
                (slot, false)
            }
        };
        libos::kernel::cap_op(slot, cap_op::ANCHOR, [0; 3], None)?;
        self.anchors.insert(obj, Anchor { slot, origin: true, handed: is_handed });
        Ok(())
    }

    /// Deletes an anchor this core no longer needs (never the RAM service's copy).
    fn drop_anchor(&mut self, obj: ObjectKey, anchor: Anchor) {
        self.anchors.remove(&obj);
        if !anchor.handed {
            let _ = libos::kernel::set_remote(anchor.slot, 0);
            discard(anchor.slot);
        }
    }

    fn anchor(&self, obj: ObjectKey) -> Option<CapRef> {
        self.anchors.get(&obj).map(|a| a.slot)
    }

    /// Forgets mailbox entries a revoke emptied.
    fn sweep_mailbox(&mut self) {
        let emptied: Vec<u64> =
            self.mailbox.iter().filter(|(_, cap)| key_of(**cap).is_none()).map(|(m, _)| *m).collect();
        for mailbox in emptied {
            if let Some(cap) = self.mailbox.remove(&mailbox) {
                libos::cspace::free_slot(cap);
            }
        }
    }
}

impl LocalKernel for Books {
    fn holds(&self, obj: ObjectKey, slot: Slot) -> bool {
        key_of(cap_of(slot)) == Some(obj)
    }

    fn copies(&self, obj: ObjectKey) -> usize {
        self.anchor(obj).map_or(0, |anchor| {
            libos::kernel::cap_op(anchor, cap_op::COPIES, [0; 3], None).unwrap_or(0) as usize
        })
    }

    fn has_descendants(&self, obj: ObjectKey) -> bool {
        self.anchor(obj).is_some_and(|anchor| {
            libos::kernel::cap_op(anchor, cap_op::HAS_DESCENDANTS, [0; 3], None).unwrap_or(0) == 1
        })
    }

    fn install(
        &mut self,
        obj: ObjectKey,
        rights: Rights,
        owner: CoreId,
        dest: Slot,
    ) -> Result<(), KernelError> {
        if self.mailbox.contains_key(&dest.0) {
            return Err(KernelError(SysError::SlotOccupied.code()));
        }
        let anchor = match self.anchor(obj) {
            Some(anchor) => anchor,
            None => {
                let ty = CapType::from_raw(u64::from(obj.type_code))
                    .ok_or(KernelError(SysError::InvalidArgument.code()))?;
                let slot = libos::cspace::alloc_slot().map_err(kernel_error)?;
                let made = libos::kernel::create_cap(
                    ty,
                    obj.base,
                    obj.size_bytes,
                    CapRights::ALL,
                    u64::from(owner.0),
                    slot,
                )
                .and_then(|()| libos::kernel::cap_op(slot, cap_op::ANCHOR, [0; 3], None));
                if let Err(e) = made {
                    libos::cspace::discard(slot);
                    return Err(kernel_error(e));
                }
                self.anchors.insert(obj, Anchor { slot, origin: false, handed: false });
                slot
            }
        };
        let _ = libos::kernel::set_remote(anchor, remote::COPIES | remote::DESCENDANTS);
        let rights = CapRights::from_bits(u64::from(rights.0)).unwrap_or(CapRights::NONE);
        let slot = libos::cspace::alloc_slot().map_err(kernel_error)?;
        if let Err(e) = anchor.mint_to(slot, rights, 0) {
            libos::cspace::free_slot(slot);
            return Err(kernel_error(e));
        }
        self.mailbox.insert(dest.0, slot);
        Ok(())
    }

    fn delete_copy(&mut self, _obj: ObjectKey, slot: Slot) -> Result<(), KernelError> {
        let cap = cap_of(slot);
        libos::kernel::cap_op(cap, cap_op::DELETE, [0; 3], None).map(drop).map_err(kernel_error)?;
        // A mailbox copy is freed with its entry; an attached one by its request.
        if let Some(&mailbox) = self.mailbox.iter().find(|(_, &c)| c == cap).map(|(m, _)| m) {
            self.mailbox.remove(&mailbox);
            libos::cspace::free_slot(cap);
        }
        Ok(())
    }

    fn delete_copies(&mut self, obj: ObjectKey, keep: Option<Slot>) {
        let through = keep.map(cap_of).or(self.anchor(obj));
        if let Some(cap) = through {
            let _ = libos::kernel::cap_op(cap, cap_op::DELETE_COPIES, [0; 3], None);
        }
        self.sweep_mailbox();
    }

    fn delete_descendants(&mut self, obj: ObjectKey) {
        if let Some(anchor) = self.anchor(obj) {
            let _ = libos::kernel::cap_op(anchor, cap_op::DELETE_DESCENDANTS, [0; 3], None);
        }
    }

    fn retype(&mut self, _obj: ObjectKey, slot: Slot, token: u64) -> Result<(), KernelError> {
        let entry = self.retypes.get_mut(&token).ok_or(KernelError(SysError::InvalidArgument.code()))?;
        let (ty, bytes, offset, _) = *entry;
        let dest = libos::cspace::alloc_slot().map_err(kernel_error)?;
        let args = [ty as u64, bytes, offset];
        match libos::kernel::cap_op(cap_of(slot), cap_op::RETYPE, args, Some(dest)) {
            Ok(_) => {
                entry.3 = Some(dest);
                Ok(())
            }
            Err(e) => {
                libos::cspace::free_slot(dest);
                Err(kernel_error(e))
            }
        }
    }

    fn set_relations(&mut self, obj: ObjectKey, relations: Relations) {
        if let Some(anchor) = self.anchor(obj) {
            let bits = if relations.remote { remote::COPIES | remote::DESCENDANTS } else { 0 };
            let _ = libos::kernel::set_remote(anchor, bits);
        }
    }

    fn reclaim(&mut self, obj: ObjectKey, descendants_may_remain: bool) {
        self.reclaims.push((obj, descendants_may_remain));
    }
}

/// This core's terms of the owner–holder links (see [`CapService::links`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Links {
    pub as_owner: u64,
    pub as_holder: u64,
    pub quiet: bool,
}

/// The term for "`holder` holds `obj`, owned by `owner`": the same on both sides.
fn link(obj: ObjectKey, holder: CoreId, owner: CoreId) -> u64 {
    let mut x = u64::from(obj.type_code) ^ obj.base.rotate_left(13) ^ obj.size_bytes.rotate_left(29);
    x ^= u64::from(holder.0) << 48 ^ u64::from(owner.0) << 56;
    // A 64-bit mix (splitmix64's finaliser), so that sums of different links rarely meet.
    x = (x ^ x >> 30).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ x >> 27).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ x >> 31
}

/// Sends `cap` to the program waiting on `reply`; the monitor's copy goes.
fn hand_over(reply: EndpointCap, cap: CapRef) {
    answer_program(reply, [status::OK, 0, 0, 0], Some(cap));
    discard(cap);
}

/// Deletes a capability of the monitor's own, marked or not (`KERNEL_CAP_OP` bypasses the
/// refusals a marked last copy gets), and gives its slot back.
fn discard(cap: CapRef) {
    let _ = libos::kernel::cap_op(cap, cap_op::DELETE, [0; 3], None);
    libos::cspace::free_slot(cap);
}

/// The object in `cap`'s slot, or `None` if the slot is empty.
fn key_of(cap: CapRef) -> Option<ObjectKey> {
    let info = cap.identify().ok()?;
    Some(ObjectKey { type_code: info.ty as u8, base: info.base, size_bytes: info.size })
}

fn slot_of(cap: CapRef) -> Slot {
    Slot(cap.raw())
}

fn cap_of(slot: Slot) -> CapRef {
    CapRef(CapAddr(slot.0 as u32))
}

fn kernel_error(e: Error) -> KernelError {
    match e {
        Error::Sys(e) => KernelError(e.code()),
        _ => KernelError(SysError::InvalidArgument.code()),
    }
}
