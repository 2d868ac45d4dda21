//! # Flotilla's kernel–user ABI
//!
//! Everything the CPU driver and user programs must agree on, and nothing else: system
//! call numbers and the register convention, error codes, capability types, rights and
//! addresses, invocation methods, and the formats of what the kernel hands to user space
//! (boot modules, ELF images). The kernel depends on this crate, and so does `libos`; the
//! kernel never depends on `libos`, nor user code on the kernel.
//!
//! Every value here is part of a stable contract: codes and numbers are never reused.

#![cfg_attr(not(any(test, feature = "std")), no_std)]

pub mod cap;
pub mod elf;
pub mod error;
pub mod method;
pub mod modules;
pub mod syscall;

pub use cap::{CapAddr, CapType, Rights};
pub use error::SysError;
