//! The in-OS test suites (`apps/testsuite`) on several configurations: the kernel suite
//! booted as the first program, and the system suite started by the boot core's monitor
//! once every monitor joined. Every test must pass, QEMU must exit with the suite's status,
//! and the kernel must not fault or panic along the way.

use flotilla_tests::{Board, Boot, Machine};

/// The least number of tests the kernel suite runs.
const MIN_TESTS: usize = 80;
/// The least number of tests the system suite runs.
const MIN_SYSTEM_TESTS: usize = 20;

fn run_suite(machine: Machine) {
    run(machine, "flotilla.first=testsuite", MIN_TESTS);
}

fn run_system_suite(machine: Machine) {
    let cores = machine.smp;
    let boot = run(machine, "flotilla.init=testsuite", MIN_SYSTEM_TESTS);
    let channels = cores * (cores - 1) / 2;
    let s = if channels == 1 { "" } else { "s" };
    let online = format!("all {cores} cores online (monitors joined over {channels} URPC channel{s})");
    assert!(boot.contains(&online), "no `{online}`\n{}", boot.join("\n"));
}

/// Boots with the suite started as `how` says; returns the console lines.
fn run(mut machine: Machine, how: &str, min_tests: usize) -> Vec<String> {
    machine.semihosting = true;
    machine.append = Some(how.into());
    let mut boot = Boot::start(&machine);
    let status = boot.wait_exit();
    let lines = boot.lines();
    let console = lines.join("\n");
    let summary = lines
        .iter()
        .find_map(|l| l.strip_prefix("testsuite: "))
        .unwrap_or_else(|| panic!("no summary line\n{console}"));
    let (passed, failed) = summary
        .split_once(" passed, ")
        .and_then(|(p, rest)| {
            Some((p.parse::<usize>().ok()?, rest.strip_suffix(" failed")?.parse::<usize>().ok()?))
        })
        .unwrap_or_else(|| panic!("bad summary `{summary}`\n{console}"));
    let ok_lines = lines.iter().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(failed, 0, "{console}");
    assert!(passed >= min_tests, "only {passed} tests\n{console}");
    assert_eq!(ok_lines, passed, "one `ok` line per passed test\n{console}");
    assert!(!lines.iter().any(|l| l.contains("kernel panic") || l.contains("kernel fault")), "{console}");
    assert!(status.success(), "QEMU exited with {status:?}\n{console}");
    lines
}

#[test]
fn system_suite_passes_on_virt_with_two_cores() {
    run_system_suite(Machine { smp: 2, ..Machine::new(Board::Virt) });
}

#[test]
fn system_suite_passes_on_virt_with_four_cores() {
    run_system_suite(Machine { smp: 4, ..Machine::new(Board::Virt) });
}

#[test]
fn system_suite_passes_on_virt_gicv3_with_eight_cores() {
    run_system_suite(Machine { smp: 8, gic: 3, ..Machine::new(Board::Virt) });
}

#[test]
fn test_suite_passes_on_virt_with_two_cores() {
    run_suite(Machine { smp: 2, ..Machine::new(Board::Virt) });
}

#[test]
fn test_suite_passes_on_virt_gicv3_with_eight_cores() {
    run_suite(Machine { smp: 8, gic: 3, ..Machine::new(Board::Virt) });
}

#[test]
fn test_suite_passes_on_raspi4b() {
    run_suite(Machine::new(Board::Rpi4));
}

#[test]
fn system_suite_passes_on_raspi4b() {
    // Four cores released from the spin table, the capability protocol and names on the
    // Pi's GIC-400 and PL011.
    run_system_suite(Machine::new(Board::Rpi4));
}
