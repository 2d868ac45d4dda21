//! The device trees built into each board's image.
//!
//! Not every loader passes a tree. QEMU's `raspi4b` machine without `-dtb` starts the kernel
//! with `x0 = 0`; a mistyped U-Boot command passes garbage. The build embeds the tree for
//! the board it targets, and the kernel uses it in two cases:
//! - no tree was passed, so the built-in one describes the machine;
//! - the passed tree is bad, so the built-in one names the console on which to print the
//!   [`super::FdtError`] line before stopping (booting on a guessed machine description
//!   would be worse than not booting).
//!
//! Each tree is the least that boots: memory, cores and how to start them, the interrupt
//! controller, the console and the timer. The models say "(built-in tree)" so a boot banner
//! shows which description is in use. The trees are written as a `.dts` would read, one node
//! per block, with bus addresses as the board's documentation gives them.

use super::writer::FdtWriter;

/// QEMU `virt` with its defaults: 128 MiB at 1 GiB, one core started by PSCI over HVC, a
/// GICv2, the PL011 at 0x0900_0000 (QEMU hw/arm/virt.c, `base_memmap`).
pub fn virt_fallback() -> Vec<u8> {
    virt_tree(128 << 20, &[VirtCpu { mpidr: 0, enable_method: "psci", release_addr: None }])
}

/// One `/cpus` entry of a [`virt_tree`].
#[derive(Clone, Copy, Debug)]
pub struct VirtCpu<'a> {
    pub mpidr: u32,
    pub enable_method: &'a str,
    /// `cpu-release-addr`, for `enable_method = "spin-table"`.
    pub release_addr: Option<u64>,
}

/// A QEMU `virt` tree with `memory_bytes` of RAM at 1 GiB and the given cores; the rest as
/// in [`virt_fallback`]. Tests use it to describe cores that do not exist or cannot start.
pub fn virt_tree(memory_bytes: u64, cpus: &[VirtCpu<'_>]) -> Vec<u8> {
    let mut w = FdtWriter::new();
    w.begin_node("");
    w.property_str("model", "QEMU virt (built-in tree)");
    w.property_str("compatible", "linux,dummy-virt");
    w.property_u32s("#address-cells", &[2]);
    w.property_u32s("#size-cells", &[2]);

    w.begin_node("memory@40000000");
    w.property_str("device_type", "memory");
    w.property_u32s("reg", &[0x0, 0x4000_0000, (memory_bytes >> 32) as u32, memory_bytes as u32]);
    w.end_node();

    w.begin_node("cpus");
    w.property_u32s("#address-cells", &[1]);
    w.property_u32s("#size-cells", &[0]);
    for cpu in cpus {
        w.begin_node(&format!("cpu@{:x}", cpu.mpidr));
        w.property_str("device_type", "cpu");
        w.property_str("compatible", "arm,armv8");
        w.property_u32s("reg", &[cpu.mpidr]);
        w.property_str("enable-method", cpu.enable_method);
        if let Some(address) = cpu.release_addr {
            w.property_u64("cpu-release-addr", address);
        }
        w.end_node();
    }
    w.end_node();

    w.begin_node("psci");
    w.property_strs("compatible", &["arm,psci-1.0", "arm,psci-0.2", "arm,psci"]);
    w.property_str("method", "hvc");
    w.end_node();

    w.begin_node("intc@8000000");
    w.property_str("compatible", "arm,cortex-a15-gic");
    w.property_bytes("interrupt-controller", &[]);
    w.property_u32s("#interrupt-cells", &[3]);
    // Distributor, then CPU interface.
    w.property_u32s("reg", &[0x0, 0x0800_0000, 0x0, 0x1_0000, 0x0, 0x0801_0000, 0x0, 0x1_0000]);
    w.end_node();

    w.begin_node("pl011@9000000");
    w.property_strs("compatible", &["arm,pl011", "arm,primecell"]);
    w.property_u32s("reg", &[0x0, 0x0900_0000, 0x0, 0x1000]);
    // SPI 1, level-high (QEMU hw/arm/virt.c, VIRT_UART).
    w.property_u32s("interrupts", &[0, 1, 4]);
    w.end_node();

    w.begin_node("timer");
    w.property_strs("compatible", &["arm,armv8-timer", "arm,armv7-timer"]);
    // Secure physical, non-secure physical, virtual, hypervisor. Each a PPI, level-high, for
    // the one core (flags 0x104: CPU mask 0x1 in bits 15:8, as QEMU writes them for -smp 1).
    let interrupts: [[u32; 3]; 4] = [[1, 13, 0x104], [1, 14, 0x104], [1, 11, 0x104], [1, 10, 0x104]];
    w.property_u32s("interrupts", interrupts.as_flattened());
    w.end_node();

    w.begin_node("chosen");
    w.property_str("stdout-path", "/pl011@9000000");
    w.end_node();

    w.end_node();
    w.finish()
}

/// Raspberry Pi 4 Model B as QEMU's `raspi4b` and the firmware's 64-bit stub (armstub8)
/// present it: the low 948 MiB of RAM (below the VideoCore's share), four Cortex-A72 cores
/// parked in the stub's spin table in the first page, and the BCM2711 peripherals behind
/// `/soc`, whose `ranges` map the VideoCore bus addresses the datasheet uses onto the ARM's
/// view (BCM2711 ARM Peripherals, §1.2 "Address map").
pub fn rpi4_fallback() -> Vec<u8> {
    let mut w = FdtWriter::new();
    // The spin-table stub and its release addresses live in this page.
    w.reserve_memory(0x0, 0x1000);
    w.begin_node("");
    w.property_str("model", "Raspberry Pi 4 Model B (built-in tree)");
    w.property_strs("compatible", &["raspberrypi,4-model-b", "brcm,bcm2711"]);
    w.property_u32s("#address-cells", &[2]);
    w.property_u32s("#size-cells", &[1]);

    w.begin_node("memory@0");
    w.property_str("device_type", "memory");
    w.property_u32s("reg", &[0x0, 0x0, 0x3b40_0000]);
    w.end_node();

    w.begin_node("cpus");
    w.property_u32s("#address-cells", &[1]);
    w.property_u32s("#size-cells", &[0]);
    for (core, release_addr) in [0xd8, 0xe0, 0xe8, 0xf0].into_iter().enumerate() {
        w.begin_node(&format!("cpu@{core}"));
        w.property_str("device_type", "cpu");
        w.property_str("compatible", "arm,cortex-a72");
        w.property_u32s("reg", &[core as u32]);
        w.property_str("enable-method", "spin-table");
        w.property_u64("cpu-release-addr", release_addr);
        w.end_node();
    }
    w.end_node();

    w.begin_node("soc");
    w.property_str("compatible", "simple-bus");
    w.property_u32s("#address-cells", &[1]);
    w.property_u32s("#size-cells", &[1]);
    // (bus address, CPU address as two cells, size): the main peripherals, the PCIe/Ethernet
    // block, and the ARM-local block holding the GIC.
    let ranges: [[u32; 4]; 3] = [
        [0x7e00_0000, 0x0, 0xfe00_0000, 0x0180_0000],
        [0x7c00_0000, 0x0, 0xfc00_0000, 0x0200_0000],
        [0x4000_0000, 0x0, 0xff80_0000, 0x0080_0000],
    ];
    w.property_u32s("ranges", ranges.as_flattened());

    w.begin_node("serial@7e201000");
    w.property_strs("compatible", &["arm,pl011", "arm,primecell"]);
    w.property_u32s("reg", &[0x7e20_1000, 0x200]);
    // The firmware sets the UART clock to 48 MHz (config.txt `init_uart_clock` default).
    w.property_u32s("clock-frequency", &[48_000_000]);
    // SPI 121, level-high (bcm2711.dtsi, uart0).
    w.property_u32s("interrupts", &[0, 121, 4]);
    w.end_node();

    w.begin_node("interrupt-controller@40041000");
    w.property_str("compatible", "arm,gic-400");
    w.property_bytes("interrupt-controller", &[]);
    w.property_u32s("#interrupt-cells", &[3]);
    // Distributor, then CPU interface.
    w.property_u32s("reg", &[0x4004_1000, 0x1000, 0x4004_2000, 0x2000]);
    w.end_node();
    w.end_node();

    w.begin_node("aliases");
    w.property_str("serial0", "/soc/serial@7e201000");
    w.end_node();

    w.begin_node("chosen");
    w.property_str("stdout-path", "serial0:115200n8");
    w.end_node();

    w.begin_node("timer");
    w.property_str("compatible", "arm,armv8-timer");
    // As above, with all four cores in the CPU mask and level-low (the BCM2711 tree's flags).
    let interrupts: [[u32; 3]; 4] = [[1, 13, 0xf08], [1, 14, 0xf08], [1, 11, 0xf08], [1, 10, 0xf08]];
    w.property_u32s("interrupts", interrupts.as_flattened());
    w.end_node();

    w.end_node();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{PhysAddr, PhysRange};
    use crate::bootinfo::{CpuInfo, EnableMethod, GicInfo, PsciConduit, TimerInfo, UartInfo, UartKind};
    use crate::devicetree::parse;

    fn range(base: u64, size_bytes: u64) -> PhysRange {
        PhysRange::new(PhysAddr(base), size_bytes)
    }

    #[test]
    fn virt_fallback_describes_qemu_virt_defaults() {
        let blob = virt_fallback();
        let info = parse(&blob).unwrap();
        assert_eq!(info.model, "QEMU virt (built-in tree)");
        assert_eq!(info.memory.as_slice(), [range(0x4000_0000, 128 << 20)]);
        assert!(info.reserved.is_empty());
        assert_eq!(info.cpus.as_slice(), [CpuInfo { mpidr: 0, enable_method: EnableMethod::Psci }]);
        assert_eq!(info.psci, Some(PsciConduit::Hvc));
        assert_eq!(
            info.gic,
            GicInfo::V2 {
                distributor: range(0x0800_0000, 0x1_0000),
                cpu_interface: range(0x0801_0000, 0x1_0000),
            }
        );
        assert_eq!(
            info.console,
            Some(UartInfo {
                kind: UartKind::Pl011,
                regs: range(0x0900_0000, 0x1000),
                clock_hz: None,
                intid: Some(33)
            })
        );
        assert_eq!(info.timer, TimerInfo { physical_intid: 30, virtual_intid: 27, frequency_hz: None });
        assert_eq!(info.bootargs, "");
    }

    #[test]
    fn rpi4_fallback_describes_the_board_with_translated_addresses() {
        let blob = rpi4_fallback();
        let info = parse(&blob).unwrap();
        assert_eq!(info.model, "Raspberry Pi 4 Model B (built-in tree)");
        assert_eq!(info.memory.as_slice(), [range(0, 0x3b40_0000)]);
        assert_eq!(info.reserved.as_slice(), [range(0, 0x1000)]);
        let cpus: Vec<_> = [0xd8, 0xe0, 0xe8, 0xf0]
            .into_iter()
            .enumerate()
            .map(|(core, release)| CpuInfo {
                mpidr: core as u64,
                enable_method: EnableMethod::SpinTable { release_addr: PhysAddr(release) },
            })
            .collect();
        assert_eq!(info.cpus.as_slice(), cpus);
        assert_eq!(info.psci, None);
        assert_eq!(
            info.gic,
            GicInfo::V2 {
                distributor: range(0xff84_1000, 0x1000),
                cpu_interface: range(0xff84_2000, 0x2000),
            }
        );
        assert_eq!(
            info.console,
            Some(UartInfo {
                kind: UartKind::Pl011,
                regs: range(0xfe20_1000, 0x200),
                clock_hz: Some(48_000_000),
                intid: Some(153),
            })
        );
        assert_eq!(info.timer, TimerInfo { physical_intid: 30, virtual_intid: 27, frequency_hz: None });
        assert_eq!(info.bootargs, "");
    }

    #[test]
    fn fallback_trees_stay_small_enough_to_embed() {
        // Both go into every image of their board; a page each is the budget.
        assert!(virt_fallback().len() <= 4096);
        assert!(rpi4_fallback().len() <= 4096);
    }
}
