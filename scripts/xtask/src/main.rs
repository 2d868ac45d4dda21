//! `cargo xtask`: the command-line front end of Flotilla's build driver (see the library
//! docs in `lib.rs` for what each part does).

use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use xtask::qemu::Machine;
use xtask::{bench, image, setup, Board};

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  build [--board virt|rpi4]      build the bootable image; prints its path last
  run [options] [-- QEMU ARGS]   build and boot under QEMU, console on this terminal
      --board virt|rpi4   (virt)      --smp N        (4)       --cpu MODEL  (cortex-a72)
      --gic 2|3           (2)         --el2          enter at EL2, PSCI over smc
      --mem SIZE          (1G)        --dtb FILE     pass this device tree
      --append ARGS       kernel command line
      --icount            count guest instructions deterministically
      --gdb               wait for gdb on localhost:1234 (see README)
  test                           run every test: host unit tests and QEMU boots
  testsuite [--board B] [--smp N] [--gic 2|3] [--suite kernel|system|all]
                                 boot the in-OS test suites (all: the kernel suite as the
                                 first program, then the system suite under the monitors);
                                 fails if any test does
  bench [NAME[,NAME]|all] [--smp N] [--gic 2|3] [--mode icount|wallclock]
        [--cores-sweep] [--repeat-check] [--linux]
                                 boot the benchmarks (boot, urpc, unmap, update, revoke,
                                 compute; all by default) and write target/bench/MODE/
                                 *.csv and *.svg: icount counts instructions, wallclock
                                 runs the cores in parallel and adds ratios; all also
                                 boots 8 cores (GICv3) for update, compute, unmap, revoke;
                                 --cores-sweep also boots 2..N cores, --repeat-check boots
                                 twice and fails unless the counts are identical.
                                 all with neither --mode nor --linux runs the matrix:
                                 both systems in both modes, then a headline table
  bench --linux [urpc|update|unmap|boot|all] [--mode M] [--smp N] [--gic 2|3] [--repeat-check]
                                 the Linux baseline: boot Debian's arm64 kernel (fetched
                                 once into target/linux/) on the same machine, write
                                 target/bench/linux/MODE/ and target/bench/side-by-side/MODE/
  qemu-setup                     install QEMU 9.0 or newer with the system's package manager
  setup                          add Rust targets, find or install QEMU, fetch Pi 4 files
  rpi4-dtb                       fetch bcm2711-rpi-4-b.dtb into target/firmware/
  rpi4-firmware                  fetch the Raspberry Pi 4 boot files into target/firmware/rpi4-boot/";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else { bail!("no command given\n\n{USAGE}") };
    match command.as_str() {
        "build" => {
            let machine = parse_machine(rest)?;
            let built = image::build(machine.board)?;
            println!("{}", built.image.display());
        }
        "run" => return run_qemu(&parse_machine(rest)?),
        "testsuite" => {
            let (suites, rest) = take_option(rest, "--suite")?;
            return run_testsuites(parse_machine(&rest)?, suites.as_deref().unwrap_or("all"));
        }
        "test" => return run_tests(),
        "bench" => bench::run(&bench::Options::parse(rest)?)?,
        "qemu-setup" => setup::qemu_setup()?,
        "setup" => {
            setup::ensure_rust_targets(&xtask::TARGETS)?;
            println!("qemu: {}", setup::qemu_binary()?.display());
            println!("rpi4 boot files: {}", setup::rpi4_firmware(&firmware_cache())?.display());
        }
        "rpi4-dtb" => println!("{}", setup::rpi4_dtb(&firmware_cache())?.display()),
        "rpi4-firmware" => println!("{}", setup::rpi4_firmware(&firmware_cache())?.display()),
        "help" | "-h" | "--help" => println!("{USAGE}"),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Downloaded firmware lives with the build output, so `cargo clean` drops it too.
fn firmware_cache() -> std::path::PathBuf {
    setup::workspace_root().join("target").join("firmware")
}

fn parse_machine(args: &[String]) -> Result<Machine> {
    let mut board = Board::Virt;
    let mut machine_args = Vec::new();
    let mut it = args.iter();
    // The board decides the defaults, so read it first.
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        }
        if arg == "--board" {
            board = Board::parse(it.next().context("--board needs a value")?)?;
        } else {
            machine_args.push(arg.clone());
        }
    }
    let mut machine = Machine::new(board);
    machine.extra = it.cloned().collect();
    let mut it = machine_args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--smp" => machine.smp = value("--smp")?.parse().context("--smp takes a number of cores")?,
            "--cpu" => machine.cpu = value("--cpu")?,
            "--gic" => machine.gic = value("--gic")?.parse().context("--gic takes 2 or 3")?,
            "--mem" => machine.mem = value("--mem")?,
            "--dtb" => machine.dtb = Some(value("--dtb")?.into()),
            "--append" => machine.append = Some(value("--append")?),
            "--el2" => machine.el2 = true,
            "--icount" => machine.icount = true,
            "--gdb" => machine.gdb = true,
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    machine.validate()?;
    Ok(machine)
}

fn run_qemu(machine: &Machine) -> Result<ExitCode> {
    let built = image::build(machine.board)?;
    let qemu = setup::qemu_binary()?;
    if machine.gdb {
        eprintln!(
            "QEMU waits for gdb on localhost:1234; in another terminal:\n  gdb-multiarch {} -ex 'target remote :1234'",
            built.elf.display()
        );
    }
    eprintln!("(Ctrl-A X leaves QEMU)");
    let status = machine.command(&qemu, &built.image, true).status().context("starting QEMU")?;
    Ok(exit_code(status))
}

/// Runs the suites `which` names (`kernel`, `system` or `all`), one boot each; fails with
/// the first failing suite's status.
fn run_testsuites(machine: Machine, which: &str) -> Result<ExitCode> {
    let suites: &[&str] = match which {
        "kernel" => &["flotilla.first=testsuite"],
        "system" => &["flotilla.init=testsuite"],
        "all" => &["flotilla.first=testsuite", "flotilla.init=testsuite"],
        other => bail!("unknown suite `{other}` (kernel, system or all)"),
    };
    for how in suites {
        let status = run_testsuite(machine.clone(), how)?;
        if status != ExitCode::SUCCESS {
            return Ok(status);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The value of `--name VALUE` in `args`, and the other arguments.
fn take_option(args: &[String], name: &str) -> Result<(Option<String>, Vec<String>)> {
    let mut rest = Vec::new();
    let mut value = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == name {
            value = Some(args.next().with_context(|| format!("{name} needs a value"))?.clone());
        } else {
            rest.push(arg.clone());
        }
    }
    Ok((value, rest))
}

/// Boots with the test suite started as `how` says (`flotilla.first=testsuite`: as the
/// first program, the kernel suite; `flotilla.init=testsuite`: by the boot core's monitor,
/// the system suite) and relays its output; QEMU's exit status is the suite's (0 only if
/// every test passed).
fn run_testsuite(mut machine: Machine, how: &str) -> Result<ExitCode> {
    machine.semihosting = true;
    let first = how;
    machine.append = Some(match machine.append.take() {
        Some(more) => format!("{first} {more}"),
        None => first.to_string(),
    });
    let built = image::build(machine.board)?;
    let qemu = setup::qemu_binary()?;
    let status = machine
        .command(&qemu, &built.image, false)
        .stdin(std::process::Stdio::null())
        .status()
        .context("starting QEMU")?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    ExitCode::from(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

/// Every test: the host unit tests of each crate and the QEMU integration tests (which
/// build the images they boot through this crate's library). Ends with one summary line,
/// `tests: N passed, M failed`, totalled over every test binary.
fn run_tests() -> Result<ExitCode> {
    setup::ensure_rust_targets(&xtask::TARGETS)?;
    setup::qemu_binary()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = std::process::Command::new(cargo)
        .current_dir(setup::workspace_root())
        .args(["test", "--workspace", "--no-fail-fast", "--lib", "--bins", "--tests"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running cargo test")?;
    let stdout = child.stdout.take().context("cargo test's output")?;
    let mut totals = TestTotals::default();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.context("reading cargo test's output")?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait().context("waiting for cargo test")?;
    println!("tests: {} passed, {} failed", totals.passed, totals.failed);
    Ok(exit_code(status))
}

/// Sums the `test result: ok. N passed; M failed; ...` lines of cargo test.
#[derive(Default)]
struct TestTotals {
    passed: u64,
    failed: u64,
}

impl TestTotals {
    fn add(&mut self, line: &str) {
        let Some(result) = line.strip_prefix("test result: ") else { return };
        for part in result.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(count), Some(what)) = (words.next(), words.next()) {
                let count: u64 = count.parse().unwrap_or(0);
                match what {
                    "passed" => self.passed += count,
                    "failed" => self.failed += count,
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_result_lines_are_totalled() {
        let mut totals = TestTotals::default();
        totals.add(
            "test result: ok. 125 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.91s",
        );
        totals.add("test result: FAILED. 4 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out");
        totals.add("test something ... ok");
        assert_eq!((totals.passed, totals.failed), (129, 2));
    }
}
