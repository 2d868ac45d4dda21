//! System calls: `svc #0`, with the call number in `x8`, arguments in `x0`–`x7`, and on
//! return the error code in `x0` (0 for success) and results in `x1`–`x7`.
//!
//! Capability operations are all one call, [`INVOKE`]: `x0` = the capability's address in
//! the caller's CSpace, `x1` = the method (see [`crate::method`]), `x2`–`x7` = up to six
//! arguments. Every invocation has that shape, whatever the capability.

/// Does nothing and returns success: the cheapest kernel round trip, for measuring.
pub const NOP: u64 = 0;
/// Invokes a capability: `x0` cap address, `x1` method, `x2`–`x7` arguments.
pub const INVOKE: u64 = 1;
/// Gives the rest of this time slice to the next runnable dispatcher on this core.
pub const YIELD: u64 = 2;
/// Writes `x1` bytes at user address `x0` (at most [`PRINT_MAX`]) to the console as one
/// piece: text from different dispatchers and cores never interleaves within a call.
pub const PRINT: u64 = 3;
/// Ends the calling dispatcher's domain on this core with status `x0`. Does not return.
pub const EXIT: u64 = 4;

/// The most bytes one [`PRINT`] takes.
pub const PRINT_MAX: u64 = 1024;
