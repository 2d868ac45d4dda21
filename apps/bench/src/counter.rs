//! What the benchmarks count in: the virtual counter (`libos::clock`, one tick per guest
//! instruction under `-icount shift=0` with `-cpu max`), and a loop of a known number of
//! instructions to check that claim against.

pub use libos::clock::{frequency_hz, measure, two_instruction_loop};
