//! The virtual counter, `CNTVCT_EL0`, read by the very code Flotilla's programs read it
//! with (`libos/src/clock.rs`, included as it is: it needs nothing else of libos), so both
//! systems' figures are counted alike. Linux lets EL0 read the counter as Flotilla's CPU
//! driver does (it sets `CNTKCTL_EL1.EL0VCTEN`, for the vDSO). Under QEMU `-cpu max
//! -icount shift=0,sleep=off` it advances by one per guest instruction, counted over all
//! cores.

#[path = "../../../libos/src/clock.rs"]
mod clock;

pub use clock::{frequency_hz, measure, two_instruction_loop};
