//! A compute-bound kernel on 1..N cores with the parallel runtime: integer sort, after the
//! NAS Parallel Benchmarks' IS kernel, which the multikernel paper also ran.
//!
//! [`KEYS`] keys in `0..KEY_VALUES`, from a fixed pseudo-random sequence, are ranked: each
//! key's position in the stably sorted order. Each member of a [`Team`] run takes an
//! equal share of the keys ([`libos::parallel::share`]) and
//!
//! 1. counts its keys of each value (a histogram);
//! 2. takes part in a scan of the histograms ([`Member::scan`]): it learns how many keys of
//!    each value the members before it hold, and how many there are in all;
//! 3. ranks its keys from that: the keys of smaller values come first, then the keys of
//!    the same value held by members before it, then its own in order;
//! 4. sums a checksum of the ranks (rank × a hash of the key's index) and reduces it over
//!    the members ([`Member::all_reduce`]).
//!
//! The figure is the whole run as the coordinator sees it, fork and join included
//! ([`crate::parallel_run`]). The input is read-only and shared; everything else a member writes is its own, and the
//! members cooperate only through the runtime: over URPC channels in the `message`
//! variant, through shared memory and a sense-reversing barrier in the `shared` one. The
//! checksum is checked against a plain sequential counting sort (which is checked to be
//! sorted and a permutation of the keys), so every core count of either variant must give
//! the 1-core result.
//!
//! `bench: compute kernel=intsort variant=V cores=N size=KEYS repetitions=R instructions=T
//! instructions_over_one_core=T/T1` under icount, where `T1` is the same variant's 1-core
//! figure: `T` counts the instructions of every core (the cores run one after another),
//! so the result is the work of N cores together over one core's, at least 1, and shows
//! what the parallel runtime adds. In time (`--mode wallclock`, more keys, the median of
//! R runs) the result is `speedup=T1/T` instead (`docs/benchmarks.md`).

use crate::report::{expect_eq, nonzero, Failure, Report, Value};
use alloc::vec;
use alloc::vec::Vec;
use libos::parallel::{share, Member, Reduce, Team, Variant, MAX_VECTOR};

/// Keys sorted per measurement under icount, where each is counted exactly.
const KEYS: usize = 1 << 17;
/// Keys sorted per measurement in time: enough that a run lasts many times what waking
/// the workers and the host's hiccups take.
const WALLCLOCK_KEYS: usize = 1 << 20;
/// Keys are below this: one histogram fits one message.
const KEY_VALUES: usize = MAX_VECTOR;

const VARIANTS: [(&str, Variant); 2] = [("message", Variant::Message), ("shared", Variant::Shared)];

/// A well-mixed 64-bit hash of `x` (the finaliser of splitmix64).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The keys: the average of four hashes (bell-shaped, as NAS IS's keys are), in range.
fn make_keys() -> Vec<u16> {
    let keys = if crate::wallclock() { WALLCLOCK_KEYS } else { KEYS };
    (0..keys as u64)
        .map(|i| {
            let sum: u64 = (0..4).map(|j| mix(i * 4 + j) % KEY_VALUES as u64).sum();
            (sum / 4) as u16
        })
        .collect()
}

/// What a key's rank adds to the checksum.
fn checksum_term(index: usize, rank: u64) -> u64 {
    rank.wrapping_mul(mix(index as u64) | 1)
}

/// The checksum by a plain sequential counting sort, which is checked on the way.
fn reference_checksum(keys: &[u16]) -> Result<u64, Failure> {
    let mut next = vec![0u64; KEY_VALUES];
    for &key in keys {
        next[key as usize] += 1;
    }
    let mut start = 0;
    for slot in next.iter_mut() {
        (*slot, start) = (start, start + *slot);
    }
    let mut sorted = vec![u16::MAX; keys.len()];
    let mut checksum = 0u64;
    for (index, &key) in keys.iter().enumerate() {
        let rank = next[key as usize];
        next[key as usize] += 1;
        sorted[rank as usize] = key;
        checksum = checksum.wrapping_add(checksum_term(index, rank));
    }
    let in_order = sorted.windows(2).all(|pair| pair[0] <= pair[1]);
    expect_eq("the reference sort's keys in order", u64::from(in_order), 1)?;
    let sum = |keys: &[u16]| keys.iter().map(|&k| u64::from(k)).sum::<u64>();
    expect_eq("the reference sort's key sum", sum(&sorted), sum(keys))?;
    Ok(checksum)
}

/// The job: `args` = the keys' address and length.
fn rank_keys(member: &mut Member<'_>, args: &[u64]) -> u64 {
    // SAFETY: `run` passes a slice it keeps alive and unchanged until the run returns.
    let keys = unsafe { core::slice::from_raw_parts(args[0] as *const u16, args[1] as usize) };
    let mine = share(keys.len(), member.size(), member.index());
    let mut counts = vec![0u64; KEY_VALUES];
    for &key in &keys[mine.clone()] {
        counts[key as usize] += 1;
    }
    let mut totals = vec![0u64; KEY_VALUES];
    member.scan(&mut counts, &mut totals);
    // The first rank of this member's keys of each value: every smaller key, then the
    // keys of that value the members before this one hold.
    let mut smaller = 0;
    for (next, total) in counts.iter_mut().zip(&totals) {
        *next += smaller;
        smaller += total;
    }
    let mut checksum = 0u64;
    for index in mine {
        let key = keys[index] as usize;
        checksum = checksum.wrapping_add(checksum_term(index, counts[key]));
        counts[key] += 1;
    }
    member.all_reduce(checksum, Reduce::Sum)
}

pub fn run(report: &mut Report, cores: u64) {
    let keys = make_keys();
    let expected = match reference_checksum(&keys) {
        Ok(checksum) => checksum,
        Err(failure) => return report.error("compute", &failure),
    };
    let mut team = match Team::span(cores as usize) {
        Ok(team) => team,
        Err(e) => return report.error("compute", &crate::report::call("spanning the team")(e)),
    };
    for (name, variant) in VARIANTS {
        let mut one_core = 0;
        for members in 1..=cores as usize {
            let outcome = measure(report, &mut team, &keys, expected, name, variant, members, &mut one_core);
            report.outcome(&alloc::format!("compute variant={name} cores={members}"), outcome);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn measure(
    report: &mut Report,
    team: &mut Team,
    keys: &[u16],
    expected: u64,
    name: &'static str,
    variant: Variant,
    members: usize,
    one_core: &mut u64,
) -> Result<(), Failure> {
    let args = [keys.as_ptr() as u64, keys.len() as u64];
    let (ticks, results) = crate::parallel_run(team, members, variant, rank_keys, &args);
    for (member, &checksum) in results.iter().enumerate() {
        expect_eq(&alloc::format!("member {member}'s checksum of the ranks"), checksum, expected)?;
    }
    let ticks = nonzero("the instructions measured", ticks)?;
    if members == 1 {
        *one_core = ticks;
    }
    nonzero("the 1-core figure", *one_core)?;
    // In time, the 1-core run over this one is a speedup; in instructions (all cores'),
    // this run over the 1-core one is the work the N cores did together, relative.
    let result = if crate::wallclock() {
        ("speedup", Value::ratio(*one_core, ticks))
    } else {
        ("instructions_over_one_core", Value::ratio(ticks, *one_core))
    };
    report.result(
        "compute",
        &[
            ("kernel", Value::Word("intsort")),
            ("variant", Value::Word(name)),
            ("cores", Value::Count(members as u64)),
            ("size", Value::Count(keys.len() as u64)),
            ("repetitions", Value::Count(crate::repetitions() as u64)),
            ("instructions", Value::Count(ticks)),
            result,
        ],
    );
    Ok(())
}
