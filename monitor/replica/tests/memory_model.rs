//! The memory replicas as the monitors use them: only the public API, and every message
//! carried as words, encoded by the sender and decoded by the receiver, as on a channel.

use std::collections::VecDeque;

use replica::memory::{Completion, Effects, Extent, MemoryReplica, Msg};
use replica::CoreId;

const MIB: u64 = 1 << 20;
const REGION_BYTES: u64 = 2 * MIB;

/// What the monitors do with the replica's effects: send the words, remember completions.
struct Monitors {
    replicas: Vec<MemoryReplica>,
    wire: VecDeque<(CoreId, CoreId, Vec<u64>)>,
    completions: Vec<(CoreId, Completion)>,
}

impl Monitors {
    fn post(&mut self, core: CoreId, effects: Effects) {
        for (to, msg) in effects.messages {
            let mut words = Vec::new();
            msg.encode(&mut words);
            self.wire.push_back((core, to, words));
        }
        self.completions.extend(effects.completions.into_iter().map(|c| (core, c)));
    }

    fn run(&mut self) {
        while let Some((from, to, words)) = self.wire.pop_front() {
            let msg = Msg::decode(&words).expect("a peer's message decodes");
            let effects = self.replicas[usize::from(to.0)].receive(from, &msg).expect("and is accepted");
            self.post(to, effects);
        }
    }
}

#[test]
fn monitors_boot_allocate_and_move_memory_through_encoded_messages() {
    // Four cores with about 200 MiB each, ranges that are not whole 2 MiB regions.
    let shares: Vec<Extent> = (0..4)
        .map(|core| Extent { base: 0x4000_0000 + core * 256 * MIB, size_bytes: 200 * MIB + 12 * 1024 })
        .collect();
    let mut monitors = Monitors {
        replicas: (0..4).map(|core| MemoryReplica::new(CoreId(core), 4, REGION_BYTES)).collect(),
        wire: VecDeque::new(),
        completions: Vec::new(),
    };
    for core in 0..4u8 {
        let share = shares[usize::from(core)];
        let effects = monitors.replicas[usize::from(core)].announce(&[share]).expect("boot memory is valid");
        monitors.post(CoreId(core), effects);
    }
    monitors.run();
    assert!(monitors.replicas.iter().all(|r| r.announced().len() == 4));

    // Core 3's programs take almost all of its memory without a message to anyone...
    let core_3 = &mut monitors.replicas[3];
    let big = core_3.allocate(190 * MIB).expect("190 MiB in one run");
    assert_eq!(big.size_bytes, 190 * MIB, "whole 2 MiB regions, from the aligned start");
    assert!(core_3.allocate(16 * MIB).is_none());
    // ...so its monitor asks the others for 16 MiB.
    let effects = core_3.request(16 * MIB, 42);
    monitors.post(CoreId(3), effects);
    monitors.run();

    let (core, completion) = &monitors.completions[0];
    assert_eq!((*core, completion.token), (CoreId(3), 42));
    let granted = completion.result.clone().expect("the others have plenty");
    assert_eq!(granted.iter().map(|e| e.size_bytes).sum::<u64>(), 16 * MIB);
    for replica in &monitors.replicas {
        assert_eq!(replica.owner_of(granted[0].base), Some(CoreId(3)));
        assert_eq!(replica.digest(), monitors.replicas[0].digest());
        assert!(replica.is_settled());
    }
    // All advertised the same free bytes at boot: the lowest id was asked, and gave.
    assert!(granted.iter().all(|e| shares[0].base <= e.base && e.end() <= shares[0].end()));
    assert!(monitors.replicas[3].allocate(16 * MIB).is_some());

    // The `mem` command's view from core 1: owned bytes agree everywhere.
    let summary = monitors.replicas[1].summary();
    let owned: Vec<u64> = summary.iter().map(|s| s.owned_bytes).collect();
    let total: u64 = shares.iter().map(|s| s.size_bytes).sum();
    assert_eq!(owned.iter().sum::<u64>(), total);
    assert_eq!(owned[3], shares[3].size_bytes + 16 * MIB);
}
