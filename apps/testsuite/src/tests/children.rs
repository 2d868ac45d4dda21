//! Children: a program started by the suite runs with the argument it was given, ends
//! with the status its main function returns, and once reclaimed has given back every
//! byte of RAM and every slot it was made of. What it does wrong on the way, short of a
//! fault, is answered with an error and does not end it.
//!
//! A spawn that cannot be done (no such module, not enough RAM) is refused before
//! anything is made, so it leaves libos's RAM and slots as they were; and a thousand
//! spawns, waits and reclaims in a row lose nothing either.

use crate::child::{self, pack_codes, Role, Spawned, CHILD_RAM_BYTES, UNKNOWN_SYSCALLS};
use crate::framework::{expect_eq, expect_err, expect_ok, expect_that, Env, LibosUsage, Outcome};
use alloc::vec::Vec;
use libos::abi::SysError;
use libos::spawn::{self, Exit, SpawnOptions};
use libos::Error;

pub fn a_child_exits_with_the_status_its_main_returns(_env: &Env) -> Outcome {
    let child = child::spawn(Role::Exit, 0x5eed, None)?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(0x5eed))?;
    expect_ok(child.reclaim())
}

pub fn a_panicking_child_exits_with_status_101(_env: &Env) -> Outcome {
    let child = child::spawn(Role::Panic, 0, None)?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(101))?;
    expect_ok(child.reclaim())
}

pub fn ten_children_run_side_by_side_and_each_reports_its_own_end(_env: &Env) -> Outcome {
    let mut children = Vec::new();
    for i in 0..10 {
        children.push(child::spawn(Role::Exit, 100 + i, None)?);
    }
    for (i, child) in (0..).zip(children) {
        expect_eq(expect_ok(child.wait())?, Exit::Exited(100 + i))?;
        expect_ok(child.reclaim())?;
    }
    Ok(())
}

pub fn reclaiming_a_child_gives_back_all_its_ram_and_slots(_env: &Env) -> Outcome {
    let before = LibosUsage::now();
    let child = child::spawn(Role::Exit, 0, None)?;
    let running = LibosUsage::now();
    expect_that(
        before.free_ram_bytes.saturating_sub(running.free_ram_bytes) > CHILD_RAM_BYTES,
        format_args!("a child to take its own RAM and more ({before:?} before, {running:?} with it)"),
    )?;
    expect_eq(expect_ok(child.wait())?, Exit::Exited(0))?;
    expect_ok(child.reclaim())?;
    expect_eq(LibosUsage::now(), before)
}

pub fn spawning_a_module_that_does_not_exist_is_no_such_module(_env: &Env) -> Outcome {
    let before = LibosUsage::now();
    expect_err(spawn::spawn("no-such-program", 0).map(Spawned::adopt).map(drop), Error::NoSuchModule)?;
    expect_eq(LibosUsage::now(), before)
}

pub fn a_child_needing_more_ram_than_there_is_is_refused_and_nothing_is_kept(_env: &Env) -> Outcome {
    let before = LibosUsage::now();
    let options = SpawnOptions { arg: Role::Exit.arg(0), ram_bytes: 1 << 40, ..Default::default() };
    let refused = spawn::spawn_with("testsuite", options).map(Spawned::adopt).map(drop);
    expect_err(refused, Error::OutOfRam)?;
    expect_eq(LibosUsage::now(), before)
}

/// Children of [`a_thousand_children_spawned_and_reclaimed_lose_no_memory`].
const SPAWNS: u32 = 1000;

pub fn a_thousand_children_spawned_and_reclaimed_lose_no_memory(_env: &Env) -> Outcome {
    let before = LibosUsage::now();
    for i in 0..SPAWNS {
        let child = child::spawn(Role::Exit, i, None)?;
        expect_eq(expect_ok(child.wait())?, Exit::Exited(u64::from(i)))?;
        expect_ok(child.reclaim())?;
    }
    expect_eq(LibosUsage::now(), before)
}

pub fn unknown_system_calls_from_a_child_are_invalid_syscall_and_it_lives_on(_env: &Env) -> Outcome {
    let child = child::spawn(Role::UnknownSyscalls, 0, None)?;
    let codes = pack_codes(UNKNOWN_SYSCALLS.map(|_| SysError::InvalidSyscall.code()));
    expect_eq(expect_ok(child.wait())?, Exit::Exited(codes))?;
    expect_ok(child.reclaim())
}

pub fn invocations_that_cannot_work_fail_in_a_child_and_it_lives_on(_env: &Env) -> Outcome {
    let child = child::spawn(Role::BadInvocations, 0, None)?;
    let codes = pack_codes(
        [SysError::FailedLookup, SysError::IllegalOperation, SysError::InvalidArgument].map(SysError::code),
    );
    expect_eq(expect_ok(child.wait())?, Exit::Exited(codes))?;
    expect_ok(child.reclaim())
}
