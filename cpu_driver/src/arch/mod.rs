//! Register-level code for AArch64: exception vectors, the GIC, the generic timer, and the
//! few instructions the rest of the CPU driver names (`wfi`, `wfe`, `sev`, interrupt masks).

pub mod context;
pub mod exceptions;
pub mod gic;
pub mod timer;

use aarch64_cpu::asm;
use aarch64_cpu::registers::{Readable, MPIDR_EL1};

/// This core's MPIDR affinity (Aff3 and Aff2..Aff0), as device trees write it in `/cpus`.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & boot::arch::MPIDR_AFFINITY_MASK
}

/// Wakes every core waiting in `wfe`.
pub fn send_event() {
    asm::sev();
}

/// Waits for an event (a `sev` from any core, an interrupt, or a spurious wake-up). Callers
/// loop on their condition.
pub fn wait_for_event() {
    asm::wfe();
}

/// Sleeps until an interrupt is pending.
pub fn wait_for_interrupt() {
    asm::wfi();
}

/// Lets IRQs in (the CPU driver runs with them masked except where it waits).
pub fn enable_irqs() {
    // SAFETY: clears the I mask bit; the vectors are installed before this is called.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Masks IRQs.
pub fn disable_irqs() {
    // SAFETY: sets the I mask bit.
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack, preserves_flags)) };
}

/// Stops this core for good, sleeping so it costs the host nothing.
pub fn halt() -> ! {
    disable_irqs();
    loop {
        asm::wfi();
    }
}
