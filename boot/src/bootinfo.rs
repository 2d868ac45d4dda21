//! `BootInfo`: everything board-specific the kernel needs, read once from the device tree.
//!
//! The device tree is the only place Flotilla learns about the machine (principle 2 of the
//! multikernel: the OS structure is hardware-neutral). `BootInfo` is a plain, fixed-size value
//! (no heap exists when it is built) that borrows strings from the blob it was parsed from.

use crate::addr::{PhysAddr, PhysRange};
use arrayvec::ArrayVec;

/// The most cores Flotilla boots (QEMU virt's GICv3 limit is 512; 256 is plenty here).
pub const MAX_CPUS: usize = 256;
/// The most `/memory` ranges kept; further ones are reported and ignored.
pub const MAX_MEMORY_RANGES: usize = 16;
/// The most reserved ranges kept (`/memreserve/` entries and `/reserved-memory` children).
pub const MAX_RESERVED_RANGES: usize = 32;
/// The most GICv3 redistributor regions kept.
pub const MAX_REDIST_REGIONS: usize = 4;

/// How a secondary core is released from firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnableMethod {
    /// PSCI `CPU_ON` through the conduit in [`BootInfo::psci`].
    Psci,
    /// Write the entry point to `release_addr`, clean it to memory, `sev`.
    SpinTable { release_addr: PhysAddr },
    /// No `enable-method` property (typical for the boot core of a uniprocessor tree).
    None,
    /// An `enable-method` Flotilla does not know; the core is reported and skipped.
    Unsupported,
}

/// One `/cpus/cpu@N` node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    /// The node's `reg`: MPIDR_EL1 affinity bits (Aff3 in bits 39:32, Aff2..Aff0 in 23:0).
    pub mpidr: u64,
    pub enable_method: EnableMethod,
}

/// How to call PSCI firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    Hvc,
    Smc,
}

/// The interrupt controller, with its register blocks already translated to CPU addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GicInfo {
    /// GICv2 (`arm,cortex-a15-gic`, `arm,gic-400`, `arm,cortex-a9-gic`): distributor and CPU
    /// interface.
    V2 { distributor: PhysRange, cpu_interface: PhysRange },
    /// GICv3 (`arm,gic-v3`): distributor and one or more redistributor regions.
    V3 { distributor: PhysRange, redistributors: ArrayVec<PhysRange, MAX_REDIST_REGIONS> },
}

/// The kind of serial port behind the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PrimeCell PL011 (`arm,pl011`).
    Pl011,
}

/// The console UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UartInfo {
    pub kind: UartKind,
    pub regs: PhysRange,
    /// The UART reference clock, when the tree gives it (a `clocks` phandle to a node with
    /// `clock-frequency`, or the node's own `clock-frequency`).
    pub clock_hz: Option<u32>,
    /// Its interrupt, as a GIC interrupt ID, when the tree gives it as a shared peripheral
    /// interrupt (the first `interrupts` specifier).
    pub intid: Option<u32>,
}

/// The architected generic timer's interrupts, as GIC interrupt IDs (PPI n is INTID 16 + n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerInfo {
    /// EL1 virtual timer (the third entry of `arm,armv8-timer` `interrupts`). Default 27.
    pub virtual_intid: u32,
    /// EL1 physical timer (the second entry). Default 30.
    pub physical_intid: u32,
    /// `clock-frequency` if the tree overrides CNTFRQ_EL0 (rare; QEMU gives none).
    pub frequency_hz: Option<u32>,
}

impl Default for TimerInfo {
    fn default() -> Self {
        TimerInfo { virtual_intid: 27, physical_intid: 30, frequency_hz: None }
    }
}

/// Everything the kernel takes from the device tree.
#[derive(Clone, Debug)]
pub struct BootInfo<'a> {
    /// Root `model` (or first `compatible`) string, for the banner.
    pub model: &'a str,
    /// RAM ranges from every `device_type = "memory"` node, sorted, non-overlapping.
    pub memory: ArrayVec<PhysRange, MAX_MEMORY_RANGES>,
    /// Ranges that must not be allocated: `/memreserve/` entries and `/reserved-memory`
    /// children with a `reg`. Does not include the kernel image or the blob itself.
    pub reserved: ArrayVec<PhysRange, MAX_RESERVED_RANGES>,
    /// The `/cpus` children with `device_type = "cpu"`, in tree order. Never empty.
    pub cpus: ArrayVec<CpuInfo, MAX_CPUS>,
    /// PSCI conduit, if a PSCI node is present.
    pub psci: Option<PsciConduit>,
    pub gic: GicInfo,
    /// The console; `None` when the tree names no usable UART.
    pub console: Option<UartInfo>,
    pub timer: TimerInfo,
    /// `/chosen` `bootargs`, or "".
    pub bootargs: &'a str,
}
