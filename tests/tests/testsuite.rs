//! The in-OS test suite (`apps/testsuite`), booted as the first program on several
//! configurations: every test must pass, QEMU must exit with the suite's status, and the
//! kernel must not fault or panic along the way.

use flotilla_tests::{Board, Boot, Machine};

/// The least number of tests the suite runs.
const MIN_TESTS: usize = 80;

fn run_suite(mut machine: Machine) {
    machine.semihosting = true;
    machine.append = Some("flotilla.first=testsuite".into());
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
    assert!(passed >= MIN_TESTS, "only {passed} tests\n{console}");
    assert_eq!(ok_lines, passed, "one `ok` line per passed test\n{console}");
    assert!(!lines.iter().any(|l| l.contains("kernel panic") || l.contains("kernel fault")), "{console}");
    assert!(status.success(), "QEMU exited with {status:?}\n{console}");
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
