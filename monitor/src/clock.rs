//! The generic timer's virtual counter, which EL0 may read (the CPU driver sets
//! `SCTLR_EL1.UCT`): time for timeouts, and under QEMU `-icount` an exact count of guest
//! instructions for measurements (`docs/DESIGN.md` §9).

/// The counter now (`CNTVCT_EL0`), after an `isb` so that it is not read early.
pub fn now() -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let ticks: u64;
        // SAFETY: reads a system register EL0 may read; no memory effects.
        unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) ticks, options(nomem, nostack)) };
        ticks
    }
    #[cfg(not(target_arch = "aarch64"))]
    0
}

/// Counter ticks per second (`CNTFRQ_EL0`).
pub fn frequency_hz() -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let hz: u64;
        // SAFETY: as in `now`.
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack)) };
        hz
    }
    #[cfg(not(target_arch = "aarch64"))]
    1
}
