//! Exception entry: the vector table, the saved context, and where each kind of exception
//! goes.
//!
//! The CPU driver runs with IRQs masked except while it waits, so an IRQ taken at EL1
//! interrupts only a waiting loop. A synchronous exception at EL1 is a kernel bug: it is
//! reported (core, decoded ESR, FAR, ELR, backtrace) and the core stops. Nothing user code
//! does can reach that path; user exceptions (from EL0) come in through their own vectors.

use crate::fault;
use core::arch::global_asm;

/// The registers saved on exception entry, in the order `vectors.s` stores them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExceptionFrame {
    /// x0..x30.
    pub regs: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
    _pad: u64,
}

/// Where an exception came from (the vector it arrived through).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ExceptionKind {
    Unexpected = 0,
    El1Sync = 1,
    El1Irq = 2,
    El1Fiq = 3,
    El1SError = 4,
    El0Sync = 5,
    El0Irq = 6,
    El0Fiq = 7,
    El0SError = 8,
}

/// Set in the kind when the entry code found the kernel stack exhausted.
const KIND_STACK_OVERFLOW: u64 = 0x100;

impl ExceptionKind {
    fn from_raw(raw: u64) -> ExceptionKind {
        match raw & 0xff {
            1 => ExceptionKind::El1Sync,
            2 => ExceptionKind::El1Irq,
            3 => ExceptionKind::El1Fiq,
            4 => ExceptionKind::El1SError,
            5 => ExceptionKind::El0Sync,
            6 => ExceptionKind::El0Irq,
            7 => ExceptionKind::El0Fiq,
            8 => ExceptionKind::El0SError,
            _ => ExceptionKind::Unexpected,
        }
    }
}

global_asm!(
    include_str!("vectors.s"),
    frame_size = const core::mem::size_of::<ExceptionFrame>(),
    overflow = const KIND_STACK_OVERFLOW,
    kind_unexpected = const ExceptionKind::Unexpected as u64,
    kind_el1_sync = const ExceptionKind::El1Sync as u64,
    kind_el1_irq = const ExceptionKind::El1Irq as u64,
    kind_el1_fiq = const ExceptionKind::El1Fiq as u64,
    kind_el1_serror = const ExceptionKind::El1SError as u64,
    kind_el0_sync = const ExceptionKind::El0Sync as u64,
    kind_el0_irq = const ExceptionKind::El0Irq as u64,
    kind_el0_fiq = const ExceptionKind::El0Fiq as u64,
    kind_el0_serror = const ExceptionKind::El0SError as u64,
    handler = sym handle_exception,
);

unsafe extern "C" {
    static exception_vectors: u8;
}

/// Points this core's VBAR_EL1 at the vector table.
pub fn install() {
    let base = &raw const exception_vectors as u64;
    // SAFETY: the table is 2 KiB aligned kernel text, mapped on every core.
    unsafe { core::arch::asm!("msr vbar_el1, {}", "isb", in(reg) base, options(nostack, preserves_flags)) };
}

extern "C" fn handle_exception(raw_kind: u64, frame: &mut ExceptionFrame) {
    let kind = ExceptionKind::from_raw(raw_kind);
    if raw_kind & KIND_STACK_OVERFLOW != 0 {
        fault::kernel_fault("kernel stack overflow", kind, frame);
    }
    match kind {
        ExceptionKind::El1Irq => crate::interrupts::handle_irq(),
        ExceptionKind::El0Sync | ExceptionKind::El0Irq | ExceptionKind::El0Fiq | ExceptionKind::El0SError => {
            crate::user::from_el0(kind, frame)
        }
        ExceptionKind::El1Sync => fault::kernel_fault("kernel fault", kind, frame),
        _ => fault::kernel_fault("unexpected exception", kind, frame),
    }
}

const _: () = assert!(core::mem::size_of::<ExceptionFrame>() == 288);
