//! Unit tests: one replica's map and allocator, and the transfer protocol step by step.

use std::collections::VecDeque;

use super::region::RegionState;
use super::*;

const MIB: u64 = 1 << 20;
const BASE: u64 = 0x4000_0000;

fn mib(base_mib: u64, size_mib: u64) -> Extent {
    Extent { base: BASE + base_mib * MIB, size_bytes: size_mib * MIB }
}

/// A system of replicas with one shared FIFO of messages, delivered in the order sent.
struct Net {
    replicas: Vec<MemoryReplica>,
    in_flight: VecDeque<(CoreId, CoreId, Msg)>,
    completions: Vec<(CoreId, Completion)>,
    donations: Vec<(CoreId, Donation)>,
}

impl Net {
    /// Cores with boot memory `shares[c]` (in MiB from `BASE`), all announcements delivered.
    fn booted(shares: &[&[(u64, u64)]]) -> Net {
        let cores = shares.len();
        let mut net = Net {
            replicas: (0..cores as u8).map(|c| MemoryReplica::new(CoreId(c), cores, MIB)).collect(),
            in_flight: VecDeque::new(),
            completions: Vec::new(),
            donations: Vec::new(),
        };
        for (core, share) in shares.iter().enumerate() {
            let ranges: Vec<Extent> = share.iter().map(|&(base, size)| mib(base, size)).collect();
            let effects = net.replicas[core].announce(&ranges).unwrap();
            net.post(core, effects);
        }
        net.deliver_all();
        net
    }

    fn post(&mut self, core: usize, effects: Effects) {
        let from = CoreId(core as u8);
        self.in_flight.extend(effects.messages.into_iter().map(|(to, msg)| (from, to, msg)));
        self.completions.extend(effects.completions.into_iter().map(|c| (from, c)));
        self.donations.extend(effects.donations.into_iter().map(|d| (from, d)));
    }

    fn request(&mut self, core: usize, bytes: u64, token: u64) {
        let effects = self.replicas[core].request(bytes, token);
        self.post(core, effects);
    }

    /// Delivers the oldest message; returns what it was.
    fn deliver_one(&mut self) -> (CoreId, CoreId, Body) {
        let (from, to, msg) = self.in_flight.pop_front().expect("a message in flight");
        let effects = self.replicas[usize::from(to.0)].receive(from, &msg).unwrap();
        self.post(usize::from(to.0), effects);
        (from, to, msg.body)
    }

    fn deliver_all(&mut self) {
        while !self.in_flight.is_empty() {
            self.deliver_one();
        }
    }

    fn digests(&self) -> Vec<u64> {
        self.replicas.iter().map(MemoryReplica::digest).collect()
    }
}

fn one_core(ranges: &[Extent]) -> MemoryReplica {
    let mut replica = MemoryReplica::new(CoreId(0), 1, MIB);
    let effects = replica.announce(ranges).unwrap();
    assert!(effects.messages.is_empty(), "a core alone tells no one");
    replica
}

fn bounds(replica: &MemoryReplica) -> Vec<(u64, u64)> {
    replica.map.regions().iter().map(|r| (r.base, r.size_bytes)).collect()
}

#[test]
fn regions_follow_a_grid_aligned_to_zero_and_keep_short_ends() {
    // From 8 KiB below a grid line to 4 KiB past the second one after it.
    let range =
        Extent { base: BASE + MIB - 2 * PAGE_BYTES, size_bytes: 2 * PAGE_BYTES + 2 * MIB + PAGE_BYTES };
    let mut replica = one_core(&[range]);
    assert_eq!(
        bounds(&replica),
        vec![
            (BASE + MIB - 2 * PAGE_BYTES, 2 * PAGE_BYTES),
            (BASE + MIB, MIB),
            (BASE + 2 * MIB, MIB),
            (BASE + 3 * MIB, PAGE_BYTES),
        ]
    );
    assert_eq!(replica.free_bytes(), range.size_bytes, "no byte is rounded away");
    // A short region is handed out like any other: here it is the smallest fit.
    assert_eq!(replica.allocate(1), Some(Extent { base: range.base, size_bytes: 2 * PAGE_BYTES }));
}

#[test]
fn announcements_applied_in_any_order_give_the_same_replica() {
    let shares = [vec![mib(0, 4)], vec![mib(8, 2), mib(4, 3)], vec![mib(16, 5)]];
    let announce = |core: u8| {
        let mut replica = MemoryReplica::new(CoreId(core), 3, MIB);
        let effects = replica.announce(&shares[usize::from(core)]).unwrap();
        (replica, effects.messages)
    };
    let (_, from_1) = announce(1);
    let (_, from_2) = announce(2);
    let for_core_0 =
        |messages: &[(CoreId, Msg)]| messages.iter().find(|(to, _)| *to == CoreId(0)).unwrap().1.clone();
    let (mut one_then_two, _) = announce(0);
    let mut two_then_one = one_then_two.clone();
    assert_eq!(one_then_two.receive(CoreId(1), &for_core_0(&from_1)), Ok(Effects::default()));
    assert_eq!(one_then_two.receive(CoreId(2), &for_core_0(&from_2)), Ok(Effects::default()));
    assert_eq!(two_then_one.receive(CoreId(2), &for_core_0(&from_2)), Ok(Effects::default()));
    assert_eq!(two_then_one.receive(CoreId(1), &for_core_0(&from_1)), Ok(Effects::default()));
    assert_eq!(one_then_two, two_then_one);
    assert_eq!(one_then_two.announced(), CoreSet::first(3));

    let net = Net::booted(&[&[(0, 4)], &[(8, 2), (4, 3)], &[(16, 5)]]);
    assert!(net.digests().iter().all(|&d| d == one_then_two.digest()));
}

#[test]
fn an_overlapping_or_repeated_announcement_is_rejected_and_changes_nothing() {
    let mut net = Net::booted(&[&[(0, 4)], &[(4, 4)]]);
    let before = net.replicas[0].clone();
    let overlapping = Msg { sender_free_bytes: 0, body: Body::Announce { ranges: vec![mib(3, 2)] } };
    assert_eq!(net.replicas[0].receive(CoreId(1), &overlapping), Err(MemoryError::AlreadyAnnounced));
    let mut fresh = MemoryReplica::new(CoreId(0), 3, MIB);
    fresh.announce(&[mib(0, 4)]).unwrap().messages.clear();
    let untouched = fresh.clone();
    assert_eq!(fresh.receive(CoreId(2), &overlapping), Err(MemoryError::Overlap));
    assert_eq!(fresh, untouched);
    assert_eq!(net.replicas[0], before);
}

#[test]
fn announce_rejects_ranges_that_are_not_whole_disjoint_pages() {
    let mut replica = MemoryReplica::new(CoreId(0), 2, MIB);
    let bad = [
        vec![Extent { base: BASE + 1, size_bytes: MIB }],
        vec![Extent { base: BASE, size_bytes: 0 }],
        vec![Extent { base: u64::MAX - PAGE_BYTES + 1, size_bytes: 2 * PAGE_BYTES }],
        vec![mib(0, 2), mib(1, 2)],
    ];
    for ranges in bad {
        assert_eq!(replica.announce(&ranges), Err(MemoryError::BadRange), "{ranges:x?}");
    }
    let too_many: Vec<Extent> = (0..=MAX_EXTENTS as u64).map(|i| mib(2 * i, 1)).collect();
    assert_eq!(replica.announce(&too_many), Err(MemoryError::TooManyRanges));
    assert_eq!(replica, MemoryReplica::new(CoreId(0), 2, MIB));
    // Out of order is fine: the ranges are sorted first.
    assert!(replica.announce(&[mib(4, 1), mib(0, 1)]).is_ok());
    assert_eq!(replica.announce(&[mib(8, 1)]), Err(MemoryError::AlreadyAnnounced));
}

#[test]
fn allocate_takes_the_smallest_free_run_that_fits() {
    let mut replica = one_core(&[mib(0, 8)]);
    let regions: Vec<Extent> = (0..8).map(|_| replica.allocate(MIB).unwrap()).collect();
    for &i in &[0, 1, 2, 5, 6] {
        replica.free(regions[i]).unwrap();
    }
    // Free runs: 0..3 and 5..7. Two MiB fit both; the shorter run is used, and kept whole.
    assert_eq!(replica.allocate(2 * MIB), Some(mib(5, 2)));
    assert_eq!(replica.allocate(3 * MIB), Some(mib(0, 3)));
    assert_eq!(replica.allocate(MIB), None);
}

#[test]
fn allocate_rounds_up_to_whole_regions_and_fails_without_a_long_enough_run() {
    let mut replica = one_core(&[mib(0, 2), mib(3, 2)]);
    assert_eq!(replica.allocate(0), None);
    assert_eq!(replica.allocate(3 * MIB), None, "4 MiB free, but in two runs of 2");
    assert_eq!(replica.allocate(MIB + 1), Some(mib(0, 2)));
    assert_eq!(replica.allocate(1), Some(mib(3, 1)));
    assert_eq!(replica.free_bytes(), MIB);
    assert_eq!(
        replica.summary(),
        vec![CoreSummary { core: CoreId(0), owned_bytes: 4 * MIB, free_bytes: MIB }]
    );
}

#[test]
fn freed_memory_can_be_allocated_again_in_whole_regions_or_parts() {
    let mut replica = one_core(&[mib(0, 4)]);
    let all = replica.allocate(4 * MIB).unwrap();
    assert_eq!(replica.free(mib(1, 2)), Ok(()), "part of an allocation, in whole regions");
    assert_eq!(replica.allocate(2 * MIB), Some(mib(1, 2)));
    assert_eq!(replica.free(all), Ok(()));
    assert_eq!(replica.free_bytes(), 4 * MIB);
}

#[test]
fn free_rejects_memory_this_core_did_not_hand_out_and_changes_nothing() {
    let mut net = Net::booted(&[&[(0, 4)], &[(8, 4)]]);
    let replica = &mut net.replicas[0];
    let handed_out = replica.allocate(MIB).unwrap();
    let before = replica.clone();
    let cases = [
        (mib(1, 1), MemoryError::NotHandedOut),
        (Extent { base: handed_out.base, size_bytes: 2 * MIB }, MemoryError::NotHandedOut),
        (mib(8, 1), MemoryError::NotOwned),
        (mib(3, 6), MemoryError::NotWholeRegions),
        (Extent { base: handed_out.base + PAGE_BYTES, size_bytes: PAGE_BYTES }, MemoryError::NotWholeRegions),
        (mib(100, 1), MemoryError::NotWholeRegions),
        (Extent { base: handed_out.base, size_bytes: 0 }, MemoryError::BadRange),
        (Extent { base: handed_out.base + 1, size_bytes: MIB }, MemoryError::BadRange),
    ];
    for (extent, error) in cases {
        assert_eq!(replica.free(extent), Err(error), "{extent:x?}");
        assert_eq!(*replica, before);
    }
    replica.free(handed_out).unwrap();
    assert_eq!(replica.free(handed_out), Err(MemoryError::NotHandedOut), "freed twice");
}

#[test]
fn owner_of_names_the_owner_or_nothing_outside_announced_memory() {
    let net = Net::booted(&[&[(0, 2)], &[(4, 2)]]);
    for replica in &net.replicas {
        assert_eq!(replica.owner_of(BASE), Some(CoreId(0)));
        assert_eq!(replica.owner_of(BASE + 2 * MIB - 1), Some(CoreId(0)));
        assert_eq!(replica.owner_of(BASE + 2 * MIB), None);
        assert_eq!(replica.owner_of(BASE + 5 * MIB), Some(CoreId(1)));
        assert_eq!(replica.owner_of(0), None);
        assert_eq!(replica.owner_of(u64::MAX), None);
    }
}

#[test]
fn a_transfer_moves_regions_to_the_requester_at_every_replica() {
    let mut net = Net::booted(&[&[(0, 2)], &[(4, 6)], &[(12, 3)]]);
    net.request(0, 2 * MIB, 77);
    net.deliver_all();
    assert_eq!(net.completions, vec![(CoreId(0), Completion { token: 77, result: Ok(vec![mib(4, 2)]) })]);
    assert_eq!(net.donations, vec![(CoreId(1), Donation { recipient: CoreId(0), extents: vec![mib(4, 2)] })]);
    let digest = net.replicas[0].digest();
    for replica in &net.replicas {
        assert_eq!(replica.owner_of(BASE + 4 * MIB), Some(CoreId(0)));
        assert_eq!(replica.digest(), digest);
        assert!(replica.is_settled());
    }
    assert_eq!(net.replicas[0].free_bytes(), 4 * MIB);
    assert_eq!(net.replicas[1].free_bytes(), 4 * MIB);
    // The summary at a third core: ownership is replicated, free bytes are as last heard.
    let summary = net.replicas[2].summary();
    assert_eq!(summary.iter().map(|s| s.owned_bytes).collect::<Vec<_>>(), vec![4 * MIB, 4 * MIB, 3 * MIB]);
    assert_eq!(summary[1].free_bytes, 4 * MIB, "heard in the transfer, after the regions left");
    assert_eq!(summary[0].free_bytes, 2 * MIB, "last heard at boot");
}

#[test]
fn the_requester_asks_the_core_that_reported_the_most_free_memory() {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 2)], &[(8, 3)], &[(12, 3)]]);
    net.request(0, MIB, 1);
    // Cores 2 and 3 tie on 3 MiB: the lower id is asked.
    assert!(matches!(net.in_flight.front(), Some((_, CoreId(2), Msg { body: Body::Request { .. }, .. }))));
}

#[test]
fn a_refused_request_goes_to_the_next_core_and_fails_once_every_core_refused() {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 2)], &[(8, 3)]]);
    net.request(0, 5 * MIB, 1);
    let refused_by: Vec<CoreId> =
        std::iter::from_fn(|| (!net.in_flight.is_empty()).then(|| net.deliver_one()))
            .filter(|(_, _, body)| matches!(body, Body::Refuse { .. }))
            .map(|(from, _, _)| from)
            .collect();
    assert_eq!(refused_by, vec![CoreId(2), CoreId(1)]);
    let all = CoreSet::EMPTY.with(CoreId(1)).with(CoreId(2));
    assert_eq!(
        net.completions,
        vec![(CoreId(0), Completion { token: 1, result: Err(TransferError::AllRefused { asked: all }) })]
    );
    assert!(net.replicas.iter().all(MemoryReplica::is_settled));

    // Within reach of the second core asked: served there.
    net.request(0, 2 * MIB, 2);
    net.replicas[2].allocate(2 * MIB).unwrap();
    net.deliver_all();
    assert_eq!(net.completions[1], (CoreId(0), Completion { token: 2, result: Ok(vec![mib(4, 2)]) }));
}

#[test]
fn a_request_for_nothing_or_with_no_one_to_ask_fails_at_once() {
    let mut alone = one_core(&[mib(0, 1)]);
    let effects = alone.request(MIB, 5);
    assert!(effects.messages.is_empty());
    assert_eq!(
        effects.completions,
        vec![Completion { token: 5, result: Err(TransferError::AllRefused { asked: CoreSet::EMPTY }) }]
    );
    let effects = alone.request(0, 6);
    assert_eq!(effects.completions, vec![Completion { token: 6, result: Err(TransferError::ZeroBytes) }]);
    assert!(alone.is_settled());
}

#[test]
fn transferred_memory_is_usable_only_after_the_grant() {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 2)], &[(8, 1)]]);
    net.replicas[0].allocate(MIB).unwrap();
    net.request(0, MIB, 1);
    let step = |net: &mut Net| {
        let (from, to, body) = net.deliver_one();
        (from.0, to.0, core::mem::discriminant(&body))
    };
    let request = core::mem::discriminant(&Body::Request { request: 1, bytes: 1 });
    assert_eq!(step(&mut net), (0, 1, request));
    // The donor has given the region up at once: it cannot hand it out any more.
    assert_eq!(net.replicas[1].free_bytes(), MIB);
    assert_eq!(net.replicas[1].owner_of(BASE + 4 * MIB), Some(CoreId(0)));
    // Transfer to core 0: owned, but not usable yet.
    let transfer = core::mem::discriminant(&Body::Transfer {
        seq: 1,
        recipient: CoreId(0),
        request: 1,
        extents: vec![],
    });
    assert_eq!(step(&mut net), (1, 0, transfer));
    assert_eq!(net.replicas[0].owner_of(BASE + 4 * MIB), Some(CoreId(0)));
    assert_eq!(net.replicas[0].free_bytes(), 0);
    assert_eq!(net.replicas[0].allocate(1), None);
    assert!(net.replicas[0].free(mib(4, 1)).is_err());
    // Core 2 has not applied it: the donor must not grant yet.
    assert_eq!(step(&mut net), (1, 2, transfer));
    let ack = core::mem::discriminant(&Body::Ack { seq: 1 });
    assert_eq!(step(&mut net), (0, 1, ack));
    assert!(net.in_flight.iter().all(|(_, _, msg)| !matches!(msg.body, Body::Granted { .. })));
    assert_eq!(step(&mut net), (2, 1, ack));
    let granted = core::mem::discriminant(&Body::Granted { seq: 1, request: 1 });
    assert_eq!(step(&mut net), (1, 0, granted));
    assert_eq!(net.replicas[0].allocate(1), Some(mib(4, 1)));
}

/// A booted 3-core system where core 1 has served core 0's request for 1 MiB as far as
/// sending the transfer: it waits for acknowledgements, and core 0 for the transfer.
fn transfer_in_flight() -> (Net, Msg) {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 2)], &[(8, 2)]]);
    net.request(0, MIB, 1);
    net.deliver_one();
    let (_, _, transfer) = net.in_flight.front().cloned().unwrap();
    (net, transfer)
}

fn transfer(seq: u64, recipient: u8, request: u64, extents: Vec<Extent>) -> Msg {
    Msg { sender_free_bytes: 0, body: Body::Transfer { seq, recipient: CoreId(recipient), request, extents } }
}

#[test]
fn messages_about_unknown_transfers_or_others_memory_are_rejected_and_change_nothing() {
    let (net, good_transfer) = transfer_in_flight();
    let msg = |body| Msg { sender_free_bytes: 0, body };
    // (receiving core, sending core, message, error)
    let cases = [
        (0, 0, msg(Body::Ack { seq: 1 }), MemoryError::BadCore),
        (0, 3, msg(Body::Ack { seq: 1 }), MemoryError::BadCore),
        (1, 0, msg(Body::Ack { seq: 0 }), MemoryError::Malformed),
        // An acknowledgement for a transfer never made, or from a core not asked.
        (1, 0, msg(Body::Ack { seq: 2 }), MemoryError::UnknownTransfer),
        (2, 0, msg(Body::Ack { seq: 1 }), MemoryError::UnknownTransfer),
        // Transfers out of turn, to the donor itself or to no core.
        (2, 1, transfer(2, 0, 1, vec![mib(4, 1)]), MemoryError::UnknownTransfer),
        (2, 1, transfer(1, 1, 1, vec![mib(4, 1)]), MemoryError::BadCore),
        (2, 1, transfer(1, 9, 1, vec![mib(4, 1)]), MemoryError::BadCore),
        // Memory the sender does not own, or not in whole regions.
        (2, 1, transfer(1, 0, 1, vec![mib(8, 1)]), MemoryError::NotOwned),
        (2, 1, transfer(1, 0, 1, vec![mib(0, 1)]), MemoryError::NotOwned),
        (2, 1, transfer(1, 0, 1, vec![mib(4, 1), mib(8, 1)]), MemoryError::NotOwned),
        (
            2,
            1,
            transfer(1, 0, 1, vec![Extent { base: BASE + 4 * MIB, size_bytes: PAGE_BYTES }]),
            MemoryError::NotWholeRegions,
        ),
        (2, 1, transfer(1, 0, 1, vec![mib(4, 3)]), MemoryError::NotWholeRegions),
        // A transfer, refusal or grant for a request core 0 never made of that core.
        (0, 1, transfer(1, 0, 2, vec![mib(4, 1)]), MemoryError::UnknownRequest),
        (0, 2, transfer(1, 0, 1, vec![mib(8, 1)]), MemoryError::UnknownRequest),
        (0, 1, msg(Body::Refuse { request: 2 }), MemoryError::UnknownRequest),
        (0, 2, msg(Body::Refuse { request: 1 }), MemoryError::UnknownRequest),
        (0, 1, msg(Body::Granted { seq: 1, request: 2 }), MemoryError::UnknownRequest),
        // A grant before the transfer it grants.
        (0, 1, msg(Body::Granted { seq: 1, request: 1 }), MemoryError::UnknownTransfer),
    ];
    for (to, from, msg, error) in cases {
        let mut replica = net.replicas[to].clone();
        assert_eq!(replica.receive(CoreId(from), &msg), Err(error), "core {to} from core {from}: {msg:?}");
        assert_eq!(replica, net.replicas[to], "core {to} changed by a rejected {msg:?}");
    }
    // And the real transfer is still accepted where it is due.
    assert!(net.replicas[2].clone().receive(CoreId(1), &good_transfer).is_ok());
}

#[test]
fn a_repeated_transfer_or_acknowledgement_is_rejected() {
    let (mut net, transfer) = transfer_in_flight();
    net.deliver_all();
    let mut core_2 = net.replicas[2].clone();
    assert_eq!(core_2.receive(CoreId(1), &transfer), Err(MemoryError::UnknownTransfer));
    let ack = Msg { sender_free_bytes: 0, body: Body::Ack { seq: 1 } };
    assert_eq!(net.replicas[1].receive(CoreId(2), &ack), Err(MemoryError::UnknownTransfer));
}

#[test]
fn a_core_may_pass_on_memory_it_was_granted() {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 2)], &[(8, 1)]]);
    net.request(0, 2 * MIB, 1);
    net.deliver_all();
    net.replicas[2].allocate(MIB).unwrap();
    net.request(2, 2 * MIB, 2);
    net.deliver_all();
    let (_, last) = net.completions.last().unwrap();
    assert_eq!(last.result, Ok(vec![mib(4, 2)]), "core 0 gives on what core 1 gave it");
    assert!(net.replicas.iter().all(|r| r.owner_of(BASE + 4 * MIB) == Some(CoreId(2))));
    assert!(net.digests().windows(2).all(|pair| pair[0] == pair[1]));
}

#[test]
fn several_requests_of_one_core_may_be_outstanding() {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 3)], &[(8, 2)]]);
    net.request(0, MIB, 1);
    net.request(0, MIB, 2);
    net.deliver_all();
    let mut tokens: Vec<u64> = net.completions.iter().map(|(_, c)| c.token).collect();
    tokens.sort();
    assert_eq!(tokens, vec![1, 2]);
    assert!(net.completions.iter().all(|(_, c)| c.result.is_ok()));
    assert_eq!(net.replicas[0].free_bytes(), 3 * MIB);
}

#[test]
fn a_donor_uses_several_runs_when_no_single_run_is_long_enough() {
    let mut net = Net::booted(&[&[(0, 1)], &[(4, 2), (8, 2)]]);
    net.request(0, 3 * MIB, 1);
    net.deliver_all();
    let (_, completion) = &net.completions[0];
    assert_eq!(completion.result, Ok(vec![mib(4, 2), mib(8, 1)]));
}

#[test]
fn digests_differ_when_one_replica_disagrees() {
    let net = Net::booted(&[&[(0, 2)], &[(4, 2)]]);
    let agreed = net.replicas[0].digest();
    assert_eq!(net.replicas[1].digest(), agreed);
    let mut other_owner = net.replicas[1].clone();
    other_owner.map.assign(0..1, CoreId(1), RegionState::Remote);
    assert_ne!(other_owner.digest(), agreed);
    let mut other_count = net.replicas[1].clone();
    other_count.transfers_applied[1] += 1;
    assert_ne!(other_count.digest(), agreed);
    // What each core does with its own regions is not replicated, and not digested.
    let mut allocated = net.replicas[0].clone();
    allocated.allocate(MIB).unwrap();
    assert_eq!(allocated.digest(), agreed);
}
