//! Every configuration Flotilla must boot on reaches `all N cores online`, with each core's
//! CPU driver, tick, IPI and private state checked (see `flotilla_tests::console`).

use flotilla_tests::console::expect_all_online;
use flotilla_tests::{Board, Boot, Machine};

fn virt(cpu: &str, gic: u8, smp: u32) -> Machine {
    Machine { cpu: cpu.into(), gic, smp, ..Machine::new(Board::Virt) }
}

fn boots_all_cores(machine: Machine) -> flotilla_tests::console::Bringup {
    let boot = Boot::start(&machine);
    expect_all_online(&boot, machine.smp as usize)
}

#[test]
fn virt_cortex_a53_gicv2_brings_up_4_cores() {
    boots_all_cores(virt("cortex-a53", 2, 4));
}

#[test]
fn virt_cortex_a57_gicv2_brings_up_4_cores() {
    boots_all_cores(virt("cortex-a57", 2, 4));
}

#[test]
fn virt_cortex_a72_gicv2_brings_up_4_cores_entered_at_el1() {
    let up = boots_all_cores(virt("cortex-a72", 2, 4));
    assert!(up.entry_levels.iter().all(|l| l == "EL1"), "{:?}", up.entry_levels);
    assert!(up.lines.iter().any(|l| l.contains("GICv2, PSCI via hvc")));
}

#[test]
fn virt_cortex_a76_gicv2_brings_up_4_cores() {
    boots_all_cores(virt("cortex-a76", 2, 4));
}

#[test]
fn virt_max_cpu_gicv2_brings_up_4_cores() {
    boots_all_cores(virt("max", 2, 4));
}

#[test]
fn virt_gicv3_single_core_answers_its_own_ipi() {
    boots_all_cores(virt("cortex-a72", 3, 1));
}

#[test]
fn virt_gicv3_brings_up_2_cores() {
    boots_all_cores(virt("cortex-a72", 3, 2));
}

#[test]
fn virt_gicv3_brings_up_8_cores() {
    let up = boots_all_cores(virt("cortex-a72", 3, 8));
    assert!(up.lines.iter().any(|l| l.contains("GICv3")));
}

#[test]
fn virt_gicv3_brings_up_64_cores_across_aff1_clusters() {
    // 4 GiB: the boot core's monitor makes a channel frame for each of the 2016 pairs of
    // the others, and every monitor keeps some RAM for itself.
    let up = boots_all_cores(Machine { mem: "4G".into(), ..virt("cortex-a72", 3, 64) });
    // Cores 16+ sit in further clusters: their MPIDRs are not their indexes.
    assert!(up.lines.iter().any(|l| l.starts_with("core 16: cpu driver online (mpidr 0x100,")));
    assert!(up.lines.iter().any(|l| l.starts_with("core 63: cpu driver online (mpidr 0x30f,")));
}

#[test]
fn virt_with_virtualization_enters_at_el2_and_calls_psci_through_smc() {
    let machine = Machine { el2: true, ..virt("cortex-a72", 3, 4) };
    let up = boots_all_cores(machine);
    assert!(up.entry_levels.iter().all(|l| l == "EL2"), "{:?}", up.entry_levels);
    assert!(up.lines.iter().any(|l| l.contains("PSCI via smc")));
}

#[test]
fn virt_with_128_mib_of_ram_boots() {
    let up = boots_all_cores(Machine { mem: "128M".into(), ..virt("cortex-a72", 2, 4) });
    assert!(up.lines.iter().any(|l| l.contains(" 128 MiB RAM")));
}

#[test]
fn virt_with_4_gib_of_ram_boots() {
    let up = boots_all_cores(Machine { mem: "4G".into(), ..virt("cortex-a72", 2, 4) });
    assert!(up.lines.iter().any(|l| l.contains(" 4096 MiB RAM")));
}

#[test]
fn virt_boots_with_a_device_tree_passed_by_the_user() {
    let dir = tempdir("user-dtb");
    let machine = virt("cortex-a72", 2, 4);
    let tree = flotilla_tests::dtb::dump_qemu_tree(&machine, &dir, "virt.dtb");
    boots_all_cores(Machine { dtb: Some(tree), ..machine });
}

#[test]
fn raspi4b_without_a_device_tree_uses_the_built_in_one() {
    let up = boots_all_cores(Machine::new(Board::Rpi4));
    assert!(up.entry_levels.iter().all(|l| l == "EL2"), "{:?}", up.entry_levels);
    assert!(up.lines.iter().any(|l| l.contains("device tree built in")));
    assert!(up.lines.iter().any(|l| l.contains("no PSCI")), "cores come up by spin-table");
}

#[test]
fn raspi4b_with_the_firmware_device_tree_boots_all_cores() {
    let machine = Machine { dtb: Some(flotilla_tests::rpi4_dtb()), ..Machine::new(Board::Rpi4) };
    let up = boots_all_cores(machine);
    assert!(up.lines.iter().any(|l| l.contains("on Raspberry Pi 4 Model B") && !l.contains("built-in")));
    assert!(up.lines.iter().any(|l| l.contains("device tree from the loader")));
}

/// A fresh, empty directory under the build output for one test's files.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = xtask::setup::workspace_root().join("target").join("test-files").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a test directory");
    dir
}

/// Each core's monitor comes up at EL0, and the boot core's starts init, which starts a
/// program of its own and sees it end.
fn expect_user_space(boot: &Boot, cores: usize) {
    for core in 0..cores {
        boot.wait_for(&format!("monitor: core {core} up, "));
    }
    boot.wait_for("init: starting");
    boot.wait_for("hello from a user program (arg 0)");
    boot.wait_for("init: hello ended: Ok(Exited(0))");
}

#[test]
fn every_core_starts_its_monitor_and_core_0_starts_init() {
    let machine = virt("cortex-a72", 3, 4);
    let boot = Boot::start(&machine);
    expect_all_online(&boot, 4);
    expect_user_space(&boot, 4);
}

#[test]
fn virt_gicv3_starts_a_monitor_on_each_of_eight_cores_and_init() {
    let boot = Boot::start(&virt("cortex-a72", 3, 8));
    expect_all_online(&boot, 8);
    expect_user_space(&boot, 8);
}

#[test]
fn raspi4b_starts_a_monitor_on_every_core_and_init() {
    let boot = Boot::start(&Machine::new(Board::Rpi4));
    expect_all_online(&boot, 4);
    expect_user_space(&boot, 4);
}
