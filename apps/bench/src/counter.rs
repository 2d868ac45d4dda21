//! What the benchmarks count in: the virtual counter (`libos::clock`, one tick per guest
//! instruction under `-icount shift=0` with `-cpu max`), and a loop of a known number of
//! instructions to check that claim against.

pub use libos::clock::{frequency_hz, measure};

/// Runs a loop of exactly two instructions an iteration (`subs`, `b.ne`), `iterations`
/// times (at least once): a known number of instructions to time.
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
