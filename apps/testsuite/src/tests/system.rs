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
pub(crate) fn peers() -> Result<impl Iterator<Item = u64>, crate::failure::Failure> {
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

pub fn a_program_out_of_its_own_ram_gets_more_from_its_monitor_and_gives_it_back(_: &Env) -> Outcome {
    const MIB: u64 = 1 << 20;
    let own = libos::ram::free_bytes();
    // Pieces big enough that the 64 kept here add up to more than the program's own RAM.
    let piece = (own / 48).next_multiple_of(MIB).max(MIB);
    let (_, monitor_free) = expect_ok(monitor::mem_info(0))?;
    let mut pieces: [Option<RamCap>; 64] = [None; 64];
    let mut taken = 0;
    let mut outcome = Ok(());
    // More than the program's own RAM: the allocator asks this core's monitor for the rest.
    for entry in pieces.iter_mut() {
        if taken > own + 4 * piece {
            break;
        }
        match libos::ram::alloc_ram(piece, PAGE_SIZE) {
            Ok(ram) => {
                *entry = Some(ram);
                taken += piece;
            }
            Err(e) => {
                outcome = Err(crate::framework::failure_at(format_args!("after {taken} bytes: {e}")));
                break;
            }
        }
    }
    let (_, monitor_during) = expect_ok(monitor::mem_info(0))?;
    for ram in pieces.iter().flatten() {
        expect_ok(libos::ram::free_ram(*ram))?;
    }
    outcome?;
    expect_that(taken > own, format_args!("took {taken} bytes with {own} of its own"))?;
    expect_that(
        monitor_during + (taken - own) <= monitor_free,
        format_args!("the monitor had {monitor_free} bytes free before and {monitor_during} during"),
    )?;
    // Every piece back: the pools from the monitor went back to it, whole.
    expect_eq(libos::ram::free_bytes(), own)?;
    expect_eq(expect_ok(monitor::mem_info(0))?.1, monitor_free)?;
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

/// The number of boot module `name` in the archive.
pub(crate) fn module_number(name: &str) -> Result<u64, crate::failure::Failure> {
    (0..64)
        .find(|&i| libos::spawn::module_name(i) == Some(name))
        .map(|i| i as u64)
        .ok_or_else(|| crate::framework::failure_at(format_args!("no boot module {name}")))
}

/// Every core the monitors list `domain` on (0 once it is gone).
fn cores_of(domain: u64) -> Result<u64, crate::failure::Failure> {
    let mut index = 0;
    while let Some((listed, cores, _)) = expect_ok(monitor::list(index))? {
        if listed == domain {
            return Ok(cores);
        }
        index += 1;
    }
    Ok(0)
}

/// Waits (yielding) until `holds`, for at most about `rounds` looks.
pub(crate) fn eventually(
    rounds: u32,
    mut holds: impl FnMut() -> Result<bool, crate::failure::Failure>,
) -> Outcome {
    for _ in 0..rounds {
        if holds()? {
            return Ok(());
        }
        for _ in 0..20 {
            libos::syscall::yield_now();
        }
    }
    Err(crate::framework::failure_at(format_args!("gave up waiting")))
}

pub fn a_program_can_be_started_on_every_core_and_ends_there(_: &Env) -> Outcome {
    let hello = module_number("hello")?;
    for core in peers()? {
        let domain = expect_ok(monitor::spawn(core, hello, 700 + core))?;
        expect_eq(domain >> 56, core)?;
        // hello says its piece and exits; its monitor reclaims it and drops it from the list.
        eventually(2000, || Ok(cores_of(domain)? == 0))?;
    }
    expect_err(monitor::spawn(64, hello, 0), Error::Monitor(status::BAD_CORE))?;
    expect_err(monitor::spawn(1, 999, 0), Error::Monitor(status::NOT_FOUND))?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

/// What the dispatchers of `spanned_dispatchers_share_memory_with_the_first_one` share.
static SHARED_COUNT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
static SPANS_DONE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
const INCREMENTS: u64 = 10_000;

fn count_up(_: u64) {
    use core::sync::atomic::Ordering::SeqCst;
    for _ in 0..INCREMENTS {
        SHARED_COUNT.fetch_add(1, SeqCst);
    }
    SPANS_DONE.fetch_add(1, SeqCst);
}

pub fn spanned_dispatchers_share_memory_with_the_first_one(env: &Env) -> Outcome {
    use core::sync::atomic::Ordering::SeqCst;
    // Stacks for spanned dispatchers are mapped for good.
    env.grows_the_heap();
    SHARED_COUNT.store(0, SeqCst);
    SPANS_DONE.store(0, SeqCst);
    let mut spans = 0;
    let mut domain = 0;
    for core in peers()? {
        let spanned = expect_ok(libos::span::span(core, count_up, 0, 16 << 10))?;
        domain = spanned.domain;
        spans += 1;
    }
    count_up(0);
    eventually(5000, || Ok(SPANS_DONE.load(SeqCst) == spans + 1))?;
    expect_eq(SHARED_COUNT.load(SeqCst), INCREMENTS * (spans + 1))?;
    // Each ended when its function returned; the home monitor hears of it.
    eventually(2000, || Ok(cores_of(domain)? & !1 == 0))?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

/// Set by the reader once it has used the page, and if it could read the page after the
/// unmap (which must not happen).
static READER_READY: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
static READER_GO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
static READ_AFTER_UNMAP: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Reads the page at `address` until told to go, then once more: after the shootdown that
/// read must fault (and end this dispatcher) rather than see the page.
fn read_until_go(address: u64) {
    use core::sync::atomic::Ordering::SeqCst;
    let page = address as *const u64;
    loop {
        // SAFETY: the page is mapped until the test unmaps it, which it does only after
        // READER_READY, and after that the read faults (what the test checks).
        let value = unsafe { core::ptr::read_volatile(page) };
        READER_READY.store(value, SeqCst);
        if READER_GO.load(SeqCst) != 0 {
            break;
        }
        libos::syscall::yield_now();
    }
    // SAFETY: see above; this read must fault.
    let value = unsafe { core::ptr::read_volatile(page) };
    READ_AFTER_UNMAP.store(value | 1, SeqCst);
}

pub fn after_an_unmap_with_shootdown_other_cores_fault_on_the_page(env: &Env) -> Outcome {
    use core::sync::atomic::Ordering::SeqCst;
    use libos::abi::cap::Rights;
    env.grows_the_heap();
    let Some(core) = peers()?.last() else { return Ok(()) };
    let rw = Rights::READ.union(Rights::WRITE);
    let mapping = expect_ok(libos::paging::with_current(|v| v.map_anonymous(PAGE_SIZE, PAGE_SIZE, rw)))?;
    let va = mapping.va();
    // SAFETY: the page was just mapped writable.
    unsafe { core::ptr::write_volatile(va as *mut u64, 0x5eed) };
    READER_READY.store(0, SeqCst);
    READER_GO.store(0, SeqCst);
    READ_AFTER_UNMAP.store(0, SeqCst);
    let spanned = expect_ok(libos::span::span(core, read_until_go, va, 16 << 10))?;
    // The reader has the page's translation cached once it has read it.
    eventually(5000, || Ok(READER_READY.load(SeqCst) == 0x5eed))?;
    expect_ok(libos::paging::with_current(|v| v.unmap(mapping)))?;
    let cores = expect_ok(libos::span::shootdown(va, 1))?;
    expect_that(cores & (1 << core) != 0, format_args!("shootdown reached cores {cores:#b}"))?;
    READER_GO.store(1, SeqCst);
    // The reader faults on its next read, and its monitor ends it.
    eventually(5000, || Ok(cores_of(spanned.domain)? & (1 << core) == 0))?;
    expect_eq(READ_AFTER_UNMAP.load(SeqCst), 0)
}

pub fn killing_a_domain_ends_it_on_every_core(_: &Env) -> Outcome {
    let (members, _) = expect_ok(monitor::check())?;
    let cores = 64 - u64::from(members.leading_zeros());
    let Some(home) = peers()?.next() else { return Ok(()) };
    let suite = module_number("testsuite")?;
    let param = (cores as u32) | (home as u32) << 8;
    let domain = expect_ok(monitor::spawn(home, suite, crate::child::Role::SpanEverywhere.arg(param)))?;
    // It spans every core, its first dispatcher on `home`.
    eventually(5000, || Ok(cores_of(domain)? == members))?;
    expect_ok(monitor::kill(domain))?;
    eventually(2000, || Ok(cores_of(domain)? == 0))?;
    expect_err(monitor::kill(domain), Error::Monitor(status::NOT_FOUND))?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}
