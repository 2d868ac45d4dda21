//! The transfer protocol: requests, refusals, transfers, acknowledgements and grants.
//!
//! Each handler checks its message completely against the replica before changing
//! anything, so a rejected message leaves the replica as it was (see the module essay in
//! `mod.rs` for the protocol and why it is safe).

use alloc::vec::Vec;
use core::cmp::Reverse;

use super::region::RegionState;
use super::MAX_EXTENTS;
use super::{Body, Completion, Donation, Effects, Extent, MemoryError, MemoryReplica, Msg, TransferError};
use crate::{CoreId, CoreSet};

/// A request of this core for memory, waiting for its current donor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct PendingRequest {
    pub id: u64,
    pub token: u64,
    pub bytes: u64,
    /// Every core asked so far, the current donor included.
    pub asked: CoreSet,
    pub donor: CoreId,
    /// Once the donor's transfer has been applied here: its sequence number and extents,
    /// which are `Incoming` until the grant.
    pub arriving: Option<(u64, Vec<Extent>)>,
}

/// A transfer this core donated, waiting for acknowledgements.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct OutgoingTransfer {
    pub seq: u64,
    pub recipient: CoreId,
    pub request: u64,
    pub extents: Vec<Extent>,
    /// The cores whose acknowledgement is still missing.
    pub awaiting: CoreSet,
}

impl MemoryReplica {
    /// Asks other cores for at least `bytes`; `token` comes back in the [`Completion`].
    /// Several requests may be outstanding at once.
    ///
    /// The first core asked is the one that last reported the most free memory (the
    /// lowest id on a tie). A request for 0 bytes, or in a one-core system, completes at
    /// once with an error.
    pub fn request(&mut self, bytes: u64, token: u64) -> Effects {
        let mut effects = Effects::default();
        if bytes == 0 {
            effects.completions.push(Completion { token, result: Err(TransferError::ZeroBytes) });
            return effects;
        }
        let id = self.next_request;
        self.next_request += 1;
        let pending =
            PendingRequest { id, token, bytes, asked: CoreSet::EMPTY, donor: self.me, arriving: None };
        self.ask_next_donor(pending, &mut effects);
        effects
    }

    /// Applies a message that `from`'s monitor sent to this core. On an error the message is
    /// dropped and the replica is unchanged; the monitor reports it.
    pub fn receive(&mut self, from: CoreId, msg: &Msg) -> Result<Effects, MemoryError> {
        if from == self.me || usize::from(from.0) >= self.cores {
            return Err(MemoryError::BadCore);
        }
        msg.check().map_err(|_| MemoryError::Malformed)?;
        let effects = match &msg.body {
            Body::Announce { ranges } => {
                self.apply_announcement(from, ranges)?;
                Effects::default()
            }
            Body::Request { request, bytes } => self.serve(from, *request, *bytes),
            Body::Refuse { request } => self.refused(from, *request)?,
            Body::Transfer { seq, recipient, request, extents } => {
                self.apply_transfer(from, *seq, *recipient, *request, extents)?
            }
            Body::Ack { seq } => self.acknowledged(from, *seq)?,
            Body::Granted { seq, request } => self.granted(from, *seq, *request)?,
        };
        // Only an accepted message updates the hint: a rejected one changes nothing.
        self.advertised_free[usize::from(from.0)] = msg.sender_free_bytes;
        Ok(effects)
    }

    /// Sends `pending` to the most promising core not yet asked, or fails it.
    fn ask_next_donor(&mut self, mut pending: PendingRequest, effects: &mut Effects) {
        let candidates = self.others().iter().filter(|&core| !pending.asked.contains(core));
        let best =
            candidates.max_by_key(|&core| (self.advertised_free[usize::from(core.0)], Reverse(core.0)));
        match best {
            Some(donor) => {
                pending.asked = pending.asked.with(donor);
                pending.donor = donor;
                let msg = self.msg(Body::Request { request: pending.id, bytes: pending.bytes });
                effects.messages.push((donor, msg));
                self.requests.push(pending);
            }
            None => effects.completions.push(Completion {
                token: pending.token,
                result: Err(TransferError::AllRefused { asked: pending.asked }),
            }),
        }
    }

    /// Donor: `recipient` asks for `bytes`. Refuses, or commits a transfer: the regions
    /// leave this core's hands here and now, before any message is sent.
    fn serve(&mut self, recipient: CoreId, request: u64, bytes: u64) -> Effects {
        let mut effects = Effects::default();
        let Some(runs) = self.map.choose(self.me, bytes, MAX_EXTENTS) else {
            effects.messages.push((recipient, self.msg(Body::Refuse { request })));
            return effects;
        };
        let extents: Vec<Extent> = runs.iter().map(|run| self.map.extent_of(run.clone())).collect();
        for run in runs {
            self.map.assign(run, recipient, RegionState::Leaving);
        }
        let own = usize::from(self.me.0);
        self.transfers_applied[own] += 1;
        let seq = self.transfers_applied[own];
        self.broadcast(Body::Transfer { seq, recipient, request, extents: extents.clone() }, &mut effects);
        if self.grants_early() {
            effects.messages.push((recipient, self.msg(Body::Granted { seq, request })));
        }
        self.outgoing.push(OutgoingTransfer { seq, recipient, request, extents, awaiting: self.others() });
        effects
    }

    /// Requester: the current donor of request `request` refused it.
    fn refused(&mut self, donor: CoreId, request: u64) -> Result<Effects, MemoryError> {
        let index = self
            .requests
            .iter()
            .position(|r| r.id == request && r.donor == donor && r.arriving.is_none())
            .ok_or(MemoryError::UnknownRequest)?;
        let pending = self.requests.remove(index);
        let mut effects = Effects::default();
        self.ask_next_donor(pending, &mut effects);
        Ok(effects)
    }

    /// Every core but the donor: applies the donor's transfer `seq` and acknowledges it.
    fn apply_transfer(
        &mut self,
        donor: CoreId,
        seq: u64,
        recipient: CoreId,
        request: u64,
        extents: &[Extent],
    ) -> Result<Effects, MemoryError> {
        if usize::from(recipient.0) >= self.cores || recipient == donor {
            return Err(MemoryError::BadCore);
        }
        // The channel from the donor is FIFO and the donor numbers its transfers, so any
        // number but the next is not a transfer this replica can place.
        if seq != self.transfers_applied[usize::from(donor.0)] + 1 {
            return Err(MemoryError::UnknownTransfer);
        }
        let spans = extents
            .iter()
            .map(|&extent| self.map.span(extent).ok_or(MemoryError::NotWholeRegions))
            .collect::<Result<Vec<_>, _>>()?;
        // `Remote` rather than merely "owner is the donor": a region this core is still
        // giving away (`Leaving`) cannot be passed on yet by a correct peer.
        let donors_own = |span: &core::ops::Range<usize>| {
            self.map
                .span_regions(span.clone())
                .iter()
                .all(|r| r.owner == donor && r.state == RegionState::Remote)
        };
        if !spans.iter().all(donors_own) {
            return Err(MemoryError::NotOwned);
        }
        let request_index = if recipient == self.me {
            let index = self
                .requests
                .iter()
                .position(|r| r.id == request && r.donor == donor && r.arriving.is_none())
                .ok_or(MemoryError::UnknownRequest)?;
            Some(index)
        } else {
            None
        };

        let state = if recipient == self.me { RegionState::Incoming } else { RegionState::Remote };
        for span in spans {
            self.map.assign(span, recipient, state);
        }
        self.transfers_applied[usize::from(donor.0)] = seq;
        if let Some(index) = request_index {
            self.requests[index].arriving = Some((seq, extents.to_vec()));
        }
        let mut effects = Effects::default();
        effects.messages.push((donor, self.msg(Body::Ack { seq })));
        Ok(effects)
    }

    /// Donor: `from` has applied transfer `seq`. With the last acknowledgement in, every
    /// replica names the recipient as owner, and the recipient may use the memory.
    fn acknowledged(&mut self, from: CoreId, seq: u64) -> Result<Effects, MemoryError> {
        let index = self
            .outgoing
            .iter()
            .position(|t| t.seq == seq && t.awaiting.contains(from))
            .ok_or(MemoryError::UnknownTransfer)?;
        let transfer = &mut self.outgoing[index];
        transfer.awaiting = transfer.awaiting.without(from);
        let mut effects = Effects::default();
        if !transfer.awaiting.is_empty() {
            return Ok(effects);
        }
        let transfer = self.outgoing.remove(index);
        self.set_state(&transfer.extents, transfer.recipient, RegionState::Remote);
        if !self.grants_early() {
            let granted = Body::Granted { seq, request: transfer.request };
            effects.messages.push((transfer.recipient, self.msg(granted)));
        }
        effects.donations.push(Donation { recipient: transfer.recipient, extents: transfer.extents });
        Ok(effects)
    }

    /// Requester: the donor says every replica has applied its transfer `seq`.
    fn granted(&mut self, donor: CoreId, seq: u64, request: u64) -> Result<Effects, MemoryError> {
        let index = self
            .requests
            .iter()
            .position(|r| r.id == request && r.donor == donor)
            .ok_or(MemoryError::UnknownRequest)?;
        let extents = match &mut self.requests[index].arriving {
            Some((arrived, extents)) if *arrived == seq => core::mem::take(extents),
            _ => return Err(MemoryError::UnknownTransfer),
        };
        let token = self.requests.remove(index).token;
        self.set_state(&extents, self.me, RegionState::Free);
        let mut effects = Effects::default();
        effects.completions.push(Completion { token, result: Ok(extents) });
        Ok(effects)
    }

    /// Sets owner and state of extents this replica checked and recorded earlier. Their
    /// spans are still there: regions are never removed, split or merged.
    fn set_state(&mut self, extents: &[Extent], owner: CoreId, state: RegionState) {
        for &extent in extents {
            let span = self.map.span(extent);
            debug_assert!(span.is_some(), "a recorded extent {extent:x?} is no longer whole regions");
            if let Some(span) = span {
                self.map.assign(span, owner, state);
            }
        }
    }
}
