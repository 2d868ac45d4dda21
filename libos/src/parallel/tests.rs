//! Whole teams on host threads: the protocol of both variants, checked for every team size.

use super::*;
use std::thread::JoinHandle;

/// A team of `members` on threads, and the threads (to check they end with the team).
fn team(members: usize) -> (Team, Vec<JoinHandle<()>>) {
    let mut threads = Vec::new();
    let team = Team::new(members - 1, |worker| {
        threads.push(std::thread::spawn(move || worker.serve()));
        Ok::<(), ()>(())
    })
    .unwrap();
    (team, threads)
}

const VARIANTS: [Variant; 2] = [Variant::Message, Variant::Shared];

/// A team whose workers have beds: on the host a bed's sleep only yields, so this checks
/// the offer, the bells and the waking, not the blocking.
fn team_with_beds(members: usize) -> (Team, Vec<JoinHandle<()>>) {
    let mut threads = Vec::new();
    let mut team = Team::new(members - 1, |mut worker| {
        worker.offer_bed(Some(pause::Bed));
        threads.push(std::thread::spawn(move || worker.serve()));
        Ok::<(), ()>(())
    })
    .unwrap();
    let mut offered = Vec::new();
    team.ring_beds(|index, _| {
        offered.push(index);
        Some(pause::Bell)
    });
    assert_eq!(offered, (1..members).collect::<Vec<_>>());
    (team, threads)
}

#[test]
fn workers_idle_in_their_beds_take_every_job_and_end_with_the_team() {
    let (mut team, threads) = team_with_beds(3);
    for round in 0..4u64 {
        for variant in VARIANTS {
            // Long enough apart that the workers go to bed between runs.
            for _ in 0..2 * pause::BED_LOOKS {
                std::thread::yield_now();
            }
            let results = team.run(3, variant, index_times_arg, &[round]);
            assert_eq!(results, [3, round + 3, 2 * round + 3], "{variant:?}, round {round}");
        }
    }
    drop(team);
    for thread in threads {
        thread.join().expect("a worker in bed ends when its team does");
    }
}

#[test]
fn a_worker_without_a_bed_gets_no_bell() {
    let mut team = Team::new(1, |mut worker| {
        worker.offer_bed(None);
        std::thread::spawn(move || worker.serve());
        Ok::<(), ()>(())
    })
    .unwrap();
    team.ring_beds(|_, _| panic!("no bell for a worker without a bed"));
    assert_eq!(team.run(2, Variant::Message, index_times_arg, &[5]), [2, 7]);
}

fn index_times_arg(member: &mut Member<'_>, args: &[u64]) -> u64 {
    member.index() as u64 * args[0] + member.size() as u64
}

#[test]
fn a_run_returns_every_members_result_in_order_and_idle_members_stay_out() {
    let (mut team, threads) = team(4);
    assert_eq!(team.members(), 4);
    for variant in VARIANTS {
        for size in 1..=4 {
            let results = team.run(size, variant, index_times_arg, &[10]);
            let expected: Vec<u64> = (0..size as u64).map(|i| i * 10 + size as u64).collect();
            assert_eq!(results, expected, "{variant:?}, {size} members");
        }
    }
    drop(team);
    for thread in threads {
        thread.join().expect("a worker ends when its team does");
    }
}

fn reductions(member: &mut Member<'_>, _: &[u64]) -> u64 {
    let me = member.index() as u64 + 1;
    let sum = member.all_reduce(me, Reduce::Sum);
    let max = member.all_reduce(me * 7, Reduce::Max);
    member.barrier();
    let min = member.all_reduce(me + 100, Reduce::Min);
    let mut vector = [me, 2 * me, 1];
    member.all_reduce_vec(&mut vector, Reduce::Sum);
    // Every member must see the same values: fold them into one word to compare.
    sum ^ max << 8 ^ min << 16 ^ vector[0] << 24 ^ vector[1] << 32 ^ vector[2] << 48
}

#[test]
fn reductions_give_every_member_the_same_combined_value() {
    let (mut team, _threads) = team(4);
    for variant in VARIANTS {
        for size in 1..=4u64 {
            let results = team.run(size as usize, variant, reductions, &[]);
            let sum = size * (size + 1) / 2;
            let expected = sum ^ (size * 7) << 8 ^ 101 << 16 ^ sum << 24 ^ (2 * sum) << 32 ^ size << 48;
            assert!(results.iter().all(|&r| r == expected), "{variant:?}, {size} members: {results:?}");
        }
    }
}

/// Each member scans a vector of `args[0]` words, `[index + 1; len]` with position added,
/// and checks the prefix and totals itself; returns 1 if all was right.
fn scan_check(member: &mut Member<'_>, args: &[u64]) -> u64 {
    let len = args[0] as usize;
    let mine = |m: u64, i: usize| (m + 1) * 1000 + i as u64;
    let mut values: Vec<u64> = (0..len).map(|i| mine(member.index() as u64, i)).collect();
    let mut totals = vec![0; len];
    member.scan(&mut values, &mut totals);
    let before = |upto: usize, i: usize| (0..upto as u64).map(|m| mine(m, i)).sum::<u64>();
    let right =
        (0..len).all(|i| values[i] == before(member.index(), i) && totals[i] == before(member.size(), i));
    u64::from(right)
}

#[test]
fn a_scan_gives_each_member_the_sum_before_it_and_the_total() {
    let (mut team, _threads) = team(3);
    for variant in VARIANTS {
        for size in 1..=3 {
            // One word, a slot's worth, and the longest vector, which streams through the
            // ring in fragments.
            for len in [1, 7, MAX_VECTOR] {
                let results = team.run(size, variant, scan_check, &[len as u64]);
                assert_eq!(results, vec![1; size], "{variant:?}, {size} members, {len} words");
            }
        }
    }
}

/// Members 1.. send `args[0]` numbered messages to member 0, which sums them as they come
/// from whoever sends, and answers each worker with its own count at the end.
fn messages_to_the_coordinator(member: &mut Member<'_>, args: &[u64]) -> u64 {
    let count = args[0];
    if member.index() == 0 {
        let workers = member.size() - 1;
        let mut heard = vec![0u64; workers + 1];
        let mut sum = 0;
        while heard.iter().sum::<u64>() < count * workers as u64 {
            let mut any = false;
            for (from, heard_from) in heard.iter_mut().enumerate().skip(1) {
                let mut words = [0; 2];
                if member.try_receive(from, &mut words) == Some(2) {
                    assert_eq!(words[0], from as u64);
                    assert_eq!(words[1], *heard_from, "messages arrive in order");
                    *heard_from += 1;
                    sum += words[1];
                    any = true;
                }
            }
            if !any {
                member.pause();
            }
        }
        for (to, &n) in heard.iter().enumerate().skip(1) {
            member.send(to, &[n]);
        }
        sum
    } else {
        for n in 0..count {
            member.send(0, &[member.index() as u64, n]);
        }
        let mut answer = [0];
        assert_eq!(member.receive(0, &mut answer), 1);
        answer[0]
    }
}

#[test]
fn members_exchange_plain_messages_in_order() {
    let (mut team, _threads) = team(4);
    let results = team.run(4, Variant::Message, messages_to_the_coordinator, &[500]);
    assert_eq!(results, [3 * (499 * 500 / 2), 500, 500, 500]);
}

/// Each member adds to a shared counter between barriers and checks that, after each
/// barrier, it sees every member's additions of the round.
fn barrier_rounds(member: &mut Member<'_>, args: &[u64]) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let rounds = args[0];
    let size = member.size() as u64;
    if member.index() == 0 {
        COUNTER.store(0, Ordering::Relaxed);
    }
    member.barrier();
    for round in 1..=rounds {
        COUNTER.fetch_add(1, Ordering::Relaxed);
        member.barrier();
        assert_eq!(COUNTER.load(Ordering::Relaxed), round * size, "round {round}");
        member.barrier();
    }
    1
}

#[test]
fn barriers_hold_every_member_until_all_arrive_in_both_variants() {
    let (mut team, _threads) = team(4);
    for variant in VARIANTS {
        assert_eq!(team.run(4, variant, barrier_rounds, &[200]), [1, 1, 1, 1], "{variant:?}");
    }
}
