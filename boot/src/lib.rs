//! # Flotilla boot
//!
//! Everything between the loader jumping to the image and each core's CPU driver running with
//! its MMU on. Flotilla is a multikernel: every core runs its own CPU driver with its own
//! private state, and this crate is what makes that possible.
//!
//! What lives here:
//! - the Linux arm64 `Image` header ([`image`]), so QEMU `-kernel`, U-Boot `booti` and the
//!   Raspberry Pi firmware all load the kernel and pass the device tree address in `x0`;
//! - the device tree, validated and read into a [`BootInfo`] ([`devicetree`]);
//! - a page-table builder ([`paging`]) used before the MMU is on and after;
//! - on aarch64, the entry code: EL2 → EL1 drop, early page tables, the MMU switch and the
//!   release of secondary cores by PSCI or spin-table ([`arch`]).
//!
//! What does not: drivers, scheduling, printing. Boot code returns errors; the CPU driver
//! decides how to report them.
//!
//! The pure-logic modules build and are tested on the host; only [`arch`] is aarch64-only.

#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod addr;
pub mod bootinfo;
pub mod devicetree;
pub mod image;
pub mod ksyms;
pub mod layout;
pub mod memory;
pub mod paging;

#[cfg(target_arch = "aarch64")]
pub mod arch;

pub use addr::{PhysAddr, PhysRange, VirtAddr};
pub use bootinfo::BootInfo;
