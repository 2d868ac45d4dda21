//! AArch64 instructions for waiting.

/// `wfe`: waits for an event (Arm ARM D1.6.1, "Wait for Event mechanism").
///
/// At EL0 under Flotilla's CPU driver, `SCTLR_EL1.nTWE` is clear, so `wfe` traps and the
/// CPU driver treats it as a yield to the next dispatcher on this core
/// (`cpu_driver/src/user.rs`); under QEMU's TCG it yields the host thread. At EL1 it
/// sleeps until an event: an interrupt, a `sev` from any core, or the generic timer's event
/// stream. Every caller re-checks what it waits for afterwards, so an early return is
/// harmless.
pub fn wait_for_event() {
    // SAFETY: `wfe` touches no memory and no register; at worst it returns late. It is
    // deliberately not marked `nomem`: the compiler must treat it as a point where shared
    // memory may change, and reload what the caller checks next.
    unsafe { core::arch::asm!("wfe", options(nostack, preserves_flags)) };
}
