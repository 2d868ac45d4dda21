//! Faults: whatever a program does wrong stops that program, and only that program, for
//! its parent to deal with.
//!
//! Each test starts the suite as a child that commits one fault ([`FaultKind`]), waits for
//! its fault notice, and checks what the notice says: the exception class of the syndrome
//! (ESR_EL1.EC, bits 31:26), for aborts whether the access was a write (ISS.WnR, bit 6)
//! and what kind of fault it was (the fault status code, ISS bits 5:0: translation or
//! permission), the faulting address (FAR) where the architecture defines one, and the
//! address of the instruction, which the suite knows because the child is the same
//! program. A child with a handler (every child libos starts has its parent) is stopped,
//! not ended, by its fault: the test then reclaims it, and checks that a heap object the
//! suite made before the child ran still holds its value; after each test the runner
//! checks that every byte of RAM and every slot came back. The console meanwhile shows
//! the kernel's report of each fault. A stopped child made runnable again runs the
//! faulting instruction again.
//!
//! The instructions EL0 may not execute are pinned as the architecture defines them and
//! QEMU carries them out: `hvc`, `smc`, `eret` and an `mrs` of an EL1 register are
//! undefined at EL0 (class 0, "unknown reason"), and `msr daifset` traps as a system
//! register access (class 0x18) because the kernel leaves SCTLR_EL1.UMA clear. Accesses to
//! kernel addresses are data aborts whatever their fault status (a permission fault where
//! the kernel maps something, a translation fault elsewhere), so only the class, the
//! direction and the address are pinned.
//!
//! One check depends on the machine: the kernel sets SCTLR_EL1.SA0, so an access through
//! a stack pointer that is not a multiple of 16 is an SP alignment fault on hardware, but
//! QEMU leaves the check out (its AArch64 translator omits it for speed), and there the
//! child reads its stack and goes on. The test accepts either, and pins each exactly.
//!
//! Source for every constant: Arm ARM (DDI 0487), ESR_EL1 (D19.2.40) and the ISS
//! encodings for aborts (D19.2.40, "ISS encoding for an exception from a Data Abort").

use super::family::{expect_capability, expect_fault, Canary, Fault, Mailbox};
use crate::child::{self, FaultKind, Role, SURVIVED};
use crate::failure::Failure;
use crate::framework::{expect_eq, expect_ok, Env, Outcome};
use core::fmt;
use libos::abi::cap::Rights;
use libos::spawn::Exit;

/// Exception classes (ESR_EL1.EC) of faults from EL0.
mod class {
    /// Unknown reason: an undefined instruction.
    pub const UNKNOWN: u64 = 0x00;
    /// A trapped MSR, MRS or system instruction.
    pub const SYSTEM_REGISTER: u64 = 0x18;
    /// An instruction abort from a lower exception level.
    pub const INSTRUCTION_ABORT: u64 = 0x20;
    /// A PC alignment fault: a branch to an address that is not a multiple of 4.
    pub const PC_ALIGNMENT: u64 = 0x22;
    /// A data abort from a lower exception level.
    pub const DATA_ABORT: u64 = 0x24;
    /// An SP alignment fault: an access through a stack pointer not a multiple of 16.
    pub const SP_ALIGNMENT: u64 = 0x26;
    /// A BRK instruction (AArch64).
    pub const BREAKPOINT: u64 = 0x3c;
}

/// ISS.WnR: the data abort was caused by a write.
const WRITE_NOT_READ: u64 = 1 << 6;
/// The BRK instruction's immediate, ISS bits 15:0.
const BRK_COMMENT: u64 = 0xffff;

/// The kind of abort, from its fault status code (ISS bits 5:0, the level in bits 1:0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Translation,
    Permission,
    Other(u64),
}

fn status(syndrome: u64) -> Status {
    match syndrome & 0x3c {
        0x04 => Status::Translation,
        0x0c => Status::Permission,
        _ => Status::Other(syndrome & 0x3f),
    }
}

/// A number printed in hexadecimal in a failure message.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Hex(u64);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Starts a child that commits `kind`, waits for its fault (or exit), reclaims it, and
/// checks the suite's own memory; gives how the child ended.
fn run_child_committing(kind: FaultKind) -> Result<Exit, Failure> {
    let canary = Canary::new();
    let child = child::spawn(Role::Fault, kind as u32, None)?;
    let exit = expect_ok(child.wait())?;
    expect_ok(child.reclaim())?;
    canary.check()?;
    Ok(exit)
}

/// Has a child commit `kind`, and expects a fault of exception class `class` at the
/// instruction that commits it.
fn commit(kind: FaultKind, class: u64) -> Result<Fault, Failure> {
    let fault = expect_fault(run_child_committing(kind)?)?;
    expect_class_and_pc(fault, class, kind)?;
    Ok(fault)
}

fn expect_class_and_pc(fault: Fault, class: u64, kind: FaultKind) -> Outcome {
    let seen = (Hex((fault.syndrome >> 26) & 0x3f), Hex(fault.pc));
    expect_eq(seen, (Hex(class), Hex(kind.instruction())))
}

/// Has a child commit `kind`, and expects an abort of exception class `class` at the
/// address `kind` accesses, by a write or not, with fault status `expected` (or any, if
/// `None`).
fn commit_abort(kind: FaultKind, class: u64, write: bool, expected: Option<Status>) -> Outcome {
    let fault = commit(kind, class)?;
    let status = expected.map(|_| status(fault.syndrome));
    let seen = (Hex(fault.address), fault.syndrome & WRITE_NOT_READ != 0, status);
    expect_eq(seen, (Hex(kind.address().unwrap_or_default()), write, expected))
}

pub fn reading_unmapped_memory_is_a_data_abort_that_stops_only_the_child(_env: &Env) -> Outcome {
    commit_abort(FaultKind::LoadUnmapped, class::DATA_ABORT, false, Some(Status::Translation))
}

pub fn writing_unmapped_memory_is_a_data_abort_on_a_write(_env: &Env) -> Outcome {
    commit_abort(FaultKind::StoreUnmapped, class::DATA_ABORT, true, Some(Status::Translation))
}

pub fn writing_read_only_data_is_a_permission_fault(_env: &Env) -> Outcome {
    commit_abort(FaultKind::StoreReadOnly, class::DATA_ABORT, true, Some(Status::Permission))
}

pub fn writing_its_own_code_is_a_permission_fault(_env: &Env) -> Outcome {
    commit_abort(FaultKind::StoreCode, class::DATA_ABORT, true, Some(Status::Permission))
}

pub fn jumping_to_unmapped_memory_is_an_instruction_abort(_env: &Env) -> Outcome {
    commit_abort(FaultKind::BranchUnmapped, class::INSTRUCTION_ABORT, false, Some(Status::Translation))
}

pub fn executing_writable_data_is_an_instruction_abort(_env: &Env) -> Outcome {
    commit_abort(FaultKind::BranchWritableData, class::INSTRUCTION_ABORT, false, Some(Status::Permission))
}

pub fn executing_read_only_data_is_an_instruction_abort(_env: &Env) -> Outcome {
    commit_abort(FaultKind::BranchReadOnlyData, class::INSTRUCTION_ABORT, false, Some(Status::Permission))
}

pub fn an_undefined_instruction_is_an_unknown_reason_fault(_env: &Env) -> Outcome {
    commit(FaultKind::Undefined, class::UNKNOWN).map(drop)
}

pub fn a_branch_to_a_misaligned_address_is_a_pc_alignment_fault(_env: &Env) -> Outcome {
    let fault = commit(FaultKind::BranchMisaligned, class::PC_ALIGNMENT)?;
    // The faulting address is the misaligned PC itself.
    expect_eq(Hex(fault.address), Hex(FaultKind::BranchMisaligned.instruction()))
}

pub fn a_load_through_a_misaligned_stack_pointer_faults_where_the_cpu_checks_alignment(
    _env: &Env,
) -> Outcome {
    let kind = FaultKind::StackMisaligned;
    match run_child_committing(kind)? {
        // No check (QEMU): the load read the stack, and the child went on.
        Exit::Exited(status) => expect_eq(Hex(status), Hex(SURVIVED)),
        ended => expect_class_and_pc(expect_fault(ended)?, class::SP_ALIGNMENT, kind),
    }
}

pub fn a_brk_instruction_is_a_breakpoint_fault_with_its_comment(_env: &Env) -> Outcome {
    let fault = commit(FaultKind::Breakpoint, class::BREAKPOINT)?;
    expect_eq(fault.syndrome & BRK_COMMENT, 0)
}

pub fn reading_kernel_memory_is_a_data_abort(_env: &Env) -> Outcome {
    commit_abort(FaultKind::LoadKernel, class::DATA_ABORT, false, None)
}

pub fn writing_kernel_memory_is_a_data_abort_on_a_write(_env: &Env) -> Outcome {
    commit_abort(FaultKind::StoreKernel, class::DATA_ABORT, true, None)
}

pub fn hvc_in_user_mode_is_an_undefined_instruction_fault(_env: &Env) -> Outcome {
    commit(FaultKind::Hypervisor, class::UNKNOWN).map(drop)
}

pub fn smc_in_user_mode_is_an_undefined_instruction_fault(_env: &Env) -> Outcome {
    commit(FaultKind::SecureMonitor, class::UNKNOWN).map(drop)
}

pub fn eret_in_user_mode_is_an_undefined_instruction_fault(_env: &Env) -> Outcome {
    commit(FaultKind::ExceptionReturn, class::UNKNOWN).map(drop)
}

pub fn reading_a_kernel_system_register_is_an_undefined_instruction_fault(_env: &Env) -> Outcome {
    commit(FaultKind::ReadKernelRegister, class::UNKNOWN).map(drop)
}

pub fn masking_interrupts_in_user_mode_is_a_trapped_system_register_access(_env: &Env) -> Outcome {
    commit(FaultKind::MaskInterrupts, class::SYSTEM_REGISTER).map(drop)
}

pub fn a_faulting_child_leaves_its_sibling_running(_env: &Env) -> Outcome {
    let mailbox = Mailbox::new()?;
    let given = mailbox.minted(1, Rights::ALL)?;
    let sibling = child::spawn(Role::AwaitMessage, 0, Some(given.endpoint()))?;
    let (_, sibling_endpoint) = expect_capability(mailbox.receive()?)?;
    commit(FaultKind::StoreUnmapped, class::DATA_ABORT)?;
    expect_ok(sibling_endpoint.endpoint().send([0x51b, 0, 0, 0], None))?;
    expect_eq(expect_ok(sibling.wait())?, Exit::Exited(0x51b))?;
    expect_ok(sibling.reclaim())
}

pub fn a_child_stopped_by_a_fault_runs_again_from_the_faulting_instruction(_env: &Env) -> Outcome {
    let kind = FaultKind::Breakpoint;
    let child = child::spawn(Role::Fault, kind as u32, None)?;
    let first = expect_fault(expect_ok(child.wait())?)?;
    expect_class_and_pc(first, class::BREAKPOINT, kind)?;
    // Run again without the cause removed, it meets the same instruction, and faults the
    // same way: it resumed at the instruction, not after it.
    expect_ok(expect_ok(child.dispatcher())?.run())?;
    let second = expect_fault(expect_ok(child.wait())?)?;
    expect_eq(Hex(second.syndrome), Hex(first.syndrome))?;
    expect_class_and_pc(second, class::BREAKPOINT, kind)?;
    expect_ok(child.kill())?;
    expect_eq(expect_ok(child.wait())?, Exit::Killed)?;
    expect_ok(child.reclaim())
}
