//! The per-core tick: the architected generic timer's EL1 virtual timer.
//!
//! Each core has its own timer (a private peripheral interrupt, PPI), so ticks need no
//! coordination between cores. The virtual timer is used because it is accessible at EL1
//! whether the core entered at EL1 or EL2 (the boot code sets CNTVOFF_EL2 = 0, so virtual
//! and physical counts agree).
//!
//! Source: Arm ARM D11 "The Generic Timer in AArch64 state"; CNTV_CTL_EL0 (D19.11.18).

use aarch64_cpu::registers::{Readable, Writeable, CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_TVAL_EL0};

/// Ticks per second on every core.
pub const TICK_HZ: u64 = 100;

/// The counter frequency in Hz (CNTFRQ_EL0, set by firmware or QEMU).
pub fn frequency_hz() -> u64 {
    CNTFRQ_EL0.get()
}

/// The current count of the (virtual) system counter.
pub fn now() -> u64 {
    CNTVCT_EL0.get()
}

/// Counter ticks in `ms` milliseconds.
pub fn ms_to_counts(ms: u64) -> u64 {
    frequency_hz() * ms / 1000
}

/// Arms the timer to fire one tick period from now and enables it (interrupt unmasked).
pub fn arm_next_tick() {
    let period = (frequency_hz() / TICK_HZ).max(1);
    CNTV_TVAL_EL0.set(period);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}
