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

/// What `cargo xtask bench` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub smp: u32,
    pub gic: u8,
    /// Also boot 2 ..= smp cores and plot the round trip to the last core against them.
    pub cores_sweep: bool,
    /// Boot twice and fail unless both boots print the same lines.
    pub repeat_check: bool,
    /// `--linux NAME`: boot Linux instead, running these benchmarks ([`linux`]).
    pub linux: Option<Vec<&'static str>>,
}

impl Options {
    /// Reads `[--smp N] [--gic 2|3] [--cores-sweep] [--repeat-check] [--linux NAME]`.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options { smp: 4, gic: 2, cores_sweep: false, repeat_check: false, linux: None };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().cloned().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--smp" => options.smp = value("--smp")?.parse().context("--smp takes a number of cores")?,
                "--gic" => options.gic = value("--gic")?.parse().context("--gic takes 2 or 3")?,
                "--cores-sweep" => options.cores_sweep = true,
                "--repeat-check" => options.repeat_check = true,
                "--linux" => options.linux = Some(linux::selection(&value("--linux")?)?),
                other => bail!("unknown option `{other}` for bench"),
            }
        }
        ensure!(!options.cores_sweep || options.smp >= 2, "--cores-sweep needs --smp 2 or more");
        ensure!(
            !(options.cores_sweep && options.linux.is_some()),
            "--cores-sweep is Flotilla's: the Linux figures cover every core of one boot"
        );
        options.machine(options.smp).validate()?;
        Ok(options)
    }

    /// The machine the benchmarks run on, with `smp` cores.
    fn machine(&self, smp: u32) -> Machine {
        let mut machine = Machine::new(Board::Virt);
        machine.smp = smp;
        machine.gic = self.gic;
        machine.cpu = "max".into();
        machine.icount = true;
        machine.semihosting = true;
        machine.append = Some("flotilla.init=bench".into());
        machine
    }
}

/// Everything `cargo xtask bench` does: build, boot, check, write, summarise.
pub fn run(options: &Options) -> Result<()> {
    if let Some(selection) = &options.linux {
        return linux::run(options, selection);
    }
    let built = image::build(Board::Virt)?;
    let qemu = setup::qemu_binary()?;
    let out = output_dir();
    clear(&out)?;
    let boot_cores = |smp: u32, console: &str| {
        let cores = if smp == 1 { "core" } else { "cores" };
        eprintln!("xtask bench: booting {smp} {cores}, GICv{}, -cpu max, icount", options.gic);
        boot(&options.machine(smp), &qemu, &built.image, &out.join(console))
    };

    let console = boot_cores(options.smp, "console.txt")?;
    let mut written = vec![out.join("console.txt")];
    written.extend(write_tables_and_plots(&console, &out)?);
    if options.repeat_check {
        let again = boot_cores(options.smp, "console-repeat.txt")?;
        written.push(out.join("console-repeat.txt"));
        check_repeat(&console, &again)?;
    }
    let mut sweep = Vec::new();
    if options.cores_sweep {
        for smp in 2..options.smp {
            let console_name = format!("console-smp{smp}.txt");
            let smaller = boot_cores(smp, &console_name)?;
            written.push(out.join(console_name));
            sweep.extend(farthest_round_trip(&smaller, smp));
        }
        sweep.extend(farthest_round_trip(&console, options.smp));
        written.extend(write_sweep(&sweep, &out)?);
    }

    println!("{}", summary(&console));
    if !sweep.is_empty() {
        println!("\n{}", sweep_summary(&sweep));
    }
    check_counter(&console);
    println!("\nwritten to {}:", out.display());
    for path in written {
        println!("  {}", path.file_name().unwrap_or_default().to_string_lossy());
    }
    linux::write_side_by_side()
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
    let count = first.records.len();
    eprintln!("xtask bench: repeat check passed: two boots printed the same {count} lines");
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
}

/// The plots `cargo xtask bench` draws. The baselines (`counter`, `syscall_nop`,
/// `monitor_call`) are single figures: they get a table each and appear in the plots as
/// dashed lines.
pub const PLOTS: [Plot; 5] = [
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
    },
];

/// The chart `plot` draws from `console`'s records, or `None` if there are none.
pub fn chart(plot: &Plot, console: &Console) -> Option<Chart> {
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
fn write_tables_and_plots(console: &Console, out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for benchmark in console.benchmarks() {
        let csv = lines::to_csv(console.of(benchmark)).map_err(anyhow::Error::msg)?;
        written.push(write(&out.join(format!("{benchmark}.csv")), &csv)?);
    }
    for plot in &PLOTS {
        if let Some(chart) = chart(plot, console) {
            written.push(write(&out.join(format!("{}.svg", plot.benchmark)), &chart.to_svg())?);
        }
    }
    Ok(written)
}

fn write(path: &Path, text: &str) -> Result<PathBuf> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_path_buf())
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
fn table(header: [&str; 3], rows: &[[String; 3]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: [&str; 3]| {
        let text =
            format!("{:w0$}  {:w1$}  {}", cells[0], cells[1], cells[2], w0 = widths[0], w1 = widths[1]);
        text.trim_end().to_string()
    };
    let mut text = line(header);
    for row in rows {
        text.push('\n');
        text.push_str(&line([&row[0], &row[1], &row[2]]));
    }
    text
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

    #[test]
    fn options_default_to_four_cores_and_check_the_gic() {
        let parsed = Options::parse(&[]).unwrap();
        assert_eq!((parsed.smp, parsed.gic, parsed.cores_sweep, parsed.repeat_check), (4, 2, false, false));
        let args: Vec<String> =
            ["--smp", "16", "--gic", "3", "--cores-sweep", "--repeat-check"].map(String::from).into();
        let parsed = Options::parse(&args).unwrap();
        assert_eq!((parsed.smp, parsed.gic, parsed.cores_sweep, parsed.repeat_check), (16, 3, true, true));
        assert!(Options::parse(&["--smp", "16"].map(String::from)).is_err(), "GICv2 stops at 8 cores");
        assert!(Options::parse(&["--smp", "1", "--cores-sweep"].map(String::from)).is_err());
        assert!(Options::parse(&["--board".to_string()]).is_err());
    }

    #[test]
    fn the_machine_counts_instructions_and_starts_bench() {
        let machine = Options::parse(&[]).unwrap().machine(4);
        let command = format!("{:?}", machine.command(Path::new("qemu"), Path::new("Image"), false));
        for part in ["\"max\"", "\"shift=0,sleep=off\"", "flotilla.init=bench", "semihosting"] {
            assert!(command.contains(part), "{part} in {command}");
        }
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
        let rtt = chart(&PLOTS[0], &console).unwrap();
        let labels: Vec<&str> = rtt.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["ping and pong (URPC)", "local monitor call (LMP, null)"]);
        assert_eq!(rtt.series[0].points, [(1.0, 12379.85), (2.0, 12847.2)]);
        assert_eq!(rtt.series[1].points, [(1.0, 39610.79), (2.0, 39610.79)], "across the x range");
        let latency = chart(&PLOTS[1], &console).unwrap();
        assert_eq!(latency.series.len(), 2, "one series per core");
        assert_eq!(latency.series[0].points, [(3.0, 10.0), (8.0, 20.0)]);
        assert!(chart(&PLOTS[4], &console).is_none(), "no lmp_rtt results, no plot");
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
