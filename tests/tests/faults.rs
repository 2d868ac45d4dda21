//! What the CPU driver does with bad input and with its own failures: a corrupt device
//! tree gets one clear line, and a kernel fault, panic or stack overflow is reported with
//! the core, the decoded syndrome, the addresses and a symbolized backtrace.

use flotilla_tests::{Board, Boot, Machine};
use std::time::Duration;

fn selftest(name: &str) -> Boot {
    let machine =
        Machine { smp: 2, append: Some(format!("flotilla.selftest={name}")), ..Machine::new(Board::Virt) };
    let boot = Boot::start(&machine);
    boot.wait_for("all 2 cpu drivers online");
    boot
}

#[test]
fn corrupt_device_tree_is_refused_with_one_clear_line() {
    let dir = xtask::setup::workspace_root().join("target").join("test-files").join("corrupt-dtb");
    std::fs::create_dir_all(&dir).expect("creating a test directory");
    let machine = Machine::new(Board::Virt);
    let good = flotilla_tests::dtb::dump_qemu_tree(&machine, &dir, "good.dtb");
    let bad = flotilla_tests::dtb::with_corrupt_property_name(&std::fs::read(&good).unwrap(), "cpu@");
    let bad_path = dir.join("bad.dtb");
    std::fs::write(&bad_path, bad).unwrap();

    let boot = Boot::start(&Machine { dtb: Some(bad_path), ..machine });
    let line = boot.wait_for("flotilla: cannot boot");
    assert!(line.contains("device tree: malformed at byte 0x"), "{line}");
    assert!(line.contains("property name offset lies outside the strings block"), "{line}");
    let lines = boot.settle(Duration::from_secs(1));
    assert_eq!(lines.len(), 1, "exactly one line, then a halt: {lines:?}");
}

#[test]
fn kernel_fault_reports_core_syndrome_addresses_and_backtrace() {
    let boot = selftest("kernel-fault");
    boot.wait_for("core 1: kernel fault (El1Sync)");
    let esr = boot.wait_for("core 1:   ESR ");
    assert!(esr.contains("data abort from EL1 (permission fault, level 3; write)"), "{esr}");
    boot.wait_for("core 1:   FAR 0xffffff80");
    let elr = boot.wait_for("core 1:   ELR ");
    assert!(elr.contains("cpu_driver::kernel::inject+0x"), "ELR is symbolized: {elr}");
    boot.wait_for("core 1:     #0 ");
    // The fault happened in an IPI handler: the chain runs back through the vector code.
    let frame = boot.wait_for("save_rest+0x");
    assert!(frame.starts_with("core 1:     #"), "{frame}");
}

#[test]
fn kernel_panic_reports_message_location_and_backtrace() {
    let boot = selftest("kernel-panic");
    let line = boot.wait_for("core 1: kernel panic at ");
    assert!(line.contains("cpu_driver/src/kernel.rs:"), "{line}");
    assert!(line.contains("self-test panic requested on the kernel command line"), "{line}");
    boot.wait_for("core::panicking::panic_fmt+0x");
    boot.wait_for("cpu_driver::kernel::inject+0x");
}

#[test]
fn kernel_stack_overflow_is_caught_by_the_guard_page_and_reported_as_such() {
    let boot = selftest("stack-overflow");
    boot.wait_for("core 1: kernel stack overflow (El1Sync)");
    let esr = boot.wait_for("core 1:   ESR ");
    assert!(esr.contains("translation fault, level 3; write"), "{esr}");
    boot.wait_for("cpu_driver::kernel::overflow_the_stack+0x");
    boot.wait_for("more times");
}

#[test]
fn a_fault_on_one_core_leaves_the_others_running() {
    let boot = selftest("kernel-fault");
    // Core 0 hears of it (an IPI and the mailbox) and is still there to say so.
    boot.wait_for("core 0: core 1 stopped on a fatal error; 1 of 2 cores still running");
}

#[test]
fn idle_cores_sleep_so_qemu_stays_well_under_one_host_core() {
    let boot = Boot::start(&Machine::new(Board::Virt));
    boot.wait_for("all 4 cores online");
    // Let boot-time work finish, then measure QEMU's own CPU use over a window.
    std::thread::sleep(Duration::from_secs(1));
    let (cpu_before, wall_before) = (boot.cpu_time(), std::time::Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let used = boot.cpu_time() - cpu_before;
    let share = used.as_secs_f64() / wall_before.elapsed().as_secs_f64();
    assert!(share < 0.5, "idle QEMU used {:.0}% of a host core", share * 100.0);
}

#[test]
fn cores_that_cannot_start_are_reported_and_boot_goes_on() {
    use boot::devicetree::boards::{virt_tree, VirtCpu};
    let psci = |mpidr| VirtCpu { mpidr, enable_method: "psci", release_addr: None };
    let tree = virt_tree(
        1 << 30,
        &[
            psci(0),
            psci(1),
            // No such core: QEMU has two. PSCI CPU_ON refuses it.
            psci(7),
            // A method Flotilla does not know.
            VirtCpu { mpidr: 2, enable_method: "acme,teleport", release_addr: None },
            // A spin-table nobody spins on: released, but never heard from.
            VirtCpu { mpidr: 3, enable_method: "spin-table", release_addr: Some(0x4000_0f00) },
        ],
    );
    let dir = xtask::setup::workspace_root().join("target").join("test-files").join("missing-cores");
    std::fs::create_dir_all(&dir).expect("creating a test directory");
    let path = dir.join("five-cpus.dtb");
    std::fs::write(&path, tree).unwrap();

    let boot = Boot::start(&Machine { smp: 2, dtb: Some(path), ..Machine::new(Board::Virt) });
    let refused = boot.wait_for("core 2 (mpidr 0x7): not started");
    assert!(refused.contains("PSCI CPU_ON failed"), "{refused}");
    let unknown = boot.wait_for("core 3 (mpidr 0x2): not started");
    assert!(unknown.contains("enable-method is missing or unsupported"), "{unknown}");
    boot.wait_for("core 4 (mpidr 0x3): did not come up within");
    let summary = boot.wait_for("cpu drivers online");
    assert!(summary.starts_with("all 2 cpu drivers online (5 in the device tree"), "{summary}");
    // The monitors of the cores that never ran are missed by the mesh, which goes on.
    for core in 2..5 {
        boot.wait_for(&format!("monitor: core {core}'s monitor did not answer"));
    }
    boot.wait_for("all 2 cores online (monitors joined over 1 URPC channel)");
}
