//! The generic timer's virtual counter, `CNTVCT_EL0`: time for timeouts, and what every
//! measurement is counted in.
//!
//! EL0 may read it, and its frequency `CNTFRQ_EL0`, because the CPU driver sets
//! `CNTKCTL_EL1.EL0VCTEN` (Arm ARM D19.11.15). Under QEMU `-icount shift=0` virtual time
//! advances one nanosecond per instruction, so with the 1 GHz counter of `-cpu max` one
//! tick is one guest instruction (`docs/DESIGN.md` §9): counted over every core, since
//! icount runs the cores one after another.

/// The counter now. The `isb` keeps the read from being done before the instructions
/// ahead of it (the counter may otherwise be read out of order, Arm ARM D12.1.2).
pub fn now() -> u64 {
    let ticks: u64;
    // SAFETY: reads a system register EL0 may read; no memory effects.
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// Counter ticks per second.
pub fn frequency_hz() -> u64 {
    let hz: u64;
    // SAFETY: as in `now`.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack)) };
    hz
}

/// Runs `f` and returns the counter ticks it took, with its result.
pub fn measure<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let start = now();
    let result = f();
    (now() - start, result)
}

/// Runs a loop of exactly two instructions an iteration (`subs`, `b.ne`), `iterations`
/// times (at least once): a known number of instructions, to check what the counter counts.
pub fn two_instruction_loop(iterations: u64) {
    // SAFETY: counts a scratch register down to zero; no memory, no stack.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            n = inout(reg) iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
}
