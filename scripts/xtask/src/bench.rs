//! `cargo xtask bench`: boots the `bench` program and turns what it prints into tables
//! and plots.
//!
//! The machine is QEMU `virt` with `-cpu max -icount shift=0,sleep=off`, where the
//! counter the program reads counts guest instructions (`docs/DESIGN.md` §9), and
//! `flotilla.init=bench`, so the boot core's monitor starts `apps/bench` in place of
//! init. The program runs every benchmark, prints one line per result, and powers off;
//! this command collects the lines from the console, checks them, and writes into
//! `target/bench/`:
//!
//! - `BENCHMARK.csv` for every benchmark, a row per result line, exactly as printed;
//! - `BENCHMARK.svg` for those with something to plot (see [`PLOTS`]): URPC round trip
//!   by core, one-way latency and throughput by message size, LMP round trip by messages
//!   in flight, each with the relevant baseline as a dashed line;
//! - `console.txt`, the whole console of the boot, to see what happened around a figure.
//!
//! The `boot` group adds a boot of the normal system (init, hello, the shell) on the same
//! machine, whose shell reports the counter at its first prompt ([`boot_to_prompt`]): the
//! `boot_prompt` line, and `prompt_instructions` in `boot.csv` and `boot.svg`.
//!
//! With `--cores-sweep` it also boots once for every core count from 2 up to `--smp`, and
//! plots the round trip to the highest-numbered core against the number of cores
//! (`urpc_rtt_sweep.csv`, `.svg`). With `--repeat-check` it boots the same machine a
//! second time and fails unless every line is the same: icount runs are meant to be
//! deterministic, and this is how that claim is checked rather than assumed.
//!
//! Under icount the cores run one after another and the counter counts the instructions
//! of all of them, so a cross-core figure includes what every core does meanwhile, in the
//! order QEMU's round-robin runs them: exact and repeatable, but it changes with the
//! number of cores booted. The sweep shows how much.
//!
//! `all` with neither `--mode` nor `--linux` is the matrix ([`Options::runs`]): Flotilla
//! and the Linux baseline ([`linux`]), each under icount and in wallclock mode, then a
//! table of headline figures of the four runs ([`headlines`]).
//!
//! A boot fails the command if QEMU exits with a nonzero status (the program found a
//! failed check), prints a `bench: error` line or a malformed one, or is not done within
//! [`BOOT_TIMEOUT`]. Parsing, tables and plots are plain functions ([`lines`], [`svg`])
//! with host tests.

pub mod initramfs;
pub mod lines;
pub mod linux;
pub mod svg;

use crate::qemu::Machine;
use crate::{image, setup, Board};
use anyhow::{bail, ensure, Context, Result};
use lines::{Console, Record};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use svg::{Chart, Scale, Series, Style};

/// How long one boot may take before it is taken for hung. An icount boot with 8 cores
/// runs the whole program in well under a minute on a slow host.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// How the counter is read: as instructions or as time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `-icount shift=0,sleep=off`: one tick per guest instruction, the cores emulated one
    /// after another on one host thread; deterministic.
    Icount,
    /// Multi-threaded TCG, no icount: the cores run in parallel on host threads and the
    /// counter is time, so only ratios measured in the same boot mean anything.
    Wallclock,
}

impl Mode {
    fn parse(text: &str) -> Result<Mode> {
        match text {
            "icount" => Ok(Mode::Icount),
            "wallclock" => Ok(Mode::Wallclock),
            other => bail!("unknown --mode `{other}` (icount or wallclock)"),
        }
    }

    /// The name of the mode, and of its directory under `target/bench/`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Icount => "icount",
            Mode::Wallclock => "wallclock",
        }
    }
}

/// The benchmark groups the wide boot of `bench all` runs: those that sweep the cores of
/// one boot.
const WIDE_GROUPS: [&str; 4] = ["update", "compute", "unmap", "revoke"];
/// The directory, under a run's own, of the wide boot's results.
pub fn wide_dir_name() -> String {
    format!("smp{WIDE_SMP}")
}

/// The wide boot's machine: 8 cores, which GICv2 allows too, but on GICv3 as larger
/// machines have it.
const WIDE_SMP: u32 = 8;
const WIDE_GIC: u8 = 3;

/// What `cargo xtask bench` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The benchmark groups to run (`libos::bench::NAMES`); empty for all of them.
    pub groups: Vec<String>,
    pub smp: u32,
    pub gic: u8,
    pub mode: Mode,
    /// Also boot 2 ..= smp cores and plot the round trip to the last core against them.
    pub cores_sweep: bool,
    /// Boot twice and fail unless both boots print the same lines.
    pub repeat_check: bool,
    /// `--linux`: boot Linux instead, running these benchmarks ([`linux`]).
    pub linux: Option<Vec<&'static str>>,
    /// Every group, and neither `--mode` nor `--linux`: the whole matrix, both systems in
    /// both modes ([`Options::runs`]).
    pub matrix: bool,
}

impl Options {
    /// Reads `[NAME[,NAME...]|all] [--smp N] [--gic 2|3] [--mode icount|wallclock]
    /// [--cores-sweep] [--repeat-check] [--linux]`. `--linux NAME` reads as it always did:
    /// the name is the benchmark.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            groups: Vec::new(),
            smp: 4,
            gic: 2,
            mode: Mode::Icount,
            cores_sweep: false,
            repeat_check: false,
            linux: None,
            matrix: false,
        };
        let (mut names, mut mode_given, mut linux) = (None, false, false);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().cloned().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--smp" => options.smp = value("--smp")?.parse().context("--smp takes a number of cores")?,
                "--gic" => options.gic = value("--gic")?.parse().context("--gic takes 2 or 3")?,
                "--mode" => {
                    options.mode = Mode::parse(&value("--mode")?)?;
                    mode_given = true;
                }
                "--cores-sweep" => options.cores_sweep = true,
                "--repeat-check" => options.repeat_check = true,
                "--linux" => linux = true,
                other if other.starts_with("--") => bail!("unknown option `{other}` for bench"),
                text => {
                    ensure!(names.is_none(), "give the benchmarks as one word, NAME,NAME,...");
                    names = Some(text.to_string());
                }
            }
        }
        let names = names.as_deref().unwrap_or("all");
        if linux {
            options.linux = Some(linux::selection(names)?);
        } else {
            options.groups = parse_groups(names)?;
        }
        options.matrix = options.all() && !mode_given && !linux;
        ensure!(!options.cores_sweep || options.smp >= 2, "--cores-sweep needs --smp 2 or more");
        ensure!(
            !options.repeat_check || options.mode == Mode::Icount,
            "--repeat-check compares instruction counts: it needs --mode icount"
        );
        ensure!(
            !(options.cores_sweep && options.linux.is_some()),
            "--cores-sweep is Flotilla's: the Linux figures cover every core of one boot"
        );
        options.machine(options.smp).validate()?;
        Ok(options)
    }

    /// The runs these options stand for: the matrix's four (Flotilla under icount, then
    /// in wallclock mode, then Linux in both; `--repeat-check` for the icount ones,
    /// `--cores-sweep` for Flotilla's), or this one run.
    pub fn runs(&self) -> Vec<Options> {
        if !self.matrix {
            return vec![self.clone()];
        }
        let one = |mode: Mode, linux: bool| Options {
            mode,
            repeat_check: self.repeat_check && mode == Mode::Icount,
            cores_sweep: self.cores_sweep && !linux,
            linux: linux.then(|| linux::NAMES.to_vec()),
            matrix: false,
            ..self.clone()
        };
        vec![
            one(Mode::Icount, false),
            one(Mode::Wallclock, false),
            one(Mode::Icount, true),
            one(Mode::Wallclock, true),
        ]
    }

    /// Which system and mode this run is, as the summary names it.
    pub fn label(&self) -> String {
        let system = if self.linux.is_some() { "Linux" } else { "Flotilla" };
        format!("{system} {}", self.mode.name())
    }

    /// Whether every group runs.
    pub fn all(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether the group `name` runs.
    fn selects(&self, name: &str) -> bool {
        self.all() || self.groups.iter().any(|g| g == name)
    }

    /// The machine of the wide boot `all` adds for the groups that sweep the cores of one
    /// boot (8 cores, GICv3), unless the main boot has as many cores already.
    pub fn wide_boot(&self) -> Option<(u32, u8)> {
        let all = match &self.linux {
            Some(selection) => selection.len() == linux::NAMES.len(),
            None => self.all(),
        };
        (all && self.smp < WIDE_SMP).then_some((WIDE_SMP, WIDE_GIC))
    }

    /// The machine the benchmarks run on, with `smp` cores.
    fn machine(&self, smp: u32) -> Machine {
        self.machine_for(smp, self.gic, &self.groups)
    }

    /// The machine of a boot with `smp` cores on GIC version `gic` that runs `groups`.
    fn machine_for(&self, smp: u32, gic: u8, groups: &[String]) -> Machine {
        let mut machine = Machine::new(Board::Virt);
        machine.smp = smp;
        machine.gic = gic;
        machine.cpu = "max".into();
        machine.semihosting = true;
        match self.mode {
            Mode::Icount => machine.icount = true,
            Mode::Wallclock => machine.extra = vec!["-accel".into(), "tcg,thread=multi".into()],
        }
        let mut selection = selection_word(groups);
        if self.mode == Mode::Wallclock {
            selection |= libos::bench::WALLCLOCK;
        }
        machine.append = Some(match selection {
            0 => "flotilla.init=bench".into(),
            word => format!("flotilla.init=bench flotilla.init_arg={word:#x}"),
        });
        machine
    }
}

/// The groups `text` names: `all`, or names of `libos::bench::NAMES` separated by commas.
fn parse_groups(text: &str) -> Result<Vec<String>> {
    if text == "all" {
        return Ok(Vec::new());
    }
    let mut groups = Vec::new();
    for name in text.split(',') {
        ensure!(
            libos::bench::bit(name).is_some(),
            "no benchmark `{name}`: the benchmarks are {} (or all)",
            libos::bench::NAMES.join(", ")
        );
        if !groups.iter().any(|g| g == name) {
            groups.push(name.to_string());
        }
    }
    Ok(groups)
}

/// The bench program's selection for `groups` (`libos::bench::Request::selection`); 0,
/// everything, for none.
pub fn selection_word(groups: &[String]) -> u64 {
    groups.iter().filter_map(|g| libos::bench::bit(g)).fold(0, |word, bit| word | bit)
}

/// What one run ([`Options::runs`]) measured: the consoles of its boots, with the
/// ratios of wallclock mode added, and what its repeat checks found.
pub struct Outcome {
    /// `Flotilla icount`, `Linux wallclock`, ...
    pub label: String,
    pub mode: Mode,
    /// The boot of `--smp` cores, then the wide boot of `all` if there was one.
    pub consoles: Vec<Console>,
    /// A line per repeat check passed.
    pub repeats: Vec<String>,
}

/// Everything `cargo xtask bench` does: build, boot, check, write, summarise; for the
/// matrix, every run in turn; then a table of the headline figures of every run.
pub fn run(options: &Options) -> Result<()> {
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for run in options.runs() {
        let outcome = match &run.linux {
            Some(selection) => linux::run(&run, selection)?,
            None => run_flotilla(&run)?,
        };
        outcomes.push(outcome);
    }
    println!("\nHeadline figures (icount: instructions; wallclock: ratios within one boot):");
    println!("{}", headlines(&outcomes));
    for line in outcomes.iter().flat_map(|o| &o.repeats) {
        println!("{line}");
    }
    if options.matrix {
        println!(
            "\nthe whole matrix took {:.0} s; everything is in {}",
            started.elapsed().as_secs_f64(),
            output_dir().display()
        );
    }
    Ok(())
}

/// A boot's description for the progress lines and repeat reports.
fn describe(machine: &Machine, mode: Mode) -> String {
    let cores = if machine.smp == 1 { "core" } else { "cores" };
    format!("{} {cores}, GICv{}, -cpu max, {}", machine.smp, machine.gic, mode.name())
}

/// Boots `machine` a second time (console in `console_path`) and fails unless it printed
/// the lines `first` did; says what passed, for the summary.
fn repeat_boot(
    label: &str,
    machine: &Machine,
    first: &Console,
    boot_again: impl FnOnce() -> Result<Console>,
) -> Result<String> {
    let again = boot_again()?;
    let size = format!("{} cores, GICv{}", machine.smp, machine.gic);
    check_repeat(first, &again).with_context(|| format!("{label}, {size}: the repeat check failed"))?;
    Ok(format!(
        "repeat check passed: {label}, {size}: two boots printed the same {} lines",
        first.records.len()
    ))
}

/// One run of Flotilla's benchmarks in one mode.
fn run_flotilla(options: &Options) -> Result<Outcome> {
    let built = image::build(Board::Virt)?;
    let qemu = setup::qemu_binary()?;
    let out = output_dir().join(options.mode.name());
    clear(&out)?;
    let mode = options.mode;
    let boot_machine = |machine: &Machine, console: &Path| {
        eprintln!("xtask bench: booting {}", describe(machine, mode));
        boot(machine, &qemu, &built.image, console)
    };
    let mut repeats = Vec::new();

    let machine = options.machine(options.smp);
    let mut console = boot_machine(&machine, &out.join("console.txt"))?;
    if options.selects("boot") {
        let prompt = boot_to_prompt(options, &out.join("console-prompt.txt"), boot_machine)?;
        add_boot_prompt(&mut console, prompt);
    }
    if options.repeat_check {
        repeats.push(repeat_boot(&options.label(), &machine, &console, || {
            let mut again = boot_machine(&machine, &out.join("console-repeat.txt"))?;
            if options.selects("boot") {
                let prompt = boot_to_prompt(options, &out.join("console-prompt-repeat.txt"), boot_machine)?;
                add_boot_prompt(&mut again, prompt);
            }
            Ok(again)
        })?);
    }
    if mode == Mode::Wallclock {
        add_relative(&mut console);
    }
    let mut written = vec![out.join("console.txt")];
    if options.repeat_check {
        written.push(out.join("console-repeat.txt"));
    }
    written.extend(write_tables_and_plots(&console, &out, mode)?);
    let mut sweep = Vec::new();
    let mut boots: Vec<Record> = console.of("boot").cloned().collect();
    if options.cores_sweep {
        for smp in 2..options.smp {
            let console_name = format!("console-smp{smp}.txt");
            let smaller = boot_machine(&options.machine(smp), &out.join(&console_name))?;
            written.push(out.join(console_name));
            sweep.extend(farthest_round_trip(&smaller, smp));
            boots.extend(smaller.of("boot").cloned());
        }
        sweep.extend(farthest_round_trip(&console, options.smp));
        if !sweep.is_empty() {
            written.extend(write_sweep(&sweep, &out)?);
        }
    }
    if let Some(chart) = boot_chart(&boots) {
        written.push(write(&out.join("boot.svg"), &chart.to_svg())?);
    }
    let mut consoles = vec![console];
    if let Some((smp, gic)) = options.wide_boot() {
        let groups: Vec<String> = WIDE_GROUPS.iter().map(|g| g.to_string()).collect();
        let wide_out = out.join(wide_dir_name());
        clear(&wide_out)?;
        let machine = options.machine_for(smp, gic, &groups);
        let mut wide_console = boot_machine(&machine, &wide_out.join("console.txt"))?;
        if options.repeat_check {
            repeats.push(repeat_boot(&options.label(), &machine, &wide_console, || {
                boot_machine(&machine, &wide_out.join("console-repeat.txt"))
            })?);
        }
        if mode == Mode::Wallclock {
            add_relative(&mut wide_console);
        }
        written.push(wide_out.join("console.txt"));
        written.extend(write_tables_and_plots(&wide_console, &wide_out, mode)?);
        consoles.push(wide_console);
    }

    println!("{}", summary(&consoles[0]));
    if let Some(wide) = consoles.get(1) {
        println!("\n{WIDE_SMP} cores, GICv{WIDE_GIC}:\n{}", summary(wide));
    }
    if !sweep.is_empty() {
        println!("\n{}", sweep_summary(&sweep));
    }
    if mode == Mode::Icount {
        check_counter(&consoles[0]);
    }
    for line in &repeats {
        eprintln!("xtask bench: {line}");
    }
    println!("\nwritten to {}:", out.display());
    for path in written {
        let shown = path.strip_prefix(&out).unwrap_or(&path);
        println!("  {}", shown.display());
    }
    linux::write_side_by_side(mode)?;
    Ok(Outcome { label: options.label(), mode, consoles, repeats })
}

/// Fails unless two boots printed the same lines.
fn check_repeat(first: &Console, again: &Console) -> Result<()> {
    let differences = compare(&first.records, &again.records);
    if !differences.is_empty() {
        bail!(
            "the second boot printed different figures ({} lines differ):\n{}",
            differences.len(),
            differences.join("\n")
        );
    }
    Ok(())
}

/// `target/bench` of the workspace.
pub fn output_dir() -> PathBuf {
    setup::workspace_root().join("target").join("bench")
}

/// Makes `out` hold nothing from an earlier run (a sweep's plot, say, that this run would
/// not redo): removes its tables, plots and consoles, and creates it if need be.
fn clear(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for entry in std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))? {
        let path = entry?.path();
        let ours = path.extension().is_some_and(|e| e == "csv" || e == "svg" || e == "txt");
        if ours && path.is_file() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Boots `machine`, keeps its console in `console_path`, and returns what the program
/// said; fails on anything but a clean run.
fn boot(machine: &Machine, qemu: &Path, image: &Path, console_path: &Path) -> Result<Console> {
    let mut command = machine.command(qemu, image, false);
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("starting {command:?}"))?;
    let stdout = child.stdout.take().context("QEMU's console")?;
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
            if send.send(text).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = started + BOOT_TIMEOUT;
    let finished = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receive.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            Err(mpsc::RecvTimeoutError::Timeout) => break false,
        }
    };
    if !finished {
        let _ = child.kill();
    }
    let status = child.wait().context("waiting for QEMU")?;
    std::fs::write(console_path, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", console_path.display()))?;
    let shown = console_path.display();
    ensure!(
        finished,
        "the guest did not power off within {} s; its console is in {shown}",
        BOOT_TIMEOUT.as_secs()
    );

    let console = Console::parse(lines.iter().map(String::as_str));
    if !console.malformed.is_empty() {
        let list: Vec<String> =
            console.malformed.iter().map(|(line, e)| format!("  {line}\n    {e}")).collect();
        bail!("lines that break the bench line shape (console in {shown}):\n{}", list.join("\n"));
    }
    if !console.errors.is_empty() {
        bail!("failed checks (console in {shown}):\n  {}", console.errors.join("\n  "));
    }
    ensure!(status.success(), "QEMU exited with {status} (console in {shown})");
    ensure!(!console.records.is_empty(), "the bench program printed no results (console in {shown})");
    eprintln!("xtask bench: {} results in {:.1} s", console.records.len(), started.elapsed().as_secs_f64());
    Ok(console)
}

/// The lines on which two runs differ, as `-` (first) and `+` (second) pairs.
pub fn compare(first: &[Record], second: &[Record]) -> Vec<String> {
    let line = |record: Option<&Record>| match record {
        Some(r) => {
            let fields: Vec<String> = r.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}", r.benchmark, fields.join(" "))
        }
        None => "(nothing)".into(),
    };
    (0..first.len().max(second.len()))
        .filter(|&i| first.get(i) != second.get(i))
        .map(|i| format!("  - {}\n  + {}", line(first.get(i)), line(second.get(i))))
        .collect()
}

/// A plot of one benchmark's results.
pub struct Plot {
    pub benchmark: &'static str,
    pub title: &'static str,
    pub x_key: &'static str,
    pub x_label: &'static str,
    pub x_scale: Scale,
    pub y_key: &'static str,
    pub y_label: &'static str,
    /// The series a record belongs to, by its label.
    pub series: fn(&Record) -> String,
    /// Baselines drawn across the plot: a benchmark and its label; its first result's
    /// `y_key` is the height.
    pub references: &'static [(&'static str, &'static str)],
    /// Draw the ideal speedup: N on N cores when the counter is time, 1 (no instructions
    /// added) when it counts every core's instructions.
    pub ideal: bool,
}

/// The plots `cargo xtask bench` draws. The baselines (`counter`, `syscall_nop`,
/// `monitor_call`) are single figures: they get a table each and appear in the plots as
/// dashed lines.
pub const PLOTS: [Plot; 6] = [
    Plot {
        benchmark: "urpc_rtt",
        title: "URPC round trip, boot core's monitor to each other core's",
        x_key: "core",
        x_label: "core pinged",
        x_scale: Scale::Linear,
        y_key: "instructions_per_op",
        y_label: "instructions per round trip",
        series: |_| "ping and pong (URPC)".into(),
        references: &[
            ("monitor_call", "local monitor call (LMP, null)"),
            ("syscall_nop", "null system call"),
        ],
        ideal: false,
    },
    Plot {
        benchmark: "urpc_latency",
        title: "URPC one-way latency in a stream",
        x_key: "words",
        x_label: "message size (64-bit words)",
        x_scale: Scale::Log2,
        y_key: "instructions_per_op",
        y_label: "instructions from sending to receiving",
        series: |r| format!("to core {}", r.text("core").unwrap_or("?")),
        references: &[],
        ideal: false,
    },
    Plot {
        benchmark: "urpc_throughput",
        title: "URPC throughput, streaming as fast as the ring takes",
        x_key: "words",
        x_label: "message size (64-bit words)",
        x_scale: Scale::Log2,
        y_key: "messages_per_1000_instructions",
        y_label: "messages per 1000 instructions",
        series: |r| format!("to core {}", r.text("core").unwrap_or("?")),
        references: &[],
        ideal: false,
    },
    Plot {
        benchmark: "unmap",
        title: "Unmapping a page of a domain spanned over N cores (TLB shootdown by message)",
        x_key: "cores",
        x_label: "cores the domain spans",
        x_scale: Scale::Linear,
        y_key: "instructions_per_op",
        y_label: "instructions per unmap",
        series: |_| "unmap + shootdown".into(),
        references: &[("urpc_rtt", "URPC round trip (first core)")],
        ideal: false,
    },
    Plot {
        benchmark: "revoke",
        title: "Revoke with copies on N cores (mark, then commit)",
        x_key: "cores",
        x_label: "cores holding a copy",
        x_scale: Scale::Linear,
        y_key: "instructions_per_op",
        y_label: "instructions per revoke",
        series: |_| "two-phase revoke".into(),
        references: &[("urpc_rtt", "URPC round trip (first core)")],
        ideal: false,
    },
    Plot {
        benchmark: "lmp_rtt",
        title: "LMP round trip to a child on the same core",
        x_key: "batch",
        x_label: "messages in flight",
        x_scale: Scale::Log2,
        y_key: "instructions_per_op",
        y_label: "instructions per message",
        series: |r| match r.text("reply_capability") {
            Some("1") => "with a reply capability".into(),
            _ => "words only".into(),
        },
        references: &[
            ("monitor_call", "local monitor call (LMP, null)"),
            ("syscall_nop", "null system call"),
        ],
        ideal: false,
    },
];

/// The series of an `update` record: its strategy and lines.
fn update_series(record: &Record) -> String {
    let lines = record.text("lines").unwrap_or("?");
    format!("{}, {lines} line{}", record.text("strategy").unwrap_or("?"), if lines == "1" { "" } else { "s" })
}

/// The plots of the benchmarks that sweep the cores of one boot.
const CORE_PLOTS: [Plot; 4] = [
    Plot {
        benchmark: "update",
        title: "Updating shared cache lines from N cores: atomics, a lock, or messages to a server",
        x_key: "cores",
        x_label: "cores updating (N; messages: N clients and a server)",
        x_scale: Scale::Linear,
        y_key: "instructions_per_op",
        y_label: "instructions per update",
        series: update_series,
        references: &[],
        ideal: false,
    },
    Plot {
        benchmark: "update_relative",
        title: "Updating shared cache lines from N cores, relative to one core's atomic update of one line",
        x_key: "cores",
        x_label: "cores updating (N; messages: N clients and a server)",
        x_scale: Scale::Linear,
        y_key: "relative_cost",
        y_label: "time per update / 1-core atomic, 1 line",
        series: update_series,
        references: &[],
        ideal: false,
    },
    Plot {
        benchmark: "compute",
        title: "Integer sort (NAS IS-like) on N cores: instructions of all cores over 1 core's",
        x_key: "cores",
        x_label: "cores",
        x_scale: Scale::Linear,
        y_key: "instructions_over_one_core",
        y_label: "instructions in total / 1-core run (work added)",
        series: |r| format!("{} variant", r.text("variant").unwrap_or("?")),
        references: &[],
        ideal: true,
    },
    Plot {
        benchmark: "compute",
        title: "Integer sort (NAS IS-like) on N cores with the parallel runtime",
        x_key: "cores",
        x_label: "cores",
        x_scale: Scale::Linear,
        y_key: "speedup",
        y_label: "speedup over 1 core",
        series: |r| format!("{} variant", r.text("variant").unwrap_or("?")),
        references: &[],
        ideal: true,
    },
];

/// The chart `plot` draws from `console`'s records, or `None` if there are none.
pub fn chart(plot: &Plot, console: &Console, mode: Mode) -> Option<Chart> {
    let mut series: Vec<Series> = Vec::new();
    for record in console.of(plot.benchmark) {
        let (Some(x), Some(y)) = (record.number(plot.x_key), record.number(plot.y_key)) else { continue };
        let label = (plot.series)(record);
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((x, y)),
            None => series.push(Series { label, points: vec![(x, y)], style: Style::Data }),
        }
    }
    if series.is_empty() {
        return None;
    }
    let xs = || series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (low, high) = (xs().fold(f64::INFINITY, f64::min), xs().fold(f64::NEG_INFINITY, f64::max));
    for &(benchmark, label) in plot.references {
        if let Some(y) = console.of(benchmark).find_map(|r| r.number(plot.y_key)) {
            let points = vec![(low, y), (high, y)];
            series.push(Series { label: label.into(), points, style: Style::Reference });
        }
    }
    if plot.ideal {
        let (label, points) = match mode {
            Mode::Wallclock => ("ideal: N times faster on N cores", vec![(low, low), (high, high)]),
            Mode::Icount => ("ideal: no instructions added (1.00)", vec![(low, 1.0), (high, 1.0)]),
        };
        series.push(Series { label: label.into(), points, style: Style::Reference });
    }
    Some(Chart {
        title: plot.title.into(),
        x_label: plot.x_label.into(),
        y_label: plot.y_label.into(),
        x_scale: plot.x_scale,
        series,
    })
}

/// Writes a CSV table for every benchmark and a plot for each of [`PLOTS`] that has
/// results; returns the paths written.
fn write_tables_and_plots(console: &Console, out: &Path, mode: Mode) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for benchmark in console.benchmarks() {
        let csv = lines::to_csv(console.of(benchmark)).map_err(anyhow::Error::msg)?;
        written.push(write(&out.join(format!("{benchmark}.csv")), &csv)?);
    }
    for plot in PLOTS.iter().chain(&CORE_PLOTS) {
        if let Some(chart) = chart(plot, console, mode) {
            written.push(write(&out.join(format!("{}.svg", plot.benchmark)), &chart.to_svg())?);
        }
    }
    Ok(written)
}

fn write(path: &Path, text: &str) -> Result<PathBuf> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The boot figures of one or more boots (a sweep's) as a chart: instructions from reset
/// to every core online, to the first program and to the first prompt, by cores booted.
pub fn boot_chart(boots: &[Record]) -> Option<Chart> {
    let series = |label: &str, key: &str| Series {
        label: label.into(),
        points: boots.iter().filter_map(|r| Some((r.number("cores")?, r.number(key)?))).collect(),
        style: Style::Data,
    };
    let series = vec![
        series("all cores online", "online_instructions"),
        series("first program (bench, as init) started", "first_program_instructions"),
        series("first shell prompt (init, hello, shell)", "prompt_instructions"),
    ];
    series.iter().any(|s| !s.points.is_empty()).then(|| Chart {
        title: "Boot: counter from reset (instructions under icount)".into(),
        x_label: "cores booted".into(),
        y_label: "counter at the event".into(),
        x_scale: Scale::Linear,
        series,
    })
}

/// The boot to the first prompt: the normal system (init, hello, the shell) on the machine
/// of the main boot, with `flotilla.init_arg=` asking the shell to print its `boot_prompt`
/// line at its first prompt and power off (`libos::bench::BOOT_PROMPT_OPTION`). Returns
/// that line's record; its console goes to `console_path`.
fn boot_to_prompt(
    options: &Options,
    console_path: &Path,
    boot_machine: impl Fn(&Machine, &Path) -> Result<Console>,
) -> Result<Record> {
    let mut machine = options.machine(options.smp);
    machine.append = Some(format!("flotilla.init_arg={}", libos::bench::BOOT_PROMPT_OPTION));
    let console = boot_machine(&machine, console_path)?;
    let record = console.of("boot_prompt").next().cloned();
    record.with_context(|| {
        format!("the shell printed no boot_prompt line (console in {})", console_path.display())
    })
}

/// Puts the first prompt's counter (`prompt`, a `boot_prompt` record) beside the other
/// boot figures: as `prompt_instructions` of the `boot` record of as many cores, and as a
/// record of its own (with that boot's own online figure).
pub fn add_boot_prompt(console: &mut Console, prompt: Record) {
    let cores = prompt.text("cores").map(str::to_string);
    if let (Some(at), Some(boot)) = (
        prompt.text("prompt_instructions"),
        console.records.iter_mut().find(|r| r.benchmark == "boot" && r.text("cores") == cores.as_deref()),
    ) {
        boot.fields.push(("prompt_instructions".into(), at.into()));
    }
    console.records.push(prompt);
}

/// For the multi-threaded emulator, where the counter is time: the figures as ratios to a
/// baseline of the same boot, as records of their own, for either system's lines:
///
/// - `update_relative`: cost per update over the 1-core atomic update of one line;
/// - `urpc_rtt_relative` (and Linux's `futex_rtt_relative`): a round trip to another core
///   over a local monitor call (`relative_to_monitor_call`, Flotilla's) and over the
///   same-core round trip (`relative_to_same_core`: Flotilla's `lmp_rtt` of one message
///   without a reply capability, Linux's `pipe_rtt_same_core`), the ratio both systems have;
/// - `unmap_relative`, `revoke_relative`: the operation on N cores over on one;
/// - `boot_relative`: the first program's start over the online moment (Flotilla's).
pub fn add_relative(console: &mut Console) {
    let mut added = Vec::new();
    let first_number = |benchmark: &str, keep: &dyn Fn(&Record) -> bool| {
        let found = console.of(benchmark).find(|r| keep(r));
        found.and_then(|r| r.number("instructions_per_op")).filter(|&b| b > 0.0)
    };
    let base = first_number("update", &|r| {
        r.text("strategy") == Some("atomic") && r.text("cores") == Some("1") && r.text("lines") == Some("1")
    });
    added.extend(relative_records(
        console,
        "update",
        &["strategy", "cores", "lines"],
        &[("relative_cost", base)],
    ));
    let monitor_call = first_number("monitor_call", &|_| true);
    let same_core =
        first_number("lmp_rtt", &|r| r.text("reply_capability") == Some("0") && r.text("batch") == Some("1"))
            .or(first_number("pipe_rtt_same_core", &|_| true));
    let baselines = [("relative_to_monitor_call", monitor_call), ("relative_to_same_core", same_core)];
    added.extend(relative_records(console, "urpc_rtt", &["core"], &baselines));
    added.extend(relative_records(console, "futex_rtt", &["core"], &baselines[1..]));
    for benchmark in ["unmap", "revoke"] {
        let one_core = first_number(benchmark, &|r| r.text("cores") == Some("1"));
        added.extend(relative_records(console, benchmark, &["cores"], &[("relative_to_one_core", one_core)]));
    }
    for r in console.of("boot") {
        let (Some(online), Some(first)) =
            (r.number("online_instructions"), r.number("first_program_instructions"))
        else {
            continue;
        };
        if online > 0.0 {
            let mut fields = vec![
                ("cores".to_string(), r.text("cores").unwrap_or("0").to_string()),
                ("first_program_over_online".to_string(), format!("{:.2}", first / online)),
            ];
            if let Some(prompt) = r.number("prompt_instructions") {
                fields.push(("prompt_over_online".to_string(), format!("{:.2}", prompt / online)));
            }
            added.push(Record { benchmark: "boot_relative".into(), fields });
        }
    }
    console.records.extend(added);
}

/// A `BENCHMARK_relative` record for each of `benchmark`'s: its `keys`, then its
/// `instructions_per_op` over each baseline of `baselines` that was measured (a key and
/// the baseline's figure); none if no baseline was.
fn relative_records(
    console: &Console,
    benchmark: &str,
    keys: &[&str],
    baselines: &[(&str, Option<f64>)],
) -> Vec<Record> {
    let measured: Vec<(&str, f64)> = baselines.iter().filter_map(|&(key, base)| Some((key, base?))).collect();
    if measured.is_empty() {
        return Vec::new();
    }
    let records = console.of(benchmark).filter_map(|r| {
        let figure = r.number("instructions_per_op")?;
        let mut fields: Vec<(String, String)> =
            keys.iter().map(|k| (k.to_string(), r.text(k).unwrap_or("0").into())).collect();
        fields.extend(measured.iter().map(|&(key, base)| (key.to_string(), format!("{:.2}", figure / base))));
        Some(Record { benchmark: format!("{benchmark}_relative"), fields })
    });
    records.collect()
}

/// A figure of the headline table: the record of `benchmark` whose fields have the values
/// `filters` give (of those, the one with the most `cores` if `most_cores`), and its first
/// field of `keys` there is (the systems name their boot figure differently).
struct Pick {
    benchmark: &'static str,
    filters: &'static [(&'static str, &'static str)],
    most_cores: bool,
    keys: &'static [&'static str],
}

impl Pick {
    const fn new(benchmark: &'static str, filters: &'static [(&'static str, &'static str)]) -> Pick {
        Pick { benchmark, filters, most_cores: false, keys: &["instructions_per_op"] }
    }

    const fn most_cores(self) -> Pick {
        Pick { most_cores: true, ..self }
    }

    const fn key(self, keys: &'static [&'static str]) -> Pick {
        Pick { keys, ..self }
    }

    /// The figure in `consoles`: the first that matches, or the one of the most cores of
    /// all boots (the first of those).
    fn find(&self, consoles: &[Console]) -> Option<String> {
        let records = consoles.iter().flat_map(|console| console.of(self.benchmark));
        let mut matching = records.filter(|r| self.filters.iter().all(|&(k, v)| r.text(k) == Some(v)));
        let cores = |r: &Record| r.text("cores").and_then(|c| c.parse::<u64>().ok());
        let record = match self.most_cores {
            true => matching.fold(None, |best: Option<&Record>, r| match best {
                Some(b) if cores(b) >= cores(r) => Some(b),
                _ => Some(r),
            }),
            false => matching.next(),
        }?;
        self.keys.iter().find_map(|k| record.text(k).map(String::from))
    }
}

/// The rows of the headline table: what is shown, its icount figure, its wallclock ratio.
const HEADLINES: [(&str, Pick, Pick); 9] = {
    const SAME_CORE: &[&str] = &["relative_to_same_core"];
    const COST: &[&str] = &["relative_cost"];
    const ONE_CORE: &[&str] = &["relative_to_one_core"];
    const CORE_1: &[(&str, &str)] = &[("core", "1")];
    const CORES_8: &[(&str, &str)] = &[("cores", "8")];
    const ATOMIC: &[(&str, &str)] = &[("strategy", "atomic"), ("lines", "1")];
    const LOCK: &[(&str, &str)] = &[("strategy", "lock"), ("lines", "1")];
    const MESSAGE: &[(&str, &str)] = &[("strategy", "message"), ("lines", "1")];
    const BOOT: &[(&str, &str)] = &[("cores", "4")];
    [
        (
            "round trip to core 1, URPC or pipe (wallclock: / same core)",
            Pick::new("urpc_rtt", CORE_1),
            Pick::new("urpc_rtt_relative", CORE_1).key(SAME_CORE),
        ),
        (
            "round trip to core 1, Linux's futex (wallclock: / same core)",
            Pick::new("futex_rtt", CORE_1),
            Pick::new("futex_rtt_relative", CORE_1).key(SAME_CORE),
        ),
        (
            "update, all cores, 1 line, atomic (wallclock: / 1 core)",
            Pick::new("update", ATOMIC).most_cores(),
            Pick::new("update_relative", ATOMIC).most_cores().key(COST),
        ),
        (
            "update, all cores, 1 line, lock (wallclock: / 1-core atomic)",
            Pick::new("update", LOCK).most_cores(),
            Pick::new("update_relative", LOCK).most_cores().key(COST),
        ),
        (
            "update, all clients, 1 line, message (wallclock: / 1-core atomic)",
            Pick::new("update", MESSAGE).most_cores(),
            Pick::new("update_relative", MESSAGE).most_cores().key(COST),
        ),
        (
            "unmap, 8 cores (wallclock: / 1 core)",
            Pick::new("unmap", CORES_8),
            Pick::new("unmap_relative", CORES_8).key(ONE_CORE),
        ),
        (
            "revoke, copies on 8 cores (wallclock: / 1 core)",
            Pick::new("revoke", CORES_8),
            Pick::new("revoke_relative", CORES_8).key(ONE_CORE),
        ),
        (
            "boot to the first program, 4 cores (wallclock: / all online)",
            Pick::new("boot", BOOT).key(&["first_program_instructions", "instructions"]),
            Pick::new("boot_relative", BOOT).key(&["first_program_over_online"]),
        ),
        (
            "boot to the shell's first prompt, 4 cores (wallclock: / all online)",
            Pick::new("boot", BOOT).key(&["prompt_instructions"]),
            Pick::new("boot_relative", BOOT).key(&["prompt_over_online"]),
        ),
    ]
};

/// The headline figures of every run, a column per run, a row per figure (`-` where a
/// run has none: a benchmark of one system only, or a run not made).
pub fn headlines(outcomes: &[Outcome]) -> String {
    let mut header = vec!["figure".to_string()];
    header.extend(outcomes.iter().map(|o| o.label.clone()));
    let rows = HEADLINES.iter().map(|(label, icount, wallclock)| {
        let mut row = vec![label.to_string()];
        row.extend(outcomes.iter().map(|o| {
            let pick = if o.mode == Mode::Icount { icount } else { wallclock };
            pick.find(&o.consoles).unwrap_or_else(|| "-".into())
        }));
        row
    });
    let rows: Vec<Vec<String>> = std::iter::once(header).chain(rows).collect();
    columns(&rows)
}

/// The sweep's record for a boot of `cores` cores: its round trip to core `cores - 1`,
/// with the number of cores first.
pub fn farthest_round_trip(console: &Console, cores: u32) -> Option<Record> {
    let last = (cores - 1).to_string();
    let record = console.of("urpc_rtt").find(|r| r.text("core") == Some(last.as_str()))?;
    let mut fields = vec![("cores".to_string(), cores.to_string())];
    fields.extend(record.fields.iter().cloned());
    Some(Record { benchmark: "urpc_rtt_sweep".into(), fields })
}

fn write_sweep(sweep: &[Record], out: &Path) -> Result<Vec<PathBuf>> {
    let csv = lines::to_csv(sweep).map_err(anyhow::Error::msg)?;
    let points = sweep.iter().filter_map(|r| Some((r.number("cores")?, r.number("instructions_per_op")?)));
    let chart = Chart {
        title: "URPC round trip to the highest-numbered core".into(),
        x_label: "cores booted (N); the ping goes to core N-1".into(),
        y_label: "instructions per round trip".into(),
        x_scale: Scale::Linear,
        series: vec![Series {
            label: "ping and pong (URPC)".into(),
            points: points.collect(),
            style: Style::Data,
        }],
    };
    Ok(vec![
        write(&out.join("urpc_rtt_sweep.csv"), &csv)?,
        write(&out.join("urpc_rtt_sweep.svg"), &chart.to_svg())?,
    ])
}

/// The results as a table: benchmark, parameters (every field but `instructions` and the
/// result), and the result.
pub fn summary(console: &Console) -> String {
    let rows: Vec<[String; 3]> = console
        .records
        .iter()
        .map(|record| {
            let (result_key, result) = record.result().unwrap_or_default();
            let parameters: Vec<String> = record
                .fields
                .iter()
                .filter(|(k, _)| k != "instructions" && k != result_key)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            [
                record.benchmark.clone(),
                parameters.join(" "),
                format!("{result} {}", result_key.replace('_', " ")),
            ]
        })
        .collect();
    table(["benchmark", "parameters", "result"], &rows)
}

fn sweep_summary(sweep: &[Record]) -> String {
    let rows: Vec<[String; 3]> = sweep
        .iter()
        .map(|r| {
            let text = |key| r.text(key).unwrap_or("?").to_string();
            [text("cores"), text("core"), text("instructions_per_op")]
        })
        .collect();
    table(["cores", "pinged", "instructions per round trip"], &rows)
}

/// Left-aligned columns, two spaces apart, under a header.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut all = vec![header.map(String::from).to_vec()];
    all.extend(rows.iter().map(|row| row.to_vec()));
    columns(&all)
}

/// `rows` in left-aligned columns, two spaces apart.
fn columns(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |row: &Vec<String>| {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, &w)| format!("{cell:w$}")).collect();
        cells.join("  ").trim_end().to_string()
    };
    rows.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// Warns if counter ticks are not instructions on this QEMU: the figures are then ticks.
fn check_counter(console: &Console) {
    let Some(counter) = console.of("counter").next() else { return };
    let hz = counter.number("frequency_hz").unwrap_or(0.0);
    let per_iteration = counter.number("instructions_per_op").unwrap_or(0.0);
    if hz != 1e9 || !(2.0..2.1).contains(&per_iteration) {
        eprintln!(
            "warning: the counter runs at {hz} Hz and counted {per_iteration} ticks for a \
             two-instruction loop iteration: the figures are counter ticks, not instructions"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(lines: &[&str]) -> Console {
        Console::parse(lines.iter().copied())
    }

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_default_to_four_cores_and_check_the_gic() {
        let parsed = Options::parse(&[]).unwrap();
        assert_eq!((parsed.smp, parsed.gic, parsed.cores_sweep, parsed.repeat_check), (4, 2, false, false));
        assert!(parsed.all() && parsed.mode == Mode::Icount);
        let args: Vec<String> =
            ["--smp", "16", "--gic", "3", "--cores-sweep", "--repeat-check"].map(String::from).into();
        let parsed = Options::parse(&args).unwrap();
        assert_eq!((parsed.smp, parsed.gic, parsed.cores_sweep, parsed.repeat_check), (16, 3, true, true));
        assert!(Options::parse(&["--smp", "16"].map(String::from)).is_err(), "GICv2 stops at 8 cores");
        assert!(Options::parse(&["--smp", "1", "--cores-sweep"].map(String::from)).is_err());
        assert!(Options::parse(&["--board".to_string()]).is_err());
    }

    #[test]
    fn all_without_a_mode_or_linux_is_the_matrix_of_both_systems_in_both_modes() {
        for words in ["", "all", "all --repeat-check", "--smp 2 --cores-sweep"] {
            let options = Options::parse(&args(words)).unwrap();
            assert!(options.matrix, "{words}");
            let runs: Vec<String> = options.runs().iter().map(Options::label).collect();
            assert_eq!(runs, ["Flotilla icount", "Flotilla wallclock", "Linux icount", "Linux wallclock"]);
            for run in options.runs() {
                assert!(!run.matrix && run.groups.is_empty() && (run.smp, run.gic) == (options.smp, 2));
                assert_eq!(run.repeat_check, options.repeat_check && run.mode == Mode::Icount, "{words}");
                assert_eq!(run.cores_sweep, options.cores_sweep && run.linux.is_none(), "{words}");
                assert_eq!(run.linux.is_some(), run.label().starts_with("Linux"));
                assert!(run.linux.as_ref().is_none_or(|names| names.len() == linux::NAMES.len()));
            }
            assert_eq!(options.runs()[0].wide_boot(), (options.smp < 8).then_some((8, 3)));
        }
        for single in ["urpc", "all --mode icount", "all --mode wallclock", "--linux all", "--linux"] {
            let options = Options::parse(&args(single)).unwrap();
            assert!(!options.matrix, "{single}");
            assert_eq!(options.runs().len(), 1, "{single}");
        }
        assert_eq!(Options::parse(&args("urpc")).unwrap().wide_boot(), None, "one group, no wide boot");
        assert_eq!(Options::parse(&args("all --smp 8")).unwrap().wide_boot(), None, "8 cores already");
    }

    #[test]
    fn the_machine_counts_instructions_and_starts_bench() {
        let machine = Options::parse(&[]).unwrap().machine(4);
        let command = format!("{:?}", machine.command(Path::new("qemu"), Path::new("Image"), false));
        for part in ["\"max\"", "\"shift=0,sleep=off\"", "flotilla.init=bench", "semihosting"] {
            assert!(command.contains(part), "{part} in {command}");
        }
        assert!(!command.contains("init_arg"), "everything runs: no selection to pass");
    }

    #[test]
    fn named_benchmarks_reach_the_program_as_its_selection() {
        let parsed = Options::parse(&args("update,compute --smp 2")).unwrap();
        assert_eq!(parsed.groups, ["update", "compute"]);
        let word = selection_word(&parsed.groups);
        let request = libos::bench::Request::decode(
            libos::monitor::INIT_ARG | word << libos::monitor::INIT_OPTIONS_SHIFT | 2,
        );
        assert!(request.runs("update") && request.runs("compute") && !request.runs("urpc"));
        let command =
            format!("{:?}", parsed.machine(2).command(Path::new("qemu"), Path::new("Image"), false));
        assert!(command.contains(&format!("flotilla.init_arg={word:#x}")), "{command}");
        assert!(Options::parse(&args("all")).unwrap().all());
        let unknown = Options::parse(&args("nonsense")).unwrap_err().to_string();
        assert!(unknown.contains("nonsense") && unknown.contains("update"), "{unknown}");
        assert!(Options::parse(&args("urpc unmap")).is_err(), "two words");
    }

    #[test]
    fn wallclock_mode_runs_the_cores_in_parallel_without_icount() {
        let parsed = Options::parse(&args("--mode wallclock")).unwrap();
        let command =
            format!("{:?}", parsed.machine(4).command(Path::new("qemu"), Path::new("Image"), false));
        assert!(command.contains("tcg,thread=multi") && !command.contains("icount"), "{command}");
        assert!(Options::parse(&args("--mode wallclock --repeat-check")).is_err());
        assert!(Options::parse(&args("--mode sometimes")).is_err());
    }

    #[test]
    fn update_and_compute_plot_a_series_per_strategy_and_lines_and_per_variant() {
        let timed = console(&[
            "bench: compute kernel=intsort variant=shared cores=1 size=8 repetitions=7 instructions=9 speedup=1.00",
            "bench: compute kernel=intsort variant=shared cores=2 size=8 repetitions=7 instructions=5 speedup=1.80",
        ]);
        let console = console(&[
            "bench: update strategy=atomic cores=1 lines=1 updates=1000 instructions=1 instructions_per_op=10.00",
            "bench: update strategy=atomic cores=2 lines=1 updates=2000 instructions=1 instructions_per_op=12.00",
            "bench: update strategy=message cores=1 lines=2 updates=1000 instructions=1 instructions_per_op=90.00",
            "bench: compute kernel=intsort variant=message cores=1 size=8 repetitions=1 instructions=1 instructions_over_one_core=1.00",
            "bench: compute kernel=intsort variant=message cores=2 size=8 repetitions=1 instructions=1 instructions_over_one_core=1.10",
            "bench: compute kernel=intsort variant=shared cores=2 size=8 repetitions=1 instructions=1 instructions_over_one_core=1.05",
        ]);
        let update = chart(&CORE_PLOTS[0], &console, Mode::Icount).unwrap();
        let labels: Vec<&str> = update.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["atomic, 1 line", "message, 2 lines"]);
        assert_eq!(update.series[0].points, [(1.0, 10.0), (2.0, 12.0)]);
        let compute = chart(&CORE_PLOTS[2], &console, Mode::Icount).unwrap();
        assert_eq!(compute.series.len(), 3, "two variants and the ideal");
        assert_eq!(compute.series[0].points, [(1.0, 1.0), (2.0, 1.1)]);
        assert_eq!(compute.series[2].points, [(1.0, 1.0), (2.0, 1.0)], "under icount, no work added");
        assert!(chart(&CORE_PLOTS[3], &console, Mode::Icount).is_none(), "no speedup from instructions");
        let compute = chart(&CORE_PLOTS[3], &timed, Mode::Wallclock).unwrap();
        assert_eq!(compute.series[0].points, [(1.0, 1.0), (2.0, 1.8)]);
        assert_eq!(compute.series[1].points, [(1.0, 1.0), (2.0, 2.0)], "in time, N on N cores");
        assert!(chart(&CORE_PLOTS[2], &timed, Mode::Wallclock).is_none());
    }

    #[test]
    fn wallclock_figures_become_ratios_to_a_baseline_of_the_same_boot() {
        let mut console = console(&[
            "bench: monitor_call calls=1000 instructions=1 instructions_per_op=200.00",
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=500.00",
            "bench: update strategy=atomic cores=1 lines=1 updates=1000 instructions=1 instructions_per_op=10.00",
            "bench: update strategy=lock cores=2 lines=4 updates=2000 instructions=1 instructions_per_op=35.00",
            "bench: boot cores=2 online_instructions=100 first_program_instructions=150",
        ]);
        add_relative(&mut console);
        let csv = |name| lines::to_csv(console.of(name)).unwrap();
        assert_eq!(
            csv("update_relative"),
            "strategy,cores,lines,relative_cost\natomic,1,1,1.00\nlock,2,4,3.50\n"
        );
        assert_eq!(csv("urpc_rtt_relative"), "core,relative_to_monitor_call\n1,2.50\n");
        assert_eq!(csv("boot_relative"), "cores,first_program_over_online\n2,1.50\n");
        assert!(chart(&CORE_PLOTS[1], &console, Mode::Wallclock).is_some());
        assert_eq!(console.of("unmap_relative").count(), 0, "no unmap, no ratio");
    }

    #[test]
    fn both_systems_get_round_trips_over_their_same_core_round_trip_and_sweeps_over_one_core() {
        let mut flotilla = console(&[
            "bench: monitor_call calls=1000 instructions=1 instructions_per_op=200.00",
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=500.00",
            "bench: lmp_rtt reply_capability=0 batch=2 messages=1 instructions=1 instructions_per_op=50.00",
            "bench: lmp_rtt reply_capability=0 batch=1 messages=1 instructions=1 instructions_per_op=250.00",
            "bench: revoke cores=1 rounds=10 instructions=1 instructions_per_op=40.00",
            "bench: revoke cores=8 rounds=10 instructions=1 instructions_per_op=100.00",
        ]);
        add_relative(&mut flotilla);
        let csv = |console: &Console, name| lines::to_csv(console.of(name)).unwrap();
        assert_eq!(
            csv(&flotilla, "urpc_rtt_relative"),
            "core,relative_to_monitor_call,relative_to_same_core\n1,2.50,2.00\n"
        );
        assert_eq!(csv(&flotilla, "revoke_relative"), "cores,relative_to_one_core\n1,1.00\n8,2.50\n");
        let mut linux = console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=900.00",
            "bench: futex_rtt core=1 rounds=1000 instructions=1 instructions_per_op=600.00",
            "bench: pipe_rtt_same_core core=0 rounds=1000 instructions=1 instructions_per_op=300.00",
            "bench: unmap cores=1 rounds=50 instructions=1 instructions_per_op=10.00",
            "bench: unmap cores=2 rounds=50 instructions=1 instructions_per_op=15.00",
        ]);
        add_relative(&mut linux);
        assert_eq!(csv(&linux, "urpc_rtt_relative"), "core,relative_to_same_core\n1,3.00\n");
        assert_eq!(csv(&linux, "futex_rtt_relative"), "core,relative_to_same_core\n1,2.00\n");
        assert_eq!(csv(&linux, "unmap_relative"), "cores,relative_to_one_core\n1,1.00\n2,1.50\n");
    }

    #[test]
    fn the_headline_table_has_a_column_per_run_and_takes_update_at_the_most_cores() {
        let outcome = |label: &str, mode, consoles: Vec<Console>| Outcome {
            label: label.into(),
            mode,
            consoles,
            repeats: Vec::new(),
        };
        let flotilla = outcome(
            "Flotilla icount",
            Mode::Icount,
            vec![
                console(&[
                    "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=12379.85",
                    "bench: boot cores=4 online_instructions=100 first_program_instructions=150",
                    "bench: update strategy=message cores=3 lines=1 updates=1 instructions=1 instructions_per_op=5.00",
                ]),
                console(&[
                    "bench: update strategy=message cores=6 lines=1 updates=1 instructions=1 instructions_per_op=9.00",
                    "bench: update strategy=message cores=7 lines=1 updates=1 instructions=1 instructions_per_op=8.00",
                    "bench: update strategy=message cores=7 lines=2 updates=1 instructions=1 instructions_per_op=7.00",
                    "bench: unmap cores=8 rounds=50 instructions=1 instructions_per_op=70000.00",
                ]),
            ],
        );
        let linux = outcome(
            "Linux wallclock",
            Mode::Wallclock,
            vec![console(&["bench: unmap_relative cores=8 relative_to_one_core=1.40"])],
        );
        let text = headlines(&[flotilla, linux]);
        let rows: Vec<Vec<&str>> =
            text.lines().map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect()).collect();
        assert_eq!(rows[0], ["figure", "Flotilla icount", "Linux wallclock"]);
        let row = |start: &str| rows.iter().find(|r| r[0].starts_with(start)).unwrap()[1..].to_vec();
        assert_eq!(row("round trip to core 1, URPC"), ["12379.85", "-"]);
        assert_eq!(row("update, all clients, 1 line, message"), ["8.00", "-"], "7 clients, 1 line");
        assert_eq!(row("unmap, 8 cores"), ["70000.00", "1.40"]);
        assert_eq!(row("boot to the first program"), ["150", "-"]);
        assert_eq!(rows.len(), 1 + HEADLINES.len());
    }

    #[test]
    fn the_first_prompt_joins_the_boot_record_of_as_many_cores() {
        let mut main = console(&[
            "bench: counter iterations=10 instructions=20 instructions_per_op=2.00",
            "bench: boot cores=4 online_instructions=100 first_program_instructions=150",
        ]);
        let prompt = console(&[
            "init: starting",
            "flotilla> ",
            "bench: boot_prompt cores=4 online_instructions=101 prompt_instructions=400",
        ]);
        add_boot_prompt(&mut main, prompt.of("boot_prompt").next().unwrap().clone());
        assert_eq!(
            lines::to_csv(main.of("boot")).unwrap(),
            "cores,online_instructions,first_program_instructions,prompt_instructions\n4,100,150,400\n"
        );
        assert_eq!(main.of("boot_prompt").count(), 1);
        let chart = boot_chart(&main.of("boot").cloned().collect::<Vec<_>>()).unwrap();
        assert_eq!(chart.series[2].points, [(4.0, 400.0)]);
        add_relative(&mut main);
        assert_eq!(
            lines::to_csv(main.of("boot_relative")).unwrap(),
            "cores,first_program_over_online,prompt_over_online\n4,1.50,4.00\n"
        );
    }

    #[test]
    fn a_prompt_of_another_size_stays_a_record_of_its_own() {
        let mut main =
            console(&["bench: boot cores=4 online_instructions=100 first_program_instructions=150"]);
        let prompt = console(&["bench: boot_prompt cores=8 online_instructions=1 prompt_instructions=2"]);
        add_boot_prompt(&mut main, prompt.records[0].clone());
        assert_eq!(main.of("boot").next().unwrap().text("prompt_instructions"), None);
        assert_eq!(main.of("boot_prompt").count(), 1);
    }

    #[test]
    fn the_boot_chart_has_both_moments_by_cores() {
        let boots = console(&[
            "bench: boot cores=2 online_instructions=100 first_program_instructions=150",
            "bench: boot cores=4 online_instructions=200 first_program_instructions=260",
        ])
        .records;
        let chart = boot_chart(&boots).unwrap();
        assert_eq!(chart.series[0].points, [(2.0, 100.0), (4.0, 200.0)]);
        assert_eq!(chart.series[1].points, [(2.0, 150.0), (4.0, 260.0)]);
        assert!(boot_chart(&[]).is_none());
    }

    #[test]
    fn a_plot_has_a_series_per_core_and_its_baselines() {
        let console = console(&[
            "bench: monitor_call calls=1000 instructions=1 instructions_per_op=39610.79",
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=12379.85",
            "bench: urpc_rtt core=2 rounds=1000 instructions=1 instructions_per_op=12847.20",
            "bench: urpc_latency core=1 words=3 messages=1000 instructions=1 instructions_per_op=10.00",
            "bench: urpc_latency core=1 words=8 messages=1000 instructions=1 instructions_per_op=20.00",
            "bench: urpc_latency core=2 words=3 messages=1000 instructions=1 instructions_per_op=11.00",
        ]);
        let rtt = chart(&PLOTS[0], &console, Mode::Icount).unwrap();
        let labels: Vec<&str> = rtt.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["ping and pong (URPC)", "local monitor call (LMP, null)"]);
        assert_eq!(rtt.series[0].points, [(1.0, 12379.85), (2.0, 12847.2)]);
        assert_eq!(rtt.series[1].points, [(1.0, 39610.79), (2.0, 39610.79)], "across the x range");
        let latency = chart(&PLOTS[1], &console, Mode::Icount).unwrap();
        assert_eq!(latency.series.len(), 2, "one series per core");
        assert_eq!(latency.series[0].points, [(3.0, 10.0), (8.0, 20.0)]);
        assert!(chart(&PLOTS[4], &console, Mode::Icount).is_none(), "no lmp_rtt results, no plot");
    }

    #[test]
    fn the_sweep_takes_the_round_trip_to_the_last_core() {
        let console = console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=100.00",
            "bench: urpc_rtt core=2 rounds=1000 instructions=1 instructions_per_op=200.00",
        ]);
        let record = farthest_round_trip(&console, 3).unwrap();
        assert_eq!(
            lines::to_csv([&record]).unwrap(),
            "cores,core,rounds,instructions,instructions_per_op\n3,2,1000,1,200.00\n"
        );
        assert!(farthest_round_trip(&console, 4).is_none());
    }

    #[test]
    fn runs_that_differ_are_reported_line_by_line() {
        let first = console(&["bench: a x=1", "bench: b x=2"]).records;
        let second = console(&["bench: a x=1", "bench: b x=3", "bench: c x=4"]).records;
        assert!(compare(&first, &first).is_empty());
        let differences = compare(&first, &second);
        assert_eq!(differences, ["  - b x=2\n  + b x=3", "  - (nothing)\n  + c x=4"]);
    }

    #[test]
    fn the_summary_shows_parameters_and_result() {
        let text = summary(&console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=12379859 instructions_per_op=12379.85",
        ]));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "benchmark  parameters          result");
        assert_eq!(lines[1], "urpc_rtt   core=1 rounds=1000  12379.85 instructions per op");
    }
}
