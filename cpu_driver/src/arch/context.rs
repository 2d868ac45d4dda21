//! Saving and restoring a dispatcher's user context: what an exception frame does not
//! hold (SP_EL0, TPIDR_EL0, the FP/SIMD registers) and the switch of address space.
//!
//! The CPU driver is built soft-float and never touches FP/SIMD registers itself, so they
//! hold the running dispatcher's values across kernel entry; they are saved and restored
//! only when the core switches to another dispatcher.

use crate::arch::exceptions::ExceptionFrame;
use crate::dispatch::Dispatcher;
use core::arch::{asm, global_asm};

global_asm!(
    r#"
    .arch_extension fp
    .arch_extension simd
    .global fp_save
    .type fp_save, %function
// x0 = 66 words: v0..v31, then FPCR and FPSR.
fp_save:
    stp     q0, q1, [x0, #32 * 0]
    stp     q2, q3, [x0, #32 * 1]
    stp     q4, q5, [x0, #32 * 2]
    stp     q6, q7, [x0, #32 * 3]
    stp     q8, q9, [x0, #32 * 4]
    stp     q10, q11, [x0, #32 * 5]
    stp     q12, q13, [x0, #32 * 6]
    stp     q14, q15, [x0, #32 * 7]
    stp     q16, q17, [x0, #32 * 8]
    stp     q18, q19, [x0, #32 * 9]
    stp     q20, q21, [x0, #32 * 10]
    stp     q22, q23, [x0, #32 * 11]
    stp     q24, q25, [x0, #32 * 12]
    stp     q26, q27, [x0, #32 * 13]
    stp     q28, q29, [x0, #32 * 14]
    stp     q30, q31, [x0, #32 * 15]
    mrs     x1, fpcr
    mrs     x2, fpsr
    add     x0, x0, #32 * 16
    stp     x1, x2, [x0]
    ret

    .global fp_restore
    .type fp_restore, %function
fp_restore:
    ldp     q0, q1, [x0, #32 * 0]
    ldp     q2, q3, [x0, #32 * 1]
    ldp     q4, q5, [x0, #32 * 2]
    ldp     q6, q7, [x0, #32 * 3]
    ldp     q8, q9, [x0, #32 * 4]
    ldp     q10, q11, [x0, #32 * 5]
    ldp     q12, q13, [x0, #32 * 6]
    ldp     q14, q15, [x0, #32 * 7]
    ldp     q16, q17, [x0, #32 * 8]
    ldp     q18, q19, [x0, #32 * 9]
    ldp     q20, q21, [x0, #32 * 10]
    ldp     q22, q23, [x0, #32 * 11]
    ldp     q24, q25, [x0, #32 * 12]
    ldp     q26, q27, [x0, #32 * 13]
    ldp     q28, q29, [x0, #32 * 14]
    ldp     q30, q31, [x0, #32 * 15]
    add     x0, x0, #32 * 16
    ldp     x1, x2, [x0]
    msr     fpcr, x1
    msr     fpsr, x2
    ret
"#
);

unsafe extern "C" {
    fn fp_save(area: *mut u64);
    fn fp_restore(area: *const u64);
    fn exception_return() -> !;
}

/// The dispatcher whose state the registers hold now (per core).
static LOADED: spin::Mutex<u64> = spin::Mutex::new(0);

/// Lets EL0 (and EL1) use FP/SIMD without trapping: CPACR_EL1.FPEN = 0b11 (D19.2.30).
pub fn enable_fp() {
    // SAFETY: configures this core's FP access trap only.
    unsafe {
        asm!("mrs {t}, cpacr_el1", "orr {t}, {t}, #(3 << 20)", "msr cpacr_el1, {t}", "isb", t = out(reg) _)
    };
}

/// Saves the interrupted user context in `frame` (and the registers the frame does not
/// hold) into `d`.
pub fn save(d: Dispatcher, frame: &ExceptionFrame) {
    let dcb = d.dcb();
    dcb.regs = frame.regs;
    dcb.pc = frame.elr;
    dcb.pstate = frame.spsr;
    // SAFETY: reading this core's EL0 stack pointer and thread register.
    unsafe {
        asm!("mrs {}, sp_el0", out(reg) dcb.sp, options(nostack, nomem));
        asm!("mrs {}, tpidr_el0", out(reg) dcb.tpidr, options(nostack, nomem));
    }
}

/// Loads `d`'s context into `frame` (returned to by the vector code) and the registers
/// beyond it, switching address space and FP state if `d` is not the one already loaded.
pub fn restore(d: Dispatcher, frame: &mut ExceptionFrame) {
    let dcb = d.dcb();
    frame.regs = dcb.regs;
    frame.elr = dcb.pc;
    // Only EL0t with interrupts unmasked: a saved PSTATE can never return to EL1.
    frame.spsr = dcb.pstate & 0xf000_0000;
    // SAFETY: writing this core's EL0 stack pointer and thread register.
    unsafe {
        asm!("msr sp_el0, {}", in(reg) dcb.sp, options(nostack, nomem));
        asm!("msr tpidr_el0, {}", in(reg) dcb.tpidr, options(nostack, nomem));
    }
    let mut loaded = LOADED.lock();
    if *loaded != d.0 .0 {
        if *loaded != 0 {
            let previous = Dispatcher(boot::PhysAddr(*loaded));
            // The previous dispatcher may have been destroyed meanwhile: then its FP state
            // no longer matters (its memory may be something else now).
            if previous.state() != crate::dispatch::State::Dead {
                // SAFETY: `fp` plus fpcr/fpsr is 66 words in the dispatcher object.
                unsafe { fp_save(previous.dcb().fp.as_mut_ptr()) };
            }
        }
        // SAFETY: as above.
        unsafe { fp_restore(dcb.fp.as_ptr()) };
        let root = d.dcb().vspace.cap;
        let ttbr0 = root.base.0 | (u64::from(root.aux) << 48);
        // SAFETY: the root table of a live address space with its own ASID.
        unsafe { asm!("msr ttbr0_el1, {}", "isb", in(reg) ttbr0, options(nostack)) };
        *loaded = d.0 .0;
    }
}

/// Forgets which dispatcher's state the registers hold (it is being destroyed).
pub fn forget(d: Dispatcher) {
    let mut loaded = LOADED.lock();
    if *loaded == d.0 .0 {
        *loaded = 0;
    }
}

/// Where the exception frame of a dispatcher entering EL0 goes: the top of this core's
/// kernel stack, exactly where the vector code puts the frame of an exception from EL0.
fn top_frame() -> *mut ExceptionFrame {
    let (_, top) = boot::arch::stack_bounds();
    (top.as_u64() - core::mem::size_of::<ExceptionFrame>() as u64) as *mut ExceptionFrame
}

/// Starts running `d` at EL0 from a fresh kernel stack: its context goes into an exception
/// frame at the top of the stack and the vector code's return path takes it from there.
///
/// The caller's frames may overlap that area (a core that has made few calls since boot is
/// still near the top), so the stack pointer moves below the frame first and the frame is
/// written from there.
pub fn enter(d: Dispatcher) -> ! {
    // SAFETY: nothing on this stack is used again: the caller never returns, and
    // `enter_below_frame` runs with its stack starting just under the frame area.
    unsafe {
        asm!("mov sp, {frame}", "b {next}", frame = in(reg) top_frame(), next = sym enter_below_frame,
            in("x0") d.0 .0, options(noreturn))
    }
}

extern "C" fn enter_below_frame(dispatcher: u64) -> ! {
    let frame = top_frame();
    // SAFETY: `frame` is the top of this core's stack, above everything live (see `enter`).
    unsafe {
        restore(Dispatcher(boot::PhysAddr(dispatcher)), &mut *frame);
        asm!("mov sp, {}", "b {ret}", in(reg) frame, ret = sym exception_return, options(noreturn));
    }
}
