//! User space on this core: what happens when a dispatcher traps into the CPU driver.
//!
//! Every exception from EL0 saves the dispatcher's context, does its work (a system call,
//! a timer tick, a fault), and then resumes whichever dispatcher is now at the head of the
//! run queue, or lets the core sleep. A fault in user code touches that dispatcher only:
//! if it has an exit endpoint (its handler, usually its parent) the dispatcher is stopped
//! and the handler told, to resume it or kill it; otherwise it is killed. Either way the
//! fault is reported on the console and the core goes on with the others. Nothing user code passes is trusted: pointers are checked
//! against the dispatcher's own address space before the kernel reads through them.

use crate::arch::context;
use crate::arch::exceptions::{ExceptionFrame, ExceptionKind};
use crate::dispatch::{self, Dispatcher};
use crate::esr::Syndrome;
use crate::{console, kprintln};
use abi::method::exit_notice;
use abi::{syscall, SysError};
use core::sync::atomic::{AtomicBool, Ordering};

/// Set by the tick: the running dispatcher's time slice is over.
static RESCHEDULE: AtomicBool = AtomicBool::new(false);

/// How a dispatcher's life ended.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// It called `exit` with this status.
    Exited(u64),
    /// It took an exception it cannot survive.
    Faulted { esr: u64, far: u64, elr: u64 },
    /// Another dispatcher killed it.
    Killed,
}

/// Called by the tick: preempt the running dispatcher at the next opportunity.
pub fn request_reschedule() {
    RESCHEDULE.store(true, Ordering::Relaxed);
}

/// Handles an exception taken from EL0, then returns into the vector code, which resumes
/// the context left in `frame`.
pub fn from_el0(kind: ExceptionKind, frame: &mut ExceptionFrame) {
    let Some(d) = dispatch::current() else {
        // Nothing was running at EL0; there is no one to return to.
        idle();
    };
    context::save(d, frame);
    match kind {
        ExceptionKind::El0Irq => crate::interrupts::handle_irq(),
        ExceptionKind::El0Sync if Syndrome(frame.esr).class() == 0x15 => system_call(d),
        ExceptionKind::El0Sync if Syndrome(frame.esr).class() == 0x01 => {
            // WFI or WFE at EL0 (trapped: SCTLR_EL1.nTWI/nTWE are clear, so a dispatcher
            // cannot put the whole core to sleep behind the kernel's back; QEMU traps only
            // WFI, treating WFE as a hint). The program waits for something to happen: let
            // the others run, or if there are none, sleep until the next interrupt (a tick,
            // an IPI from another core) and go on.
            d.dcb().pc += 4;
            if dispatch::others_runnable() {
                dispatch::rotate();
            } else if !crate::interrupts::take_wake() {
                sleep_until_interrupt();
            }
        }
        _ => end(d, Ending::Faulted { esr: frame.esr, far: frame.far, elr: frame.elr }),
    }
    resume(frame);
}

/// Resumes the dispatcher at the head of the run queue through `frame`, or sleeps.
fn resume(frame: &mut ExceptionFrame) {
    if RESCHEDULE.swap(false, Ordering::Relaxed) {
        dispatch::rotate();
    }
    match dispatch::current() {
        Some(d) => context::restore(d, frame),
        None => idle(),
    }
}

/// Sleeps until some dispatcher is runnable, then runs it. Never returns: the stack is
/// reset on the way into EL0.
pub fn idle() -> ! {
    loop {
        crate::kernel::start_pending_domain();
        if let Some(d) = dispatch::current() {
            context::enter(d);
        }
        sleep_until_interrupt();
    }
}

/// Sleeps until an interrupt is pending, then takes it (and any others pending).
///
/// The `wfi` runs with interrupts masked: a pending interrupt ends it all the same (Arm
/// ARM, "Wait For Interrupt": a masked physical IRQ is a wake-up event), and is taken only
/// when they are let in afterwards. The other order, letting them in and then `wfi`, has a
/// window: an interrupt that arrives just before is taken at once, its handler makes a
/// dispatcher runnable or sets the wake flag, and the `wfi` then sleeps through to the
/// next interrupt — the next tick, 10 ms later — with work waiting.
pub fn sleep_until_interrupt() {
    crate::arch::wait_for_interrupt();
    crate::arch::enable_irqs();
    crate::arch::disable_irqs();
}

fn system_call(d: Dispatcher) {
    let regs = d.dcb().regs;
    let number = regs[8];
    match number {
        syscall::NOP => dispatch::set_result(d, Ok(&[])),
        syscall::YIELD => {
            dispatch::set_result(d, Ok(&[]));
            dispatch::rotate();
        }
        syscall::PRINT => {
            let result = print(regs[0], regs[1]);
            dispatch::set_result(d, result.map(|_| &[][..]));
        }
        syscall::EXIT => end(d, Ending::Exited(regs[0])),
        syscall::INVOKE => {
            let args = [regs[2], regs[3], regs[4], regs[5], regs[6], regs[7]];
            let result = crate::syscall::invoke(d, regs[0], regs[1], args);
            // The invocation may have destroyed the caller (it deleted its own dispatcher).
            if d.state() != dispatch::State::Dead {
                match result {
                    Ok(Some((values, n))) => dispatch::set_result(d, Ok(&values[..n])),
                    Ok(None) => {}
                    Err(e) => dispatch::set_result(d, Err(e)),
                }
            }
        }
        _ => dispatch::set_result(d, Err(SysError::InvalidSyscall)),
    }
}

/// Copies `len` bytes from user address `ptr` to the console, if every byte is readable
/// by the caller.
fn print(ptr: u64, len: u64) -> Result<(), SysError> {
    if len > syscall::PRINT_MAX {
        return Err(SysError::RangeError);
    }
    let end = ptr.checked_add(len).ok_or(SysError::InvalidArgument)?;
    if end > abi::elf::USER_VA_END {
        return Err(SysError::InvalidArgument);
    }
    let mut page = ptr & !0xfff;
    while page < end {
        if !user_readable(page) {
            return Err(SysError::InvalidArgument);
        }
        page += 0x1000;
    }
    let mut buffer = [0u8; syscall::PRINT_MAX as usize];
    let text = &mut buffer[..len as usize];
    // SAFETY: every page of [ptr, ptr + len) is mapped readable for EL0 in the current
    // address space (checked above), and interrupts are masked, so it cannot change before
    // the copy.
    unsafe { core::ptr::copy_nonoverlapping(ptr as *const u8, text.as_mut_ptr(), text.len()) };
    console::print_bytes(text);
    Ok(())
}

/// True if EL0 could read `va` in the current address space (AT S1E0R, Arm ARM C5.5.3).
fn user_readable(va: u64) -> bool {
    let par: u64;
    // SAFETY: an address translation query; changes only PAR_EL1.
    unsafe {
        core::arch::asm!("at s1e0r, {va}", "isb", "mrs {par}, par_el1", va = in(reg) va, par = out(reg) par, options(nostack));
    }
    par & 1 == 0
}

/// Ends `d`: reports how, and takes it off the core for good.
pub fn end(d: Dispatcher, how: Ending) {
    if d.state() == dispatch::State::Dead {
        return;
    }
    let core = crate::core_id();
    let notice = match how {
        Ending::Exited(status) => [exit_notice::EXITED, status, 0, 0],
        Ending::Killed => [exit_notice::KILLED, 0, 0, 0],
        Ending::Faulted { esr, far, elr } => {
            let handled = !d.exit_slot().cap().is_null();
            kprintln!(
                "core {core}: dispatcher {:#x} {}: {} at {elr:#x} (FAR {far:#x})",
                d.0 .0,
                if handled { "faulted, stopped for its handler" } else { "killed" },
                Syndrome(esr)
            );
            if handled {
                // The handler decides: make it runnable again (after fixing the cause) or
                // kill it. Either way the fault goes no further than this dispatcher.
                dispatch::stop(d);
                crate::lmp::notify_exit(d, [exit_notice::FAULTED, esr, far, elr]);
                return;
            }
            [exit_notice::FAULTED, esr, far, elr]
        }
    };
    dispatch::kill(d);
    crate::lmp::notify_exit(d, notice);
}

/// Powers the machine off with `status` as the exit status where the machine can report
/// one (QEMU with semihosting); otherwise by PSCI SYSTEM_OFF.
pub fn power_off(status: u64) {
    crate::kernel::power_off(status);
}
