//! DISPATCHER_SETUP, DISPATCHER_RUN and DISPATCHER_KILL: starting another dispatcher.
//!
//! Setup ties a new dispatcher to a CSpace (an L1 CNode) and an address space (an L0
//! table), once, with a word-aligned entry point and a stack in user space; only then may
//! it run, and once killed it never runs again. The dispatcher holds copies of the
//! CSpace and address-space capabilities, so their objects live as long as it does.
//!
//! The last tests start a second dispatcher for real: it shares this program's address
//! space and begins at [`testsuite_child_entry`], a few instructions that store the
//! argument they were started with where the test can see it, and exit. So a test can
//! tell whether the child ran: it must once made runnable, and never once killed or
//! deleted.

use crate::failure::Failure;
use crate::framework::{expect_eq, expect_err, expect_ok, scratch, Env, Outcome};
use crate::sys::{delete, dispatcher_kill, dispatcher_run, dispatcher_setup, retype};
use core::sync::atomic::{AtomicU64, Ordering};
use libos::abi::cap::{slot, CapType, PAGE_SIZE, SLOT_BYTES};
use libos::abi::elf::USER_VA_END;
use libos::abi::{syscall as call, CapAddr, SysError};

/// An entry point for dispatchers that are set up but never run: any word-aligned user
/// address will do.
const UNUSED_ENTRY: u64 = 0x40_0000;

/// The argument the child dispatcher found in `x0`, stored by the child itself.
static CHILD_STORED: AtomicU64 = AtomicU64::new(0);

/// The argument the child dispatchers are started with (never 0, the "not run" value).
const CHILD_ARGUMENT: u64 = 0x5eed_c41d;

core::arch::global_asm!(
    ".pushsection .text.testsuite_child_entry, \"ax\", %progbits",
    ".global testsuite_child_entry",
    ".type testsuite_child_entry, %function",
    ".balign 4",
    "testsuite_child_entry:",
    // No stack is needed (the child gets none): store x0, then EXIT with status 0.
    "    adrp x9, {seen}",
    "    add  x9, x9, :lo12:{seen}",
    "    stlr x0, [x9]",
    "    mov  x0, #0",
    "    mov  x8, #{exit}",
    "    svc  #0",
    // EXIT does not return; should it, fault rather than run off the end.
    "    udf  #0",
    ".size testsuite_child_entry, . - testsuite_child_entry",
    ".popsection",
    seen = sym CHILD_STORED,
    exit = const call::EXIT,
);

extern "C" {
    /// The child dispatcher's code (above); its address is all the tests use.
    fn testsuite_child_entry();
}

/// A new dispatcher with a CSpace and an address space to give it, all from the test's
/// RAM, in scratch slots 0–2.
struct Parts {
    dispatcher: CapAddr,
    cspace: CapAddr,
    vspace: CapAddr,
}

fn parts(env: &Env) -> Result<Parts, Failure> {
    let p = Parts { dispatcher: scratch(0), cspace: scratch(1), vspace: scratch(2) };
    expect_ok(retype(env.ram, CapType::Dispatcher, 0, 0, 1, p.dispatcher))?;
    expect_ok(retype(env.ram, CapType::L1CNode, 16 * SLOT_BYTES, PAGE_SIZE, 1, p.cspace))?;
    expect_ok(retype(env.ram, CapType::VNodeL0, 0, 2 * PAGE_SIZE, 1, p.vspace))?;
    Ok(p)
}

pub fn setup_needs_an_l1_cnode_and_an_l0_table(env: &Env) -> Outcome {
    let p = parts(env)?;
    let frame = scratch(3);
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 64 * 1024, 1, frame))?;
    let wrong = [
        (p.vspace, p.cspace),
        (frame, p.vspace),
        (p.cspace, frame),
        (p.cspace, p.cspace),
        (slot::TASK_CNODE, p.vspace),
    ];
    for (cspace, vspace) in wrong {
        let setup = dispatcher_setup(p.dispatcher, cspace, vspace, UNUSED_ENTRY, 0, 0, None);
        expect_err(setup, SysError::InvalidCapability)?;
    }
    // The refusals left the dispatcher new.
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, None))
}

pub fn setup_refuses_an_entry_that_is_not_word_aligned(env: &Env) -> Outcome {
    let p = parts(env)?;
    for entry in [UNUSED_ENTRY + 1, UNUSED_ENTRY + 2, UNUSED_ENTRY + 3] {
        let setup = dispatcher_setup(p.dispatcher, p.cspace, p.vspace, entry, 0, 0, None);
        expect_err(setup, SysError::InvalidArgument)?;
    }
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY + 4, 0, 0, None))
}

pub fn setup_refuses_an_entry_or_stack_outside_user_space(env: &Env) -> Outcome {
    let p = parts(env)?;
    let kernel = 0xffff_0000_0000_0000;
    for (entry, stack) in [(USER_VA_END, 0), (kernel, 0), (UNUSED_ENTRY, USER_VA_END), (UNUSED_ENTRY, kernel)]
    {
        let setup = dispatcher_setup(p.dispatcher, p.cspace, p.vspace, entry, stack, 0, None);
        expect_err(setup, SysError::InvalidArgument)?;
    }
    Ok(())
}

pub fn setup_takes_only_an_endpoint_to_hear_of_exits(env: &Env) -> Outcome {
    let p = parts(env)?;
    let (frame, endpoint) = (scratch(3), scratch(4));
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 64 * 1024, 1, frame))?;
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 128 * 1024, 1, endpoint))?;
    for not_an_endpoint in [frame, scratch(5), slot::KERNEL] {
        let setup =
            dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, Some(not_an_endpoint));
        expect_err(setup, SysError::InvalidCapability)?;
    }
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, Some(endpoint)))
}

pub fn setup_arguments_are_addresses_that_must_resolve(env: &Env) -> Outcome {
    let p = parts(env)?;
    let nowhere = [CapAddr::NULL, CapAddr::new(9, 0), CapAddr::new(64, 0)];
    for address in nowhere {
        let lookup = SysError::FailedLookup;
        expect_err(dispatcher_setup(p.dispatcher, address, p.vspace, UNUSED_ENTRY, 0, 0, None), lookup)?;
        expect_err(dispatcher_setup(p.dispatcher, p.cspace, address, UNUSED_ENTRY, 0, 0, None), lookup)?;
        if address != CapAddr::NULL {
            // (A zero exit endpoint means "none".)
            let setup = dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, Some(address));
            expect_err(setup, lookup)?;
        }
    }
    Ok(())
}

pub fn a_dispatcher_does_not_run_before_it_is_set_up(env: &Env) -> Outcome {
    let p = parts(env)?;
    expect_err(dispatcher_run(p.dispatcher), SysError::IllegalOperation)
}

pub fn a_dispatcher_is_set_up_only_once(env: &Env) -> Outcome {
    let p = parts(env)?;
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, None))?;
    let again = dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, None);
    expect_err(again, SysError::IllegalOperation)
}

pub fn a_killed_dispatcher_never_runs_again(env: &Env) -> Outcome {
    let p = parts(env)?;
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, None))?;
    expect_ok(dispatcher_kill(p.dispatcher))?;
    expect_err(dispatcher_run(p.dispatcher), SysError::IllegalOperation)?;
    let setup = dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, None);
    expect_err(setup, SysError::IllegalOperation)
}

pub fn a_dispatcher_keeps_its_cspace_and_address_space_alive(env: &Env) -> Outcome {
    let p = parts(env)?;
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, p.vspace, UNUSED_ENTRY, 0, 0, None))?;
    expect_ok(delete(p.cspace))?;
    expect_ok(delete(p.vspace))?;
    let frame = scratch(3);
    for held in [PAGE_SIZE, 2 * PAGE_SIZE] {
        expect_err(retype(env.ram, CapType::Frame, PAGE_SIZE, held, 1, frame), SysError::RevokeFirst)?;
    }
    // Destroying the dispatcher lets go of both.
    expect_ok(delete(p.dispatcher))?;
    expect_ok(retype(env.ram, CapType::Frame, 3 * PAGE_SIZE, 0, 1, frame))
}

/// Sets up the child dispatcher of `p` to run [`testsuite_child_entry`] in this program's
/// address space (so it can reach [`CHILD_STORED`]), and clears what it will store.
fn set_up_child(p: &Parts) -> Outcome {
    CHILD_STORED.store(0, Ordering::Relaxed);
    let entry = testsuite_child_entry as *const () as u64;
    expect_ok(dispatcher_setup(p.dispatcher, p.cspace, slot::ROOT_VNODE, entry, 0, CHILD_ARGUMENT, None))
}

/// Gives the core away until the child has stored its argument, or long enough that a
/// runnable child would have; returns what it stored.
fn let_the_child_run() -> u64 {
    // Round-robin: a runnable child runs as soon as this program yields.
    for _ in 0..100 {
        if CHILD_STORED.load(Ordering::Acquire) != 0 {
            break;
        }
        libos::syscall::yield_now();
    }
    CHILD_STORED.load(Ordering::Acquire)
}

pub fn a_started_dispatcher_runs_from_its_entry_with_its_argument(env: &Env) -> Outcome {
    let p = parts(env)?;
    set_up_child(&p)?;
    expect_ok(dispatcher_run(p.dispatcher))?;
    expect_eq(let_the_child_run(), CHILD_ARGUMENT)?;
    // It exited, and an exited dispatcher never runs again.
    expect_err(dispatcher_run(p.dispatcher), SysError::IllegalOperation)
}

pub fn a_dispatcher_killed_while_runnable_never_runs(env: &Env) -> Outcome {
    let p = parts(env)?;
    set_up_child(&p)?;
    expect_ok(dispatcher_run(p.dispatcher))?;
    expect_ok(dispatcher_kill(p.dispatcher))?;
    // A timer tick between the two calls may have let the child run already; only a
    // child that had not run by the kill tells anything.
    if CHILD_STORED.load(Ordering::Acquire) == 0 {
        expect_eq(let_the_child_run(), 0)?;
    }
    Ok(())
}

pub fn a_deleted_dispatcher_leaves_the_run_queue(env: &Env) -> Outcome {
    let p = parts(env)?;
    set_up_child(&p)?;
    expect_ok(dispatcher_run(p.dispatcher))?;
    expect_ok(delete(p.dispatcher))?;
    let ran_before_the_delete = CHILD_STORED.load(Ordering::Acquire) != 0;
    // Its memory is free at once, and made into something else while the core runs on.
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, 0, 1, p.dispatcher))?;
    let stored = let_the_child_run();
    if !ran_before_the_delete {
        expect_eq(stored, 0)?;
    }
    Ok(())
}
