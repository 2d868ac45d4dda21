//! The system suite: what the monitors do together, checked from a program on the boot
//! core that asks its monitor (`libos::monitor`). Run with `flotilla.init=testsuite`: the
//! boot core's monitor starts the suite in place of init, once every core's monitor has
//! joined the mesh.
//!
//! The rules pinned down: every monitor answers over its channel; streams of messages of
//! every size arrive whole, once and in order; the replicas of memory ownership agree after
//! boot and after every change; RAM from the monitor is real RAM and comes back; a core
//! that runs out of its own RAM gets regions from the others, and every replica learns it;
//! bad requests are refused with a reason and change nothing.

use crate::framework::{expect_eq, expect_err, expect_ok, expect_that, Env, Outcome};
use libos::abi::cap::{CapType, PAGE_SIZE};
use libos::cap::RamCap;
use libos::monitor::{self, status};
use libos::Error;

/// The member cores other than this one (core 0).
fn peers() -> Result<impl Iterator<Item = u64>, crate::failure::Failure> {
    let (members, _) = expect_ok(monitor::check())?;
    Ok((1..64).filter(move |c| members & (1 << c) != 0))
}

pub fn the_monitor_of_every_core_answers_pings(env: &Env) -> Outcome {
    // The first request makes the endpoint libos keeps for the monitor's replies, for good.
    env.grows_the_heap();
    let mut answered = 0;
    for core in peers()? {
        let ticks = expect_ok(monitor::ping(core, 50))?;
        expect_that(ticks > 0, format_args!("50 round trips to core {core} took {ticks} ticks"))?;
        answered += 1;
    }
    expect_that(answered > 0, format_args!("no other core's monitor is a member"))
}

pub fn pings_to_a_core_that_is_not_a_member_are_refused(_: &Env) -> Outcome {
    for core in [0, 64, 1000, u64::MAX] {
        expect_err(monitor::ping(core, 1), Error::Monitor(status::BAD_CORE))?;
    }
    Ok(())
}

pub fn streams_of_every_size_arrive_whole_once_and_in_order(_: &Env) -> Outcome {
    for core in peers()? {
        // One slot, exactly seven payload words, a fragment more, many fragments.
        for words in [3, 7, 8, 40, 300, 1024] {
            let messages = 200;
            let received = expect_ok(monitor::stream(core, messages, words))?.intact;
            expect_that(
                received == messages,
                format_args!("core {core} got {received} of {messages} messages of {words} words intact"),
            )?;
        }
    }
    Ok(())
}

pub fn every_replica_agrees_after_boot(_: &Env) -> Outcome {
    let (members, divergent) = expect_ok(monitor::check())?;
    expect_that(members.count_ones() >= 2, format_args!("members {members:#b}"))?;
    expect_eq(divergent, 0)
}

pub fn ram_from_the_monitor_can_be_used_and_given_back(_: &Env) -> Outcome {
    let (_, free_before) = expect_ok(monitor::mem_info(0))?;
    let (ram, base, size) = expect_ok(monitor::ram_alloc(1 << 20))?;
    expect_that(
        size >= 1 << 20 && base.is_multiple_of(PAGE_SIZE),
        format_args!("{size} bytes at {base:#x}"),
    )?;
    let info = expect_ok(ram.0.identify())?;
    expect_eq((info.ty, info.base, info.size), (CapType::Ram, base, size))?;
    let frame = expect_ok(libos::cspace::alloc_slot())?;
    expect_ok(ram.0.retype(CapType::Frame, PAGE_SIZE, 0, 1, frame))?;
    // Giving it back destroys what was made of it: the frame is gone too.
    expect_ok(monitor::ram_free(ram, base))?;
    let gone = frame.identify().map(|i| i.ty);
    libos::cspace::free_slot(frame);
    expect_err(gone, Error::Sys(libos::abi::SysError::SlotEmpty))?;
    let (_, free_after) = expect_ok(monitor::mem_info(0))?;
    expect_eq(free_after, free_before)?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

pub fn a_core_out_of_ram_gets_regions_from_other_cores(_: &Env) -> Outcome {
    const CHUNK: u64 = 16 << 20;
    let (owned_before, free_before) = expect_ok(monitor::mem_info(0))?;
    let mut taken: [Option<(RamCap, u64)>; 64] = [None; 64];
    let mut total = 0;
    let mut outcome = Ok(());
    // More than core 0 has: the rest must come from other cores.
    for entry in taken.iter_mut() {
        if total > free_before + 2 * CHUNK {
            break;
        }
        match monitor::ram_alloc(CHUNK) {
            Ok((ram, base, size)) => {
                *entry = Some((ram, base));
                total += size;
            }
            Err(e) => {
                outcome = Err(crate::framework::failure_at(format_args!("after {total} bytes: {e}")));
                break;
            }
        }
    }
    let (owned_during, _) = expect_ok(monitor::mem_info(0))?;
    let agreed = expect_ok(monitor::check())?.1;
    for (ram, base) in taken.iter().flatten() {
        expect_ok(monitor::ram_free(*ram, *base))?;
    }
    outcome?;
    expect_that(
        owned_during > owned_before,
        format_args!("core 0 owned {owned_before} bytes before and {owned_during} after taking {total}"),
    )?;
    expect_eq(agreed, 0)?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

pub fn bad_requests_to_the_monitor_are_refused_and_change_nothing(_: &Env) -> Outcome {
    let digest_before = expect_ok(monitor::check())?;
    expect_err(
        monitor::call([monitor::op::RAM_ALLOC, 0, 0, 0]).map(drop),
        Error::Monitor(status::BAD_REQUEST),
    )?;
    expect_err(
        monitor::call([monitor::op::RAM_FREE, 0x1000, 0, 0]).map(drop),
        Error::Monitor(status::BAD_REQUEST),
    )?;
    expect_err(monitor::call([999, 1, 2, 3]).map(drop), Error::Monitor(status::BAD_REQUEST))?;
    expect_err(monitor::mem_info(64), Error::Monitor(status::BAD_CORE))?;
    expect_eq(expect_ok(monitor::check())?, digest_before)
}
