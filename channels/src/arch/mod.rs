//! The architecture-specific instructions the waiting hooks use, and nothing else: the
//! ring logic itself is plain Rust and the same on every target.

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
