//! The Arm Generic Interrupt Controller, versions 2 and 3, behind one trait.
//!
//! The distributor is shared hardware: the boot core sets it up once, before any other
//! core starts. Everything else is per core: GICv2 banks the SGI/PPI registers per CPU
//! interface; GICv3 gives each core a redistributor of its own (found by matching its
//! affinity in GICR_TYPER) and a system-register CPU interface (ICC_*_EL1).
//!
//! Sources: GIC Architecture Specification v2 (IHI 0048B) §4.3–4.4, and v3/v4 (IHI 0069H)
//! §12.9 (GICD), §12.10–12.11 (GICR), §12.2 (ICC system registers).

use boot::bootinfo::GicInfo;
use boot::layout::phys_to_linear;
use boot::{PhysAddr, PhysRange};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

/// Interrupt IDs from 1020 up are special (1023: nothing pending).
const SPECIAL_INTID_FIRST: u32 = 1020;
/// Priority given to every SGI and PPI Flotilla enables (lower is more urgent).
const DEFAULT_PRIORITY: u8 = 0xa0;
/// Priority mask: let through everything more urgent than 0xf0.
const PRIORITY_MASK: u32 = 0xf0;

register_structs! {
    /// GICv2 distributor (IHI 0048B table 4-1); GICv3 uses the same offsets for these.
    Distributor {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => typer: ReadOnly<u32>),
        (0x008 => _reserved0),
        (0x080 => igroupr: [ReadWrite<u32>; 32]),
        (0x100 => isenabler: [ReadWrite<u32>; 32]),
        (0x180 => icenabler: [ReadWrite<u32>; 32]),
        (0x200 => _reserved1),
        (0x400 => ipriorityr: [ReadWrite<u8>; 1024]),
        (0x800 => itargetsr: [ReadWrite<u32>; 256]),
        (0xc00 => _reserved2),
        (0xf00 => sgir: WriteOnly<u32>),
        (0xf04 => _reserved3),
        /// GICv3 only (IHI 0069H §12.9.22): the affinity each SPI is routed to.
        (0x6000 => irouter: [ReadWrite<u64>; 1020]),
        (0x7fe0 => @END),
    }
}

register_structs! {
    /// GICv2 CPU interface (IHI 0048B table 4-2).
    CpuInterface {
        (0x00 => ctlr: ReadWrite<u32>),
        (0x04 => pmr: ReadWrite<u32>),
        (0x08 => bpr: ReadWrite<u32>),
        (0x0c => iar: ReadOnly<u32>),
        (0x10 => eoir: WriteOnly<u32>),
        (0x14 => @END),
    }
}

register_structs! {
    /// GICv3 redistributor, RD_base frame (IHI 0069H table 12-27).
    RedistributorControl {
        (0x00 => ctlr: ReadWrite<u32>),
        (0x04 => iidr: ReadOnly<u32>),
        (0x08 => typer: ReadOnly<u64>),
        (0x10 => _reserved0),
        (0x14 => waker: ReadWrite<u32>),
        (0x18 => @END),
    }
}

register_structs! {
    /// GICv3 redistributor, SGI_base frame (64 KiB after RD_base; IHI 0069H table 12-28).
    RedistributorSgi {
        (0x000 => _reserved0),
        (0x080 => igroupr0: ReadWrite<u32>),
        (0x084 => _reserved1),
        (0x100 => isenabler0: ReadWrite<u32>),
        (0x104 => _reserved2),
        (0x180 => icenabler0: ReadWrite<u32>),
        (0x184 => _reserved3),
        (0x400 => ipriorityr: [ReadWrite<u8>; 32]),
        (0x420 => @END),
    }
}

/// GICD_CTLR bits. v2: bit 0 enables forwarding (EnableGrp1 in the non-secure view).
/// v3 (non-secure view): bit 1 EnableGrp1A, bit 4 ARE_NS (affinity routing), bit 31 RWP.
const GICD_CTLR_V2_ENABLE: u32 = 1 << 0;
const GICD_CTLR_V3_ENABLE_GRP1A: u32 = 1 << 1;
const GICD_CTLR_V3_ARE_NS: u32 = 1 << 4;
const GICD_CTLR_V3_RWP: u32 = 1 << 31;
/// GICR_WAKER: ProcessorSleep (bit 1) and ChildrenAsleep (bit 2).
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// GICR_TYPER.Last (bit 4): the last redistributor in its region; VLPIS (bit 1): GICv4
/// frames, twice the size.
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_TYPER_VLPIS: u64 = 1 << 1;
const GICR_FRAME_V3: u64 = 0x2_0000;
const GICR_FRAME_V4: u64 = 0x4_0000;
const GICR_SGI_OFFSET: u64 = 0x1_0000;

/// Why a core's interrupt controller interface could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicError {
    /// No redistributor's affinity matches this core's MPIDR.
    NoRedistributor { mpidr: u64 },
    /// The redistributor never reported its children awake.
    RedistributorAsleep,
}

impl core::fmt::Display for GicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GicError::NoRedistributor { mpidr } => write!(f, "no GICv3 redistributor for mpidr {mpidr:#x}"),
            GicError::RedistributorAsleep => write!(f, "GICv3 redistributor did not wake up"),
        }
    }
}

/// An acknowledged interrupt, to be handed back on end of interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The interrupt ID: 0–15 SGIs, 16–31 PPIs, 32+ SPIs.
    pub intid: u32,
    /// The raw acknowledge value (GICv2 keeps an SGI's source CPU in it, and EOI needs it).
    raw: u32,
}

/// Which core an SGI goes to: its MPIDR (GICv3) and its CPU interface mask (GICv2).
#[derive(Clone, Copy, Debug)]
pub struct SgiTarget {
    pub mpidr: u64,
    pub v2_mask: u32,
    /// The sending core itself (GICv2 then uses its "this CPU" filter: a uniprocessor GIC
    /// reads its target registers as zero).
    pub is_self: bool,
}

/// What the rest of the CPU driver needs from an interrupt controller.
pub trait InterruptController {
    /// Sets up the shared distributor. Called once, by the boot core, before others start.
    fn init_distributor(&self);
    /// Sets up this core's interface (and redistributor).
    fn init_this_core(&mut self) -> Result<(), GicError>;
    /// Enables a private interrupt (SGI 0–15 or PPI 16–31) on this core.
    fn enable_private(&self, intid: u32);
    /// Takes the highest-priority pending interrupt; `None` if it was spurious.
    fn acknowledge(&self) -> Option<Ack>;
    /// Signals that handling `ack` is finished.
    fn end_of_interrupt(&self, ack: Ack);
    /// Enables shared peripheral interrupt `intid` (32–1019), delivered to this core.
    fn enable_shared(&self, intid: u32);
    /// Masks shared peripheral interrupt `intid`.
    fn disable_shared(&self, intid: u32);
    /// Raises software-generated interrupt `intid` (0–15) on `target`.
    fn send_sgi(&self, intid: u32, target: SgiTarget);
    /// This core's GICv2 CPU interface mask (0 on GICv3, which addresses cores by MPIDR).
    fn v2_target_mask(&self) -> u32;
}

fn mmio<T>(range: &PhysRange) -> &'static T {
    // SAFETY: the boot code maps every GIC range from the device tree as Device memory in
    // the linear map, for the kernel's lifetime, before any driver is created.
    unsafe { &*(phys_to_linear(range.base).as_u64() as *const T) }
}

/// A GICv2 (GIC-400 on the Raspberry Pi 4, `gic-version=2` on QEMU virt).
pub struct GicV2 {
    distributor: &'static Distributor,
    cpu: &'static CpuInterface,
}

impl InterruptController for GicV2 {
    fn init_distributor(&self) {
        self.distributor.ctlr.set(GICD_CTLR_V2_ENABLE);
    }

    fn init_this_core(&mut self) -> Result<(), GicError> {
        self.cpu.pmr.set(PRIORITY_MASK);
        self.cpu.bpr.set(0);
        self.cpu.ctlr.set(1);
        Ok(())
    }

    fn enable_private(&self, intid: u32) {
        self.distributor.ipriorityr[intid as usize % 32].set(DEFAULT_PRIORITY);
        self.distributor.isenabler[0].set(1 << (intid % 32));
    }

    fn acknowledge(&self) -> Option<Ack> {
        // GICC_IAR bits 9:0 are the ID; bits 12:10 the source CPU of an SGI.
        let raw = self.cpu.iar.get() & 0x1fff;
        let intid = raw & 0x3ff;
        (intid < SPECIAL_INTID_FIRST).then_some(Ack { intid, raw })
    }

    fn end_of_interrupt(&self, ack: Ack) {
        self.cpu.eoir.set(ack.raw);
    }

    fn enable_shared(&self, intid: u32) {
        let (word, bit) = ((intid / 32) as usize, 1 << (intid % 32));
        self.distributor.ipriorityr[intid as usize % 1024].set(DEFAULT_PRIORITY);
        // GICD_ITARGETSRn: one byte per interrupt, the CPU interfaces it goes to.
        let targets = &self.distributor.itargetsr[(intid / 4) as usize % 256];
        let shift = (intid % 4) * 8;
        targets.set((targets.get() & !(0xff << shift)) | (self.v2_target_mask() << shift));
        self.distributor.isenabler[word % 32].set(bit);
    }

    fn disable_shared(&self, intid: u32) {
        self.distributor.icenabler[(intid / 32) as usize % 32].set(1 << (intid % 32));
    }

    fn send_sgi(&self, intid: u32, target: SgiTarget) {
        // GICD_SGIR: TargetListFilter (bits 25:24) 0 = the CPUTargetList in bits 23:16,
        // 0b10 = only the requesting CPU.
        let filter = if target.is_self { 0b10 << 24 } else { (target.v2_mask & 0xff) << 16 };
        self.distributor.sgir.set(filter | (intid & 0xf));
    }

    fn v2_target_mask(&self) -> u32 {
        // GICD_ITARGETSR0..7 are banked: each byte reads as this CPU interface's own mask.
        self.distributor.itargetsr[0].get() & 0xff
    }
}

/// A GICv3 (QEMU virt with `gic-version=3`).
pub struct GicV3 {
    distributor: &'static Distributor,
    regions: arrayvec::ArrayVec<PhysRange, { boot::bootinfo::MAX_REDIST_REGIONS }>,
    /// This core's redistributor SGI frame, once found.
    sgi: Option<&'static RedistributorSgi>,
}

/// ICC system registers, by encoding (IHI 0069H §12.2), since not every assembler names them.
macro_rules! icc_write {
    ($encoding:literal, $value:expr) => {
        // SAFETY: GIC CPU interface register write; EL1 access is enabled by the boot code.
        unsafe { core::arch::asm!(concat!("msr ", $encoding, ", {}"), in(reg) $value as u64, options(nostack)) }
    };
}
macro_rules! icc_read {
    ($encoding:literal) => {{
        let value: u64;
        // SAFETY: GIC CPU interface register read.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $encoding), out(reg) value, options(nostack)) };
        value
    }};
}

impl GicV3 {
    fn wait_for_distributor(&self) {
        while self.distributor.ctlr.get() & GICD_CTLR_V3_RWP != 0 {
            core::hint::spin_loop();
        }
    }

    /// Finds the redistributor whose GICR_TYPER affinity is this core's.
    fn find_redistributor(&self, mpidr: u64) -> Option<PhysAddr> {
        // GICR_TYPER[63:32] = Aff3.Aff2.Aff1.Aff0.
        let affinity = ((mpidr >> 8) & 0xff00_0000) | (mpidr & 0x00ff_ffff);
        for region in &self.regions {
            let mut frame = region.base;
            while frame.0 + GICR_FRAME_V3 <= region.end().0 {
                let rd: &RedistributorControl = mmio(&PhysRange::new(frame, GICR_FRAME_V3));
                let typer = rd.typer.get();
                if typer >> 32 == affinity {
                    return Some(frame);
                }
                if typer & GICR_TYPER_LAST != 0 {
                    break;
                }
                frame =
                    frame.offset(if typer & GICR_TYPER_VLPIS != 0 { GICR_FRAME_V4 } else { GICR_FRAME_V3 });
            }
        }
        None
    }
}

impl InterruptController for GicV3 {
    fn init_distributor(&self) {
        self.distributor.ctlr.set(0);
        self.wait_for_distributor();
        self.distributor.ctlr.set(GICD_CTLR_V3_ARE_NS | GICD_CTLR_V3_ENABLE_GRP1A);
        self.wait_for_distributor();
    }

    fn init_this_core(&mut self) -> Result<(), GicError> {
        let mpidr = super::mpidr();
        let rd_base = self.find_redistributor(mpidr).ok_or(GicError::NoRedistributor { mpidr })?;
        let rd: &RedistributorControl = mmio(&PhysRange::new(rd_base, GICR_FRAME_V3));
        rd.waker.set(rd.waker.get() & !GICR_WAKER_PROCESSOR_SLEEP);
        let mut tries = 1_000_000u32;
        while rd.waker.get() & GICR_WAKER_CHILDREN_ASLEEP != 0 {
            tries = tries.checked_sub(1).ok_or(GicError::RedistributorAsleep)?;
            core::hint::spin_loop();
        }
        let sgi: &'static RedistributorSgi = mmio(&PhysRange::new(rd_base.offset(GICR_SGI_OFFSET), 0x1000));
        // All SGIs and PPIs in (non-secure) Group 1, disabled until asked for.
        sgi.igroupr0.set(u32::MAX);
        sgi.icenabler0.set(u32::MAX);
        self.sgi = Some(sgi);
        let sre = icc_read!("S3_0_C12_C12_5"); // ICC_SRE_EL1
        icc_write!("S3_0_C12_C12_5", sre | 0b111); // SRE, DFB, DIB
                                                   // SAFETY: synchronises the SRE change before the other ICC registers are used.
        unsafe { core::arch::asm!("isb", options(nostack)) };
        icc_write!("S3_0_C4_C6_0", PRIORITY_MASK); // ICC_PMR_EL1
        icc_write!("S3_0_C12_C12_3", 0u64); // ICC_BPR1_EL1
        icc_write!("S3_0_C12_C12_7", 1u64); // ICC_IGRPEN1_EL1
                                            // SAFETY: as above.
        unsafe { core::arch::asm!("isb", options(nostack)) };
        Ok(())
    }

    fn enable_private(&self, intid: u32) {
        if let Some(sgi) = self.sgi {
            sgi.ipriorityr[intid as usize % 32].set(DEFAULT_PRIORITY);
            sgi.isenabler0.set(1 << (intid % 32));
        }
    }

    fn acknowledge(&self) -> Option<Ack> {
        let intid = (icc_read!("S3_0_C12_C12_0") & 0xff_ffff) as u32; // ICC_IAR1_EL1
        (intid < SPECIAL_INTID_FIRST).then_some(Ack { intid, raw: intid })
    }

    fn end_of_interrupt(&self, ack: Ack) {
        icc_write!("S3_0_C12_C12_1", ack.raw); // ICC_EOIR1_EL1
    }

    fn enable_shared(&self, intid: u32) {
        let (word, bit) = ((intid / 32) as usize % 32, 1 << (intid % 32));
        let mpidr = super::mpidr();
        // GICD_IROUTERn: Aff3 in bits 39:32, Aff2..Aff0 in 23:0, routing mode 0 (this PE).
        let affinity = ((mpidr >> 32) & 0xff) << 32 | (mpidr & 0xff_ffff);
        self.distributor.igroupr[word].set(self.distributor.igroupr[word].get() | bit);
        self.distributor.ipriorityr[intid as usize % 1024].set(DEFAULT_PRIORITY);
        self.distributor.irouter[intid as usize % 1020].set(affinity);
        self.distributor.isenabler[word].set(bit);
    }

    fn disable_shared(&self, intid: u32) {
        self.distributor.icenabler[(intid / 32) as usize % 32].set(1 << (intid % 32));
    }

    fn send_sgi(&self, intid: u32, target: SgiTarget) {
        // ICC_SGI1R_EL1: Aff3 55:48, RS 47:44, Aff2 39:32, INTID 27:24, Aff1 23:16, list 15:0.
        let m = target.mpidr;
        let aff0 = m & 0xff;
        let value = (((m >> 32) & 0xff) << 48)
            | ((aff0 >> 4) << 44)
            | (((m >> 16) & 0xff) << 32)
            | (u64::from(intid & 0xf) << 24)
            | (((m >> 8) & 0xff) << 16)
            | (1 << (aff0 & 0xf));
        // SAFETY: the write must complete before anything that depends on the SGI.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        icc_write!("S3_0_C12_C11_5", value);
        // SAFETY: barrier only.
        unsafe { core::arch::asm!("isb", options(nostack)) };
    }

    fn v2_target_mask(&self) -> u32 {
        0
    }
}

/// The controller this board has.
pub enum Gic {
    V2(GicV2),
    V3(GicV3),
}

// SAFETY: a `Gic` holds references to MMIO registers. Each core keeps its own driver in a
// per-core static; the registers it touches are either banked per core (SGI/PPI enables,
// the CPU interface, its own redistributor) or written once by the boot core before any
// other core starts (the distributor).
unsafe impl Sync for Gic {}
// SAFETY: as above.
unsafe impl Send for Gic {}

impl Gic {
    /// A driver for the controller `info` describes (its ranges must be mapped).
    pub fn new(info: &GicInfo) -> Gic {
        match info {
            GicInfo::V2 { distributor, cpu_interface } => {
                Gic::V2(GicV2 { distributor: mmio(distributor), cpu: mmio(cpu_interface) })
            }
            GicInfo::V3 { distributor, redistributors } => {
                Gic::V3(GicV3 { distributor: mmio(distributor), regions: redistributors.clone(), sgi: None })
            }
        }
    }

    fn inner(&self) -> &dyn InterruptController {
        match self {
            Gic::V2(g) => g,
            Gic::V3(g) => g,
        }
    }

    pub fn init_distributor(&self) {
        self.inner().init_distributor()
    }
    pub fn init_this_core(&mut self) -> Result<(), GicError> {
        match self {
            Gic::V2(g) => g.init_this_core(),
            Gic::V3(g) => g.init_this_core(),
        }
    }
    pub fn enable_private(&self, intid: u32) {
        self.inner().enable_private(intid)
    }
    pub fn acknowledge(&self) -> Option<Ack> {
        self.inner().acknowledge()
    }
    pub fn end_of_interrupt(&self, ack: Ack) {
        self.inner().end_of_interrupt(ack)
    }
    pub fn send_sgi(&self, intid: u32, target: SgiTarget) {
        self.inner().send_sgi(intid, target)
    }
    pub fn enable_shared(&self, intid: u32) {
        self.inner().enable_shared(intid)
    }
    pub fn disable_shared(&self, intid: u32) {
        self.inner().disable_shared(intid)
    }
    pub fn v2_target_mask(&self) -> u32 {
        self.inner().v2_target_mask()
    }
}
