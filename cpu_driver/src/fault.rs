//! The kernel's last words: what a core prints when the CPU driver itself fails.
//!
//! A kernel fault or panic prints, on one core's console lines: the core id, the decoded
//! syndrome, the faulting address (FAR), the faulting instruction (ELR) with its symbol, and
//! a backtrace by frame pointers (the kernel is built with them), symbolized from the table
//! the build driver writes into the image. Then the core stops; the others go on.

use crate::arch::exceptions::{ExceptionFrame, ExceptionKind};
use crate::console::print_line_urgent as line;
use crate::esr::Syndrome;
use boot::ksyms::SymbolTable;
use boot::layout::KERNEL_VBASE;
use core::fmt;

/// Most frames a backtrace prints.
const MAX_FRAMES: usize = 24;

/// An address with its symbol, printed as `0xffffff8000081234 cpu_driver::main+0x34`.
struct Symbolized(u64);

impl fmt::Display for Symbolized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)?;
        let table = SymbolTable::new(boot::arch::ksyms());
        let found = self.0.checked_sub(KERNEL_VBASE).and_then(|offset| table?.lookup(offset));
        match found {
            Some((name, offset)) => write!(f, " {name}+{offset:#x}"),
            None => Ok(()),
        }
    }
}

/// Reports a fatal exception in the CPU driver and stops this core.
pub fn kernel_fault(what: &str, kind: ExceptionKind, frame: &ExceptionFrame) -> ! {
    let core = crate::core_id();
    line(format_args!("core {core}: {what} ({kind:?})"));
    line(format_args!("core {core}:   {}", Syndrome(frame.esr)));
    line(format_args!("core {core}:   FAR {:#018x}", frame.far));
    line(format_args!("core {core}:   ELR {}", Symbolized(frame.elr)));
    line(format_args!("core {core}:   SP  {:#018x}  SPSR {:#x}", frame as *const _ as u64, frame.spsr));
    backtrace(core, frame.regs[29]);
    stop(core)
}

/// Marks this core failed in the boot mailbox, tells the boot core, and stops.
fn stop(core: usize) -> ! {
    crate::shared::slot(core).set_state(crate::shared::CoreState::Failed);
    if core != 0 {
        crate::interrupts::send_ipi(0, crate::interrupts::SGI_PONG);
    }
    crate::arch::halt()
}

/// Reports a Rust panic in the CPU driver and stops this core.
pub fn kernel_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::arch::disable_irqs();
    let core = crate::core_id();
    match info.location() {
        Some(at) => {
            line(format_args!("core {core}: kernel panic at {}:{}: {}", at.file(), at.line(), info.message()))
        }
        None => line(format_args!("core {core}: kernel panic: {}", info.message())),
    }
    let fp: u64;
    // SAFETY: reads the frame pointer register.
    unsafe { core::arch::asm!("mov {}, x29", out(reg) fp, options(nostack, nomem)) };
    backtrace(core, fp);
    stop(core)
}

/// Follows the frame-record chain (AAPCS64 §6.2.3: x29 points at {previous x29, x30}),
/// trusting only records that lie on this core's stacks.
fn backtrace(core: usize, mut fp: u64) {
    let layout = boot::arch::link_layout();
    let stacks = [
        (KERNEL_VBASE + layout.stack_bottom, KERNEL_VBASE + layout.stack_top),
        (KERNEL_VBASE + layout.exception_stack_bottom, KERNEL_VBASE + layout.exception_stack_top),
    ];
    let on_stack = |addr: u64| stacks.iter().any(|&(lo, hi)| addr >= lo && addr + 16 <= hi);
    line(format_args!("core {core}:   backtrace:"));
    let mut previous = 0;
    let mut repeats = 0u64;
    for depth in 0..MAX_FRAMES {
        if !fp.is_multiple_of(16) || !on_stack(fp) {
            break;
        }
        // SAFETY: `fp` is 16-byte aligned and the whole record lies on a mapped stack.
        let (next, lr) = unsafe { ((fp as *const u64).read(), (fp as *const u64).add(1).read()) };
        if lr == 0 {
            break;
        }
        // Deep recursion (a stack overflow) would fill the report with one line: count it.
        if lr == previous {
            repeats += 1;
        } else {
            if repeats > 0 {
                line(format_args!("core {core}:     ... the frame above {repeats} more times"));
                repeats = 0;
            }
            // The return address points after the call; step back into it for the symbol.
            line(format_args!("core {core}:     #{depth:<2} {}", Symbolized(lr.wrapping_sub(4))));
            previous = lr;
        }
        if next <= fp {
            break;
        }
        fp = next;
    }
    if repeats > 0 {
        line(format_args!("core {core}:     ... the frame above {repeats} more times (backtrace cut)"));
    }
}
