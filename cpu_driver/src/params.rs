//! What a CPU driver needs to know about the machine, as one self-contained value.
//!
//! Only the boot core reads the device tree. It condenses what every core needs into
//! `KernelParams` (no pointers into the blob, no references to its own state) and writes a
//! copy into each other core's private memory before starting it: an explicit, one-way
//! message, after which nothing of the boot core's is reachable from the new core.

use arrayvec::ArrayVec;
use boot::bootinfo::{BootInfo, GicInfo, TimerInfo, UartInfo, MAX_CPUS};

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

impl SelfTest {
    /// Reads `flotilla.selftest=NAME` from the kernel command line.
    pub fn from_bootargs(bootargs: &str) -> SelfTest {
        let value = bootargs.split_ascii_whitespace().find_map(|arg| arg.strip_prefix("flotilla.selftest="));
        match value {
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
    }
}
