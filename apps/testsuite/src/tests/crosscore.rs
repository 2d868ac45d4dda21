//! Capabilities across cores (`libos::crosscore`, `docs/capability-protocol.md`): the
//! system suite's tests of the distributed capability operations, each with a worker
//! program on every other core.
//!
//! The rules pinned down: a capability sent to another core names the same memory there;
//! when programs on every core delete their last copies at once, the memory comes back
//! exactly once; of retypes of copies on every core at once, exactly one succeeds; a revoke
//! racing copies sent meanwhile leaves no copy anywhere, not even one still in a mailbox;
//! bad requests are refused; and the replicas agree after each.
//!
//! ## The crew
//!
//! A test starts a worker ([`Role::CapWorker`]) on every other core with `monitor::spawn`,
//! and sends each two capabilities through the monitors: a frame to share, the *board*,
//! and the capability under test. The workers map the board, wait for the test's go,
//! each do their part at once, and write the outcome on the board, which the test reads.
//! The board is itself a capability sent across cores: the memory the cores share is
//! memory a capability let them share.

use crate::child::Role;
use crate::failure::Failure;
use crate::framework::{expect_eq, expect_err, expect_ok, expect_that, failure_at, Env, Outcome};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use libos::abi::cap::{CapType, Rights, PAGE_SIZE};
use libos::abi::SysError;
use libos::cap::{CapRef, FrameCap};
use libos::crosscore::{self, Mode};
use libos::monitor::{self, status};
use libos::Error;

/// The worker's parts.
mod part {
    /// Checks the capability names the memory on the board's [`super::BASE`], then deletes it.
    pub const HOLD: u32 = 1;
    /// Deletes the capability.
    pub const DELETE: u32 = 2;
    /// Retypes a page-sized frame from the capability's start.
    pub const RETYPE: u32 = 3;
    /// Sends copies of the capability to the boot core until refused, then waits for the
    /// test's revoke and checks its own copy is gone.
    pub const COPY_UNTIL_REVOKED: u32 = 4;
}

/// Board words: the go, the revoke done, the base to expect, then a word per core.
const GO: usize = 0;
const REVOKED: usize = 1;
const BASE: usize = 2;
const RESULT: usize = 8;
const COPIES: usize = RESULT + 64;
const GONE: usize = COPIES + 64;
const READY: usize = GONE + 64;
const DISMISSED: usize = 3;

/// Mailboxes: the board, the capability, then the copies a worker sends back.
const BOARD_MAILBOX: u64 = 0;
const CAP_MAILBOX: u64 = 1;
const FIRST_COPY: u64 = 2;
const MAX_COPIES: u64 = 16;

/// A worker's outcome as a board word (0: none yet).
const OUTCOME_OK: u64 = 1;

fn mailbox(batch: u64, core: u64, index: u64) -> u64 {
    0xca9 << 52 | batch << 24 | core << 16 | index
}

fn outcome_word(outcome: Result<(), Error>) -> u64 {
    match outcome {
        Ok(()) => OUTCOME_OK,
        Err(Error::Monitor(code)) => 0x100 | code,
        Err(Error::Sys(e)) => 0x200 | e.code(),
        Err(_) => 0x300,
    }
}

/// The shared board, mapped at `va`.
#[derive(Clone, Copy)]
struct Board(u64);

impl Board {
    fn word(self, index: usize) -> &'static AtomicU64 {
        // SAFETY: the board is a page mapped read-write for as long as the program uses it
        // (never unmapped), and the cores reach it only through atomics.
        unsafe { &*((self.0 as *const AtomicU64).add(index)) }
    }

    fn get(self, index: usize) -> u64 {
        self.word(index).load(Ordering::Acquire)
    }

    fn set(self, index: usize, value: u64) {
        self.word(index).store(value, Ordering::Release);
    }
}

fn map_board(frame: FrameCap) -> Result<Board, Error> {
    libos::paging::with_current(|v| {
        let va = v.alloc_region(PAGE_SIZE, PAGE_SIZE)?;
        v.map_frame(va, frame, Rights::READ.union(Rights::WRITE)).map(|()| Board(va))
    })
}

/// The worker, on another core: see [`Role::CapWorker`].
pub fn work(param: u32) -> Result<u64, Error> {
    let (part, core, batch) = (param & 0xff, u64::from(param >> 8 & 0xff), u64::from(param >> 16));
    let board = map_board(FrameCap(crosscore::receive(mailbox(batch, core, BOARD_MAILBOX))?))?;
    let cap = crosscore::receive(mailbox(batch, core, CAP_MAILBOX))?;
    board.set(READY + core as usize, 1);
    while board.get(GO) == 0 {
        libos::syscall::yield_now();
    }
    let outcome = match part {
        part::HOLD => match cap.identify() {
            Ok(info) if info.base == board.get(BASE) => crosscore::delete(cap),
            Ok(_) => Err(Error::WrongType),
            Err(e) => Err(e),
        },
        part::DELETE => crosscore::delete(cap),
        part::RETYPE => libos::cspace::alloc_slot()
            .and_then(|slot| crosscore::retype_one(cap, CapType::Frame, PAGE_SIZE, 0, slot)),
        part::COPY_UNTIL_REVOKED => {
            let mut copies = 0;
            let outcome = loop {
                if copies == MAX_COPIES {
                    break Ok(());
                }
                let to = mailbox(batch, core, FIRST_COPY + copies);
                match crosscore::send(cap, 0, to, Rights::ALL, Mode::Copy) {
                    Ok(()) => copies += 1,
                    Err(e) => break Err(e),
                }
                board.set(COPIES + core as usize, copies);
            };
            while board.get(REVOKED) == 0 {
                libos::syscall::yield_now();
            }
            let gone = cap.identify().is_err_and(|e| e == Error::Sys(SysError::SlotEmpty));
            board.set(GONE + core as usize, if gone { 1 } else { 2 });
            outcome
        }
        _ => Err(Error::WrongType),
    };
    board.set(RESULT + core as usize, outcome_word(outcome));
    // What the part made (a retyped frame) lives as long as this program: keep it until
    // the test has seen every outcome, or a retype decided later would find it gone.
    while board.get(DISMISSED) == 0 {
        libos::syscall::yield_now();
    }
    Ok(0)
}

/// The workers of one test, one on every other core.
struct Crew {
    board: Board,
    batch: u64,
    cores: Vec<u64>,
}

static NEXT_BATCH: AtomicU64 = AtomicU64::new(1);

impl Crew {
    /// Starts a worker doing `part` with a copy of `cap` on every other core.
    fn start(part: u32, cap: CapRef) -> Result<Crew, Failure> {
        Crew::start_on(part, cap, crate::tests::system::peers()?.collect(), Mode::Copy)
    }

    /// Starts a worker doing `part` on each of `cores`, sending it `cap` with `mode`.
    fn start_on(part: u32, cap: CapRef, cores: Vec<u64>, mode: Mode) -> Result<Crew, Failure> {
        let ram = expect_ok(libos::ram::alloc_ram(PAGE_SIZE, PAGE_SIZE))?;
        let frame = FrameCap(expect_ok(ram.make(CapType::Frame, PAGE_SIZE, 0))?);
        let board = expect_ok(map_board(frame))?;
        let batch = NEXT_BATCH.fetch_add(1, Ordering::Relaxed);
        let testsuite = crate::tests::system::module_number("testsuite")?;
        for &core in &cores {
            let arg = Role::CapWorker.arg(part | (core as u32) << 8 | (batch as u32) << 16);
            expect_ok(monitor::spawn(core, testsuite, arg))?;
            let rw = Rights::READ.union(Rights::WRITE);
            expect_ok(crosscore::send(frame.0, core, mailbox(batch, core, BOARD_MAILBOX), rw, Mode::Copy))?;
            expect_ok(crosscore::send(cap, core, mailbox(batch, core, CAP_MAILBOX), Rights::ALL, mode))?;
        }
        // The board's memory stays the workers' too: it is never given back.
        Ok(Crew { board, batch, cores })
    }

    /// Starts every worker at once, when all hold their capability (a revoke must not take
    /// it from a mailbox before its worker collected it).
    fn go(&self) -> Outcome {
        self.wait_ready()?;
        self.board.set(GO, 1);
        Ok(())
    }

    /// Waits until every worker holds its capability.
    fn wait_ready(&self) -> Outcome {
        crate::tests::system::eventually(20_000, || {
            Ok(self.cores.iter().all(|&c| self.board.get(READY + c as usize) != 0))
        })
    }

    /// Lets the workers end.
    fn dismiss(&self) {
        self.board.set(DISMISSED, 1);
    }
}

impl Drop for Crew {
    /// A test that fails half-way still lets its workers end.
    fn drop(&mut self) {
        self.dismiss();
    }
}

impl Crew {
    /// Waits for every worker's outcome: `(core, outcome word)`.
    fn outcomes(&self) -> Result<Vec<(u64, u64)>, Failure> {
        let done = crate::tests::system::eventually(20_000, || {
            Ok(self.cores.iter().all(|&c| self.board.get(RESULT + c as usize) != 0))
        });
        if done.is_err() {
            let silent: Vec<(u64, u64, u64)> = self
                .cores
                .iter()
                .filter(|&&c| self.board.get(RESULT + c as usize) == 0)
                .map(|&c| (c, self.board.get(COPIES + c as usize), self.board.get(GONE + c as usize)))
                .collect();
            return Err(failure_at(format_args!("no outcome from (core, copies sent, gone): {silent:?}")));
        }
        Ok(self.cores.iter().map(|&c| (c, self.board.get(RESULT + c as usize))).collect())
    }
}

/// RAM from this core's monitor for a test: `(capability, base, size)`.
fn test_ram() -> Result<(CapRef, u64, u64), Failure> {
    let (ram, base, size) = expect_ok(monitor::ram_alloc(64 << 10))?;
    Ok((ram.0, base, size))
}

/// Waits until this core's monitor keeps no record of shared capabilities, then gives the
/// RAM back and checks core 0's free memory is what it was.
fn give_back(ram: CapRef, base: u64, free_before: u64) -> Outcome {
    let settled = crate::tests::system::eventually(5000, || Ok(expect_ok(crosscore::info())?.1 == 0));
    if settled.is_err() {
        let (reclaimed, records, outstanding) = expect_ok(crosscore::info())?;
        return Err(failure_at(format_args!(
            "core 0 still keeps {records} records ({outstanding} requests waiting, {reclaimed} reclaimed)"
        )));
    }
    expect_ok(monitor::ram_free(libos::cap::RamCap(ram), base))?;
    libos::cspace::free_slot(ram);
    expect_eq(expect_ok(monitor::mem_info(0))?.1, free_before)?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

pub fn a_capability_sent_to_another_core_names_the_same_memory_there(env: &Env) -> Outcome {
    env.grows_the_heap();
    let free_before = expect_ok(monitor::mem_info(0))?.1;
    let (ram, base, _) = test_ram()?;
    let crew = Crew::start(part::HOLD, ram)?;
    crew.board.set(BASE, base);
    // Copies on every core: the owner's books list each holder, and each names the owner.
    crew.wait_ready()?;
    expect_eq(expect_ok(monitor::check())?.1, 0)?;
    expect_that(
        expect_ok(crosscore::info())?.1 >= 2,
        format_args!("core 0 keeps records of the RAM and board"),
    )?;
    crew.go()?;
    for (core, outcome) in crew.outcomes()? {
        expect_that(outcome == OUTCOME_OK, format_args!("worker on core {core}: {outcome:#x}"))?;
    }
    crew.dismiss();
    // The workers deleted their copies: only this core's is left, and RAM_FREE works again.
    give_back(ram, base, free_before)
}

pub fn concurrent_deletes_of_the_last_copies_reclaim_the_memory_exactly_once(env: &Env) -> Outcome {
    env.grows_the_heap();
    let free_before = expect_ok(monitor::mem_info(0))?.1;
    let reclaimed_before = expect_ok(crosscore::info())?.0;
    let (ram, _, _) = test_ram()?;
    let crew = Crew::start(part::DELETE, ram)?;
    crew.go()?;
    expect_ok(crosscore::delete(ram))?;
    libos::cspace::free_slot(ram);
    for (core, outcome) in crew.outcomes()? {
        expect_that(outcome == OUTCOME_OK, format_args!("worker on core {core}: {outcome:#x}"))?;
    }
    crew.dismiss();
    // Whichever core decided it was the last, the memory comes back here, once.
    crate::tests::system::eventually(5000, || Ok(expect_ok(monitor::mem_info(0))?.1 == free_before))?;
    expect_eq(expect_ok(crosscore::info())?.0, reclaimed_before + 1)?;
    expect_eq(expect_ok(monitor::check())?.1, 0)?;
    for _ in 0..200 {
        libos::syscall::yield_now();
    }
    expect_eq(expect_ok(monitor::mem_info(0))?.1, free_before)?;
    // The workers' boards go as they end: then nothing is left in the books.
    crate::tests::system::eventually(5000, || Ok(expect_ok(crosscore::info())?.1 == 0))?;
    expect_eq(expect_ok(crosscore::info())?, (reclaimed_before + 1, 0, 0))
}

pub fn a_capability_moved_to_another_core_leaves_this_one_and_its_delete_there_reclaims(
    env: &Env,
) -> Outcome {
    env.grows_the_heap();
    let free_before = expect_ok(monitor::mem_info(0))?.1;
    let reclaimed_before = expect_ok(crosscore::info())?.0;
    let (ram, base, _) = test_ram()?;
    let Some(core) = crate::tests::system::peers()?.last() else { return Ok(()) };
    let crew = Crew::start_on(part::HOLD, ram, alloc::vec![core], Mode::Move)?;
    // Moved: this core's slot is empty, and the worker's copy names the same memory.
    expect_err(ram.identify().map(drop), Error::Sys(SysError::SlotEmpty))?;
    libos::cspace::free_slot(ram);
    crew.board.set(BASE, base);
    crew.go()?;
    let outcomes = crew.outcomes()?;
    crew.dismiss();
    expect_eq(outcomes, alloc::vec![(core, OUTCOME_OK)])?;
    // Its delete there was the last copy anywhere: the memory comes back here, once.
    crate::tests::system::eventually(5000, || Ok(expect_ok(monitor::mem_info(0))?.1 == free_before))?;
    expect_eq(expect_ok(crosscore::info())?.0, reclaimed_before + 1)?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

pub fn of_concurrent_retypes_of_copies_on_every_core_exactly_one_succeeds(env: &Env) -> Outcome {
    env.grows_the_heap();
    let free_before = expect_ok(monitor::mem_info(0))?.1;
    let (ram, base, _) = test_ram()?;
    let crew = Crew::start(part::RETYPE, ram)?;
    let frame = expect_ok(libos::cspace::alloc_slot())?;
    crew.go()?;
    let own = outcome_word(crosscore::retype_one(ram, CapType::Frame, PAGE_SIZE, 0, frame));
    let mut outcomes = crew.outcomes()?;
    outcomes.push((0, own));
    let winners = outcomes.iter().filter(|(_, o)| *o == OUTCOME_OK).count();
    let refused = 0x100 | status::DESCENDANTS_EXIST;
    let losers = outcomes.iter().filter(|(_, o)| *o == refused).count();
    expect_that(
        winners == 1 && losers == outcomes.len() - 1,
        format_args!("outcomes by core: {outcomes:x?}"),
    )?;
    // The revoke takes the winner's frame wherever it is, and every other copy.
    expect_ok(crosscore::revoke(ram))?;
    crew.dismiss();
    let gone = frame.identify().map(drop);
    libos::cspace::free_slot(frame);
    if own == OUTCOME_OK {
        expect_err(gone, Error::Sys(SysError::SlotEmpty))?;
    }
    give_back(ram, base, free_before)
}

pub fn a_revoke_racing_copies_in_flight_leaves_no_copy_anywhere(env: &Env) -> Outcome {
    env.grows_the_heap();
    let free_before = expect_ok(monitor::mem_info(0))?.1;
    let (ram, base, _) = test_ram()?;
    let crew = Crew::start(part::COPY_UNTIL_REVOKED, ram)?;
    crew.go()?;
    expect_ok(crosscore::revoke(ram))?;
    crew.board.set(REVOKED, 1);
    let outcomes = crew.outcomes()?;
    crew.dismiss();
    let mut sent = 0;
    for &(core, outcome) in &outcomes {
        expect_that(crew.board.get(GONE + core as usize) == 1, format_args!("core {core} kept its copy"))?;
        // The copies it sent reached this core's mailboxes, and the revoke took them there.
        let copies = crew.board.get(COPIES + core as usize);
        sent += copies;
        for index in 0..copies {
            let found = crosscore::try_receive(mailbox(crew.batch, core, FIRST_COPY + index)).map(drop);
            expect_err(found, Error::Monitor(status::NOT_FOUND))?;
        }
        // Refused by the owner, or its copy was gone before it asked (an empty slot, or an
        // attachment without a capability, which the monitor does not find).
        let refused = [
            0x100 | status::REVOKED,
            0x100 | status::NOT_FOUND,
            0x200 | SysError::SlotEmpty.code(),
            OUTCOME_OK,
        ];
        expect_that(refused.contains(&outcome), format_args!("worker on core {core}: {outcome:#x}"))?;
    }
    expect_that(sent <= MAX_COPIES * outcomes.len() as u64, format_args!("{sent} copies"))?;
    // The revoker's copy is still there.
    expect_eq(expect_ok(ram.identify())?.base, base)?;
    give_back(ram, base, free_before)
}

pub fn capability_requests_the_monitors_cannot_honour_are_refused(env: &Env) -> Outcome {
    env.grows_the_heap();
    let (ram, base, _) = test_ram()?;
    let unknown = monitor::call([monitor::op::CAP_COPY | 1 << 8, 0x5eed, 1, 0xf]).map(drop);
    expect_err(unknown, Error::Monitor(status::NOT_FOUND))?;
    for core in [0, 64, 200] {
        let sent = crosscore::send(ram, core, 77, Rights::ALL, Mode::Copy);
        expect_err(sent, Error::Monitor(status::BAD_CORE))?;
    }
    // Only memory travels between cores.
    let endpoint = expect_ok(libos::lmp::Endpoint::for_self())?;
    let sent = crosscore::send(endpoint.cap().cap(), 1, 78, Rights::ALL, Mode::Copy);
    let _ = endpoint.destroy();
    expect_err(sent, Error::Monitor(status::BAD_REQUEST))?;
    expect_err(crosscore::try_receive(0xdead), Error::Monitor(status::NOT_FOUND))?;
    // Nothing was shared: the RAM goes back as usual.
    if expect_ok(crosscore::info())?.1 != 0 {
        return Err(failure_at(format_args!("a refused request left a record")));
    }
    expect_ok(monitor::ram_free(libos::cap::RamCap(ram), base))?;
    libos::cspace::free_slot(ram);
    expect_eq(expect_ok(monitor::check())?.1, 0)
}
