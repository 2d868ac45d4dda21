//! What a CPU driver needs to know about the machine, as one self-contained value.
//!
//! Only the boot core reads the device tree. It condenses what every core needs into
//! `KernelParams` (no pointers into the blob, no references to its own state) and writes a
//! copy into each other core's private memory before starting it: an explicit, one-way
//! message, after which nothing of the boot core's is reachable from the new core.

use arrayvec::{ArrayString, ArrayVec};
use boot::bootinfo::{BootInfo, GicInfo, PsciConduit, TimerInfo, UartInfo, MAX_CPUS};
use boot::{PhysAddr, PhysRange};

/// A fault the kernel injects into itself on request (`flotilla.selftest=` on the kernel
/// command line), so tests can check the fault path prints what it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfTest {
    None,
    /// A write to kernel text: a permission fault at EL1.
    KernelFault,
    /// A Rust panic in the CPU driver.
    KernelPanic,
    /// Unbounded recursion into the guard page under the kernel stack.
    StackOverflow,
}

/// The value of `key` (which ends in `=`) on the kernel command line.
fn bootarg<'a>(bootargs: &'a str, key: &str) -> Option<&'a str> {
    bootargs.split_ascii_whitespace().find_map(|arg| arg.strip_prefix(key))
}

impl SelfTest {
    /// Reads `flotilla.selftest=NAME` from the kernel command line.
    pub fn from_bootargs(bootargs: &str) -> SelfTest {
        match bootarg(bootargs, "flotilla.selftest=") {
            Some("kernel-fault") => SelfTest::KernelFault,
            Some("kernel-panic") => SelfTest::KernelPanic,
            Some("stack-overflow") => SelfTest::StackOverflow,
            _ => SelfTest::None,
        }
    }
}

/// Start-up parameters, identical on every core.
#[derive(Clone)]
pub struct KernelParams {
    pub console: Option<UartInfo>,
    pub gic: GicInfo,
    pub timer: TimerInfo,
    /// MPIDR of each logical core: index 0 is the boot core, then the others in device
    /// tree order.
    pub core_mpidrs: ArrayVec<u64, MAX_CPUS>,
    pub selftest: SelfTest,
    pub psci: Option<PsciConduit>,
    /// Power off through semihosting (QEMU reports the exit status) rather than PSCI:
    /// `flotilla.semihosting` on the command line.
    pub semihosting: bool,
    /// Physical address the kernel image was loaded at (its text and read-only data are
    /// shared by every core, boot modules included).
    pub image_pa: PhysAddr,
    /// The RAM this core owns: different in each core's copy.
    pub ram: PhysRange,
    /// Every core's share of RAM, by logical core id (empty for a core that did not start):
    /// with the boot channels, the memory a monitor may make capabilities to.
    pub ram_shares: ArrayVec<PhysRange, MAX_CPUS>,
    /// The boot channels' pages (one per core but the boot core), zeroed by the boot core.
    pub boot_channels: PhysRange,
    /// The boot module each core starts as its first domain (`flotilla.first=NAME`);
    /// empty for the archive's first module.
    pub first_module: ArrayString<{ abi::modules::NAME_BYTES }>,
    /// The program the boot core's monitor starts instead of `init`:
    /// `flotilla.init=NAME` on the command line (empty: `init`).
    pub init_module: ArrayString<{ abi::modules::NAME_BYTES }>,
    /// What that program is asked to do, passed on in its argument
    /// (`libos::monitor::INIT_OPTIONS_SHIFT`): `flotilla.init_arg=N` on the command line,
    /// decimal or `0x` hexadecimal, below 2^32 (0 when absent or not such a number).
    pub init_options: u32,
}

/// Reads a number below 2^32, in decimal or with `0x` in hexadecimal.
fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl KernelParams {
    /// Condenses `info`; `boot_mpidr` is the boot core's own affinity.
    pub fn new(info: &BootInfo<'_>, boot_mpidr: u64) -> KernelParams {
        let mut core_mpidrs = ArrayVec::new();
        core_mpidrs.push(boot_mpidr);
        for cpu in &info.cpus {
            if cpu.mpidr != boot_mpidr {
                let _ = core_mpidrs.try_push(cpu.mpidr);
            }
        }
        KernelParams {
            console: info.console,
            gic: info.gic.clone(),
            timer: info.timer,
            core_mpidrs,
            selftest: SelfTest::from_bootargs(info.bootargs),
            psci: info.psci,
            semihosting: info.bootargs.split_ascii_whitespace().any(|a| a == "flotilla.semihosting"),
            image_pa: PhysAddr(0),
            ram: PhysRange::default(),
            ram_shares: ArrayVec::new(),
            boot_channels: PhysRange::default(),
            first_module: bootarg(info.bootargs, "flotilla.first=")
                .and_then(|name| ArrayString::from(name).ok())
                .unwrap_or_default(),
            init_module: bootarg(info.bootargs, "flotilla.init=")
                .and_then(|name| ArrayString::from(name).ok())
                .unwrap_or_default(),
            init_options: bootarg(info.bootargs, "flotilla.init_arg=").and_then(parse_u32).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selftest_is_read_from_the_command_line() {
        assert_eq!(
            SelfTest::from_bootargs("console=x flotilla.selftest=stack-overflow"),
            SelfTest::StackOverflow
        );
        assert_eq!(SelfTest::from_bootargs("flotilla.selftest=kernel-fault"), SelfTest::KernelFault);
        assert_eq!(SelfTest::from_bootargs("flotilla.selftest=kernel-panic quiet"), SelfTest::KernelPanic);
        assert_eq!(SelfTest::from_bootargs("flotilla.selftest=nonsense"), SelfTest::None);
        assert_eq!(SelfTest::from_bootargs(""), SelfTest::None);
    }

    #[test]
    fn the_boot_core_is_core_0_and_the_rest_keep_device_tree_order() {
        let blob = boot::devicetree::boards::rpi4_fallback();
        let info = boot::devicetree::parse(&blob).unwrap();
        let params = KernelParams::new(&info, 2);
        assert_eq!(params.core_mpidrs.as_slice(), &[2, 0, 1, 3]);
        assert_eq!(params.console, info.console);
        assert_eq!(params.gic, info.gic);
        assert_eq!(params.timer, info.timer);
        assert_eq!(params.selftest, SelfTest::None);
        assert!(params.first_module.is_empty() && params.init_module.is_empty());
        assert_eq!(params.psci, info.psci);
        // Filled in per core by the boot core once memory is divided.
        assert_eq!((params.image_pa, params.ram), (PhysAddr(0), PhysRange::default()));
        assert!(params.ram_shares.is_empty());
        assert_eq!(params.boot_channels, PhysRange::default());
    }

    #[test]
    fn the_first_module_can_be_named_on_the_command_line() {
        let blob = boot::devicetree::boards::rpi4_fallback();
        let mut info = boot::devicetree::parse(&blob).unwrap();
        info.bootargs = "quiet flotilla.first=hello flotilla.semihosting";
        let params = KernelParams::new(&info, 0);
        assert_eq!(params.first_module.as_str(), "hello");
        assert!(params.semihosting);
    }

    #[test]
    fn the_program_started_as_init_can_be_named_on_the_command_line() {
        let blob = boot::devicetree::boards::rpi4_fallback();
        let mut info = boot::devicetree::parse(&blob).unwrap();
        info.bootargs = "flotilla.init=testsuite";
        let params = KernelParams::new(&info, 0);
        assert_eq!(params.init_module.as_str(), "testsuite");
        assert!(params.first_module.is_empty());
        assert_eq!(params.init_options, 0);
    }

    #[test]
    fn the_init_options_are_a_decimal_or_hexadecimal_number_below_two_to_the_32() {
        let blob = boot::devicetree::boards::rpi4_fallback();
        let mut info = boot::devicetree::parse(&blob).unwrap();
        for (bootargs, options) in [
            ("flotilla.init=bench flotilla.init_arg=20", 20),
            ("flotilla.init_arg=0x14", 20),
            ("flotilla.init_arg=4294967295", u32::MAX),
            ("flotilla.init_arg=4294967296", 0),
            ("flotilla.init_arg=-1", 0),
            ("flotilla.init_arg=0xg", 0),
            ("flotilla.init_arg=", 0),
        ] {
            info.bootargs = bootargs;
            assert_eq!(KernelParams::new(&info, 0).init_options, options, "{bootargs}");
        }
    }
}
