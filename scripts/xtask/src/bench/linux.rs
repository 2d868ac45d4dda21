//! `cargo xtask bench --linux NAME`: the same questions asked of Linux on the same machine,
//! so each of Flotilla's figures has a baseline to stand beside.
//!
//! The machine is the one Flotilla's benchmarks boot (`Options::machine_for`: QEMU `virt`,
//! `-cpu max -icount shift=0,sleep=off`, or the multi-threaded emulator with `--mode
//! wallclock`, `--smp`, `--gic`, the same memory); the system is
//! Debian's arm64 kernel ([`setup::debian_arm64_kernel`], fetched at run time and cached in
//! `target/linux/`) with an initramfs ([`initramfs`](super::initramfs)) holding
//! `/dev/console` and `/init`, which is `scripts/linux-bench`. That program reads the
//! counter as Flotilla's `bench` does and prints lines of the same shape, so the same
//! parser, tables and plots serve both:
//!
//! | NAME | lines | Flotilla's counterpart |
//! |---|---|---|
//! | `urpc` | `urpc_rtt` (pipe), `futex_rtt`, `pipe_rtt_same_core` | `urpc_rtt`, `lmp_rtt` |
//! | `update` | `update strategy=atomic\|lock cores=N lines=M` | `update` |
//! | `unmap` | `unmap cores=N` | `unmap` |
//! | `boot` | `boot cores=N instructions=X` | `boot` |
//!
//! `all` runs the four, and boots 8 cores on GICv3 as well for `update` and `unmap` (as
//! Flotilla's `all` does); `counter` (what a tick is) runs every time. `revoke` and `compute`
//! are Flotilla's alone. The names go to `/init` as its arguments, after `--` on the kernel
//! command line.
//!
//! Results go to `target/bench/linux/MODE/` (`NAME.csv`, `console.txt`, `smp8/`; a run
//! replaces the tables of what it ran and keeps the others). In wallclock mode the lines
//! also become ratios to baselines of the same boot ([`super::add_relative`], the same as
//! Flotilla's), so the two systems compare by ratios. Whenever either system's results
//! are written, [`write_side_by_side`] draws `target/bench/side-by-side/MODE/`: a plot per
//! question with a series per system, from the CSV files of both.
//!
//! To make a boot repeat exactly, nothing random reaches the guest: `-seed 1` fixes what
//! QEMU's random number instructions (`RNDR`, `-cpu max` has FEAT_RNG) return,
//! `dtb-randomness=off` keeps the seeds out of the device tree, `kaslr.disabled=1` (what
//! `nokaslr` stands for, without being passed on to `/init` as an argument) keeps the
//! kernel where it loads, and `-rtc base=2024-01-01,clock=vm` makes the real-time clock
//! (the PL031, which Linux reads at boot) start at a fixed date and advance with the
//! instructions rather than with the host's time. `--repeat-check` boots twice and fails
//! unless every line is the same.

use super::initramfs::Archive;
use super::lines::{self, Console, Record};
use super::svg::{Chart, Scale, Series, Style};
use super::{Mode, Options, Outcome};
use crate::image::{self, USER_TARGET};
use crate::qemu::Machine;
use crate::setup;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};

/// What `--linux` takes, besides `all`.
pub const NAMES: [&str; 4] = ["urpc", "update", "unmap", "boot"];

/// Benchmarks with nothing to compare on Linux.
const FLOTILLA_ONLY: [&str; 2] = ["revoke", "compute"];

/// The package of the program that is `/init`.
const PROGRAM: &str = "linux-bench";

/// The program's last line, `bench: done cores=N errors=E`: it ran to its end.
const DONE: &str = "done";

/// The benchmarks `--linux` with `names` (`all`, or names separated by commas) selects, in
/// the order of [`NAMES`].
pub fn selection(names: &str) -> Result<Vec<&'static str>> {
    if names == "all" {
        return Ok(NAMES.to_vec());
    }
    for name in names.split(',') {
        if FLOTILLA_ONLY.contains(&name) {
            bail!(
                "`{name}` is a Flotilla-only benchmark: there is no Linux baseline for it (--linux takes {}, all)",
                NAMES.join(", ")
            );
        }
        ensure!(NAMES.contains(&name), "unknown benchmark `{name}` for --linux ({}, all)", NAMES.join(", "));
    }
    Ok(NAMES.into_iter().filter(|known| names.split(',').any(|name| name == *known)).collect())
}

/// The benchmarks of the wide boot of `--linux all`: those that sweep the cores of one boot.
const WIDE_NAMES: [&str; 2] = ["update", "unmap"];

/// `target/linux`: the kernel, the program's build, the initramfs.
fn cache_dir() -> PathBuf {
    setup::workspace_root().join("target").join("linux")
}

/// `target/bench/linux/MODE`.
pub fn output_dir(mode: Mode) -> PathBuf {
    super::output_dir().join("linux").join(mode.name())
}

/// `target/bench/side-by-side/MODE`.
pub fn side_by_side_dir(mode: Mode) -> PathBuf {
    super::output_dir().join("side-by-side").join(mode.name())
}

/// The kernel command line: the console on the PL011, few kernel messages, the kernel
/// where it loads, a reboot (so QEMU's exit) rather than a hang on a panic, and the
/// benchmarks as `/init`'s arguments.
pub fn command_line(selection: &[&str]) -> String {
    format!("console=ttyAMA0 quiet kaslr.disabled=1 panic=-1 -- {}", selection.join(" "))
}

/// Flotilla's bench machine with `smp` cores on GIC version `gic` in the options' mode,
/// booting Linux with `initramfs`.
fn machine(options: &Options, (smp, gic): (u32, u8), selection: &[&str], initramfs: &Path) -> Machine {
    let mut machine = options.machine_for(smp, gic, &[]);
    machine.semihosting = false;
    machine.append = Some(command_line(selection));
    let extra = [
        "-no-reboot",
        "-seed",
        "1",
        "-M",
        "dtb-randomness=off",
        "-rtc",
        "base=2024-01-01,clock=vm",
        "-initrd",
    ];
    machine.extra.extend(extra.iter().map(|s| s.to_string()));
    machine.extra.push(initramfs.display().to_string());
    machine
}

/// The initramfs: `/dev/console` (char 5:1, Linux `Documentation/admin-guide/devices.txt`),
/// which the kernel opens as init's standard input and output, and `/init`.
pub fn initramfs(program: &[u8]) -> Vec<u8> {
    let mut archive = Archive::new();
    archive.directory("dev", 0o755);
    archive.character_device("dev/console", 0o600, 5, 1);
    archive.file("init", 0o755, program);
    archive.finish()
}

/// Builds `scripts/linux-bench` without debug info (the kernel unpacks every byte of the
/// initramfs before `/init` starts, inside the `boot` figure) and returns the ELF file.
fn build_program() -> Result<Vec<u8>> {
    let target_dir = cache_dir().join("build");
    let status = image::cargo()
        .args(["build", "--release", "--package", PROGRAM, "--target", USER_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .status()
        .context("running cargo to build the Linux benchmark program")?;
    ensure!(status.success(), "building {PROGRAM} failed ({status})");
    let path = target_dir.join(USER_TARGET).join("release").join(PROGRAM);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// Everything `cargo xtask bench --linux NAME` does, in the options' mode: boot, check,
/// write, summarise, and draw both systems side by side. With `all` on fewer than 8 cores
/// it boots 8 cores on GICv3 too for `WIDE_NAMES`, into `smp8/`, as Flotilla's `all`
/// does.
pub fn run(options: &Options, selection: &[&'static str]) -> Result<Outcome> {
    setup::ensure_rust_targets(&crate::TARGETS)?;
    let qemu = setup::qemu_binary()?;
    let cache = cache_dir();
    let kernel = setup::debian_arm64_kernel(&cache)?;
    let initramfs_path = cache.join("initramfs.cpio");
    std::fs::write(&initramfs_path, initramfs(&build_program()?))
        .with_context(|| format!("writing {}", initramfs_path.display()))?;
    let mode = options.mode;
    let out = output_dir(mode);
    clear_results(&out, selection)?;
    let kernel_name = kernel.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let boot = |machine: &Machine, console_path: &Path| {
        eprintln!("xtask bench --linux: booting {kernel_name} on {}", super::describe(machine, mode));
        ran_to_the_end(super::boot(machine, &qemu, &kernel, console_path)?)
    };

    let mut boots = vec![((options.smp, options.gic), selection.to_vec(), out.clone())];
    if let Some(size) = options.wide_boot() {
        let wide_out = out.join(super::wide_dir_name());
        super::clear(&wide_out)?;
        boots.push((size, WIDE_NAMES.to_vec(), wide_out));
    }
    let (mut consoles, mut repeats, mut written) = (Vec::new(), Vec::new(), Vec::new());
    for (size, names, dir) in boots {
        let machine = machine(options, size, &names, &initramfs_path);
        let mut console = boot(&machine, &dir.join("console.txt"))?;
        written.push(dir.join("console.txt"));
        if options.repeat_check {
            repeats.push(super::repeat_boot(&options.label(), &machine, &console, || {
                boot(&machine, &dir.join("console-repeat.txt"))
            })?);
            written.push(dir.join("console-repeat.txt"));
        }
        if mode == Mode::Wallclock {
            super::add_relative(&mut console);
        }
        for benchmark in console.benchmarks() {
            let csv = lines::to_csv(console.of(benchmark)).map_err(anyhow::Error::msg)?;
            written.push(super::write(&dir.join(format!("{benchmark}.csv")), &csv)?);
        }
        consoles.push(console);
    }
    for (i, console) in consoles.iter().enumerate() {
        let title = if i == 0 { String::new() } else { format!("\n{} cores, GICv3:\n", super::WIDE_SMP) };
        println!("{title}{}", super::summary(console));
    }
    if mode == Mode::Icount {
        super::check_counter(&consoles[0]);
    }
    for line in &repeats {
        eprintln!("xtask bench: {line}");
    }
    println!("\nwritten to {}:", out.display());
    for path in written {
        println!("  {}", path.strip_prefix(&out).unwrap_or(&path).display());
    }
    write_side_by_side(mode)?;
    Ok(Outcome { label: options.label(), mode, consoles, repeats })
}

/// The result lines each name of [`NAMES`] prints.
fn lines_of(name: &str) -> &'static [&'static str] {
    match name {
        "urpc" => &["urpc_rtt", "futex_rtt", "pipe_rtt_same_core", "urpc_rtt_relative", "futex_rtt_relative"],
        "update" => &["update", "update_relative"],
        "unmap" => &["unmap", "unmap_relative"],
        "boot" => &["boot"],
        _ => &[],
    }
}

/// The files in `out` that a run of `selection` writes: the consoles, `counter.csv` (it
/// runs every time) and the tables of the selected benchmarks (and their ratios, which
/// wallclock mode adds). Another benchmark's table
/// stays, so `--linux boot` after `--linux urpc` leaves both to plot.
pub fn files_rewritten(selection: &[&str]) -> Vec<String> {
    let tables = selection.iter().flat_map(|name| lines_of(name)).chain(&["counter"]);
    let mut files: Vec<String> = tables.map(|line| format!("{line}.csv")).collect();
    files.extend(["console.txt", "console-repeat.txt"].map(String::from));
    files
}

fn clear_results(out: &Path, selection: &[&str]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for name in files_rewritten(selection) {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// `console` without its `done` line, or an error if it has none (the kernel panicked, or
/// the program died, part way).
fn ran_to_the_end(mut console: Console) -> Result<Console> {
    let Some(done) = console.records.iter().position(|r| r.benchmark == DONE) else {
        bail!("the Linux benchmark program did not run to its end (no `bench: {DONE}` line)");
    };
    console.records.remove(done);
    Ok(console)
}

/// Draws the side-by-side plots of `mode` from the CSV files of both systems, for the
/// boot of `--smp` cores and for the wide one (`smp8/`), where Linux has figures; says
/// where they went.
pub fn write_side_by_side(mode: Mode) -> Result<()> {
    for wide in [false, true] {
        let sub = |dir: PathBuf| if wide { dir.join(super::wide_dir_name()) } else { dir };
        let linux = read_results(&sub(output_dir(mode)))?;
        if linux.records.is_empty() {
            continue;
        }
        let flotilla = read_results(&sub(super::output_dir().join(mode.name())))?;
        if let Some(warning) = size_mismatch(&flotilla, &linux) {
            eprintln!("warning: {warning}");
        }
        let out = sub(side_by_side_dir(mode));
        super::clear(&out)?;
        let mut written = Vec::new();
        for (name, chart) in side_by_side(&flotilla, &linux, mode) {
            written.push(super::write(&out.join(format!("{name}.svg")), &chart.to_svg())?);
        }
        let boot = boot_rows(&flotilla, &linux);
        if mode == Mode::Icount && !boot.is_empty() {
            println!("\n{}", super::table(BOOT_COLUMNS, &boot));
            let csv: Vec<String> =
                std::iter::once(BOOT_COLUMNS.join(",")).chain(boot.iter().map(|row| row.join(","))).collect();
            written.push(super::write(&out.join("boot.csv"), &(csv.join("\n") + "\n"))?);
        }
        let shown: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
            .collect();
        println!("\nFlotilla and Linux side by side, in {}:\n  {}", out.display(), shown.join("\n  "));
    }
    Ok(())
}

/// The number of cores of the boot `console` comes from, as far as its results tell: the
/// most any `unmap`, `update` or `boot` line names.
fn cores_booted(console: &Console) -> Option<u64> {
    let sized = ["unmap", "update", "boot"].into_iter().flat_map(|benchmark| console.of(benchmark));
    sized.filter_map(|r| r.text("cores")?.parse().ok()).max()
}

/// A warning if the two systems' figures come from boots of different sizes, which
/// cross-core figures cannot be compared across.
pub fn size_mismatch(flotilla: &Console, linux: &Console) -> Option<String> {
    let (flotilla_cores, linux_cores) = (cores_booted(flotilla)?, cores_booted(linux)?);
    (flotilla_cores != linux_cores).then(|| {
        format!(
            "the side-by-side plots put Flotilla's figures from {flotilla_cores} cores next to \
             Linux's from {linux_cores}; cross-core figures compare only between boots of the \
             same size, so run both with the same --smp"
        )
    })
}

/// Every `NAME.csv` in `dir` read back as records of benchmark NAME; nothing if `dir` is
/// missing.
pub fn read_results(dir: &Path) -> Result<Console> {
    let mut console = Console::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(console),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "csv")) {
        let benchmark = path.file_stem().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let records = records_from_csv(&benchmark, &text).map_err(|e| {
            anyhow::anyhow!("{}: {e} (delete it, or run its benchmark again)", path.display())
        })?;
        console.records.extend(records);
    }
    Ok(console)
}

/// The records of a table [`lines::to_csv`] wrote for `benchmark`.
pub fn records_from_csv(benchmark: &str, text: &str) -> Result<Vec<Record>, String> {
    let mut rows = text.lines();
    let keys: Vec<&str> = rows.next().ok_or("an empty file")?.split(',').collect();
    rows.enumerate()
        .map(|(i, row)| {
            let values: Vec<&str> = row.split(',').collect();
            if values.len() != keys.len() {
                return Err(format!("row {} has {} values for {} columns", i + 1, values.len(), keys.len()));
            }
            let fields = keys.iter().zip(values).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Ok(Record { benchmark: benchmark.to_string(), fields })
        })
        .collect()
}

/// One line of a side-by-side plot: which system's results, which benchmark, which of its
/// records, which of their fields is the height, under what label.
struct Source<'a> {
    console: &'a Console,
    benchmark: String,
    keep: Box<dyn Fn(&Record) -> bool + 'a>,
    y_key: &'a str,
    label: String,
}

impl<'a> Source<'a> {
    /// All of `benchmark`'s records, `y_key` high.
    fn all(console: &'a Console, (benchmark, y_key): (String, &'a str), label: &str) -> Source<'a> {
        Source { console, benchmark, keep: Box::new(|_| true), y_key, label: label.into() }
    }

    /// The records of one strategy and number of lines of `update` (or of its ratios).
    fn update(
        console: &'a Console,
        (benchmark, y_key): (String, &'a str),
        strategy: &'a str,
        lines: &'a str,
        label: &str,
    ) -> Source<'a> {
        let keep = move |r: &Record| r.text("lines") == Some(lines) && r.text("strategy") == Some(strategy);
        Source { console, benchmark, keep: Box::new(keep), y_key, label: label.into() }
    }

    fn points(&self, x_key: &str) -> Vec<(f64, f64)> {
        let records = self.console.of(&self.benchmark).filter(|r| (self.keep)(r));
        records.filter_map(|r| Some((r.number(x_key)?, r.number(self.y_key)?))).collect()
    }
}

/// A chart of `data` sources as lines and `references` as dashed lines at their first
/// value; `None` if no data source has a point.
fn chart(
    title: String,
    (x_key, x_label): (&str, &str),
    y_label: &str,
    data: &[Source<'_>],
    references: &[Source<'_>],
) -> Option<Chart> {
    let mut series: Vec<Series> = data
        .iter()
        .map(|source| Series {
            label: source.label.clone(),
            points: source.points(x_key),
            style: Style::Data,
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }
    let xs = || series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (low, high) = (xs().fold(f64::INFINITY, f64::min), xs().fold(f64::NEG_INFINITY, f64::max));
    for source in references {
        let records = source.console.of(&source.benchmark);
        let y = records.filter(|r| (source.keep)(r)).find_map(|r| r.number(source.y_key));
        if let Some(y) = y {
            let points = vec![(low, y), (high, y)];
            series.push(Series { label: source.label.clone(), points, style: Style::Reference });
        }
    }
    Some(Chart { title, x_label: x_label.into(), y_label: y_label.into(), x_scale: Scale::Linear, series })
}

/// What a side-by-side plot shows of `benchmark` in `mode`: under icount its instructions
/// per operation; in wallclock mode the ratio [`super::add_relative`] made of it, the
/// baseline measured in the same boot of the same system.
fn shown(mode: Mode, benchmark: &str) -> (String, &'static str) {
    match mode {
        Mode::Icount => (benchmark.to_string(), "instructions_per_op"),
        Mode::Wallclock => {
            let key = match benchmark {
                "update" => "relative_cost",
                "unmap" | "revoke" => "relative_to_one_core",
                _ => "relative_to_same_core",
            };
            (format!("{benchmark}_relative"), key)
        }
    }
}

/// The side-by-side plots of `mode`, by file name: the round trip by core, `update` for
/// each number of lines, `unmap` by cores, and (under icount) `boot` by cores. In
/// wallclock mode each system's figures are ratios to its own baseline of the same boot
/// (see `shown`), the only figures of that mode two systems can be compared by.
pub fn side_by_side(flotilla: &Console, linux: &Console, mode: Mode) -> Vec<(String, Chart)> {
    let source = |console, benchmark, label| Source::all(console, shown(mode, benchmark), label);
    let (rtt_title, rtt_label, update_label, unmap_label) = match mode {
        Mode::Icount => (
            "Round trip to another core: Flotilla's URPC, Linux's pipe and futex",
            "instructions per round trip",
            "instructions per operation",
            "instructions per unmap",
        ),
        Mode::Wallclock => (
            "Round trip to another core over the same-core round trip (time, same boot)",
            "round trip / same-core round trip",
            "time per update / 1-core atomic, 1 line",
            "time per unmap / on 1 core",
        ),
    };
    let mut charts = Vec::new();
    let references = match mode {
        Mode::Icount => vec![
            Source::all(flotilla, shown(mode, "lmp_rtt"), "Flotilla: LMP round trip, same core"),
            Source::all(linux, shown(mode, "pipe_rtt_same_core"), "Linux: pipe round trip, same core"),
        ],
        Mode::Wallclock => Vec::new(),
    };
    charts.push((
        "urpc_rtt".to_string(),
        chart(
            rtt_title.into(),
            ("core", "core pinged (the client is on core 0)"),
            rtt_label,
            &[
                source(flotilla, "urpc_rtt", "Flotilla: URPC, monitor to monitor"),
                source(linux, "urpc_rtt", "Linux: pipe, thread to thread"),
                source(linux, "futex_rtt", "Linux: futex, thread to thread"),
            ],
            &references,
        ),
    ));
    for lines in ["1", "2", "4", "8"] {
        let update =
            |console, strategy, label| Source::update(console, shown(mode, "update"), strategy, lines, label);
        charts.push((
            format!("update_lines_{lines}"),
            chart(
                format!("Updating {lines} shared cache line(s) from N cores at once"),
                ("cores", "cores updating (one thread each)"),
                update_label,
                &[
                    update(flotilla, "atomic", "Flotilla: atomic"),
                    update(flotilla, "lock", "Flotilla: lock"),
                    update(linux, "atomic", "Linux: atomic"),
                    update(linux, "lock", "Linux: futex mutex"),
                ],
                &[],
            ),
        ));
    }
    charts.push((
        "unmap".to_string(),
        chart(
            "Unmapping a page of an address space in use on N cores".into(),
            ("cores", "cores the domain (process) runs on"),
            unmap_label,
            &[
                source(flotilla, "unmap", "Flotilla: unmap + messages"),
                source(linux, "unmap", "Linux: munmap + TLBI broadcast"),
            ],
            &[],
        ),
    ));
    if mode == Mode::Icount {
        charts.push((
            "boot".to_string(),
            chart(
                "Boot: power-on to the first instruction of the first program".into(),
                ("cores", "cores booted"),
                "instructions",
                &[
                    Source::all(flotilla, ("boot".into(), FLOTILLA_BOOT_KEY), "Flotilla"),
                    Source::all(linux, ("boot".into(), "instructions"), "Linux (to /init)"),
                ],
                &[],
            ),
        ));
    }
    charts.into_iter().filter_map(|(name, chart)| Some((name, chart?))).collect()
}

/// The field of Flotilla's `boot` line that is Linux's `boot instructions`: the counter when
/// the first program started.
const FLOTILLA_BOOT_KEY: &str = "first_program_instructions";

/// The columns of the side-by-side boot table.
const BOOT_COLUMNS: [&str; 3] = ["cores", "flotilla_instructions", "linux_instructions"];

/// A row of boot figures per number of cores either system booted (empty where one has
/// no figure).
pub fn boot_rows(flotilla: &Console, linux: &Console) -> Vec<[String; 3]> {
    let mut cores: Vec<&str> =
        flotilla.of("boot").chain(linux.of("boot")).filter_map(|r| r.text("cores")).collect();
    cores.sort_by_key(|c| c.parse::<u64>().unwrap_or(u64::MAX));
    cores.dedup();
    let find = |console: &Console, n: &str, key: &str| {
        let found = console.of("boot").find(|r| r.text("cores") == Some(n));
        found.and_then(|r| r.text(key)).unwrap_or_default().to_string()
    };
    cores
        .iter()
        .map(|n| [n.to_string(), find(flotilla, n, FLOTILLA_BOOT_KEY), find(linux, n, "instructions")])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(lines: &[&str]) -> Console {
        Console::parse(lines.iter().copied())
    }

    #[test]
    fn a_name_selects_one_benchmark_and_all_selects_four() {
        assert_eq!(selection("unmap").unwrap(), ["unmap"]);
        assert_eq!(selection("all").unwrap(), ["urpc", "update", "unmap", "boot"]);
        assert_eq!(selection("boot,urpc,boot").unwrap(), ["urpc", "boot"], "in order, once each");
        assert!(selection("urpc,revoke").unwrap_err().to_string().contains("`revoke` is a Flotilla-only"));
        let flotilla_only = selection("revoke").unwrap_err().to_string();
        assert!(flotilla_only.contains("Flotilla-only"), "{flotilla_only}");
        assert!(selection("compute").unwrap_err().to_string().contains("Flotilla-only"));
        assert!(selection("lmp").unwrap_err().to_string().contains("unknown benchmark `lmp`"));
    }

    #[test]
    fn the_options_take_linux_and_refuse_it_with_a_sweep() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let options = Options::parse(&args(&["--linux", "urpc", "--repeat-check"])).unwrap();
        assert_eq!(options.linux, Some(vec!["urpc"]));
        assert!(options.repeat_check);
        assert_eq!(Options::parse(&[]).unwrap().linux, None);
        let after = Options::parse(&args(&["unmap", "--linux", "--mode", "wallclock"])).unwrap();
        assert_eq!((after.linux, after.mode, after.matrix), (Some(vec!["unmap"]), Mode::Wallclock, false));
        let all = Options::parse(&args(&["--linux"])).unwrap();
        assert_eq!(all.linux, Some(NAMES.to_vec()), "no name: all");
        assert_eq!(all.wide_boot(), Some((8, 3)), "all adds the wide boot, as Flotilla's all does");
        assert_eq!(Options::parse(&args(&["--linux", "urpc,unmap"])).unwrap().wide_boot(), None);
        assert!(Options::parse(&args(&["--linux", "revoke"])).is_err());
        assert!(Options::parse(&args(&["--linux", "all", "--cores-sweep"])).is_err());
    }

    #[test]
    fn linux_boots_on_the_bench_machine_with_the_initramfs_and_no_randomness() {
        let options = Options::parse(&["--smp".to_string(), "8".to_string()]).unwrap();
        let machine = machine(&options, (8, 2), &["urpc", "boot"], Path::new("target/linux/initramfs.cpio"));
        let command = machine.command(Path::new("qemu"), Path::new("vmlinuz"), false);
        let args: Vec<String> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let text = args.join(" ");
        for part in [
            "-cpu max",
            "-icount shift=0,sleep=off",
            "-smp 8",
            "-m 1G",
            "-initrd target/linux/initramfs.cpio",
            "-seed 1",
            "-M dtb-randomness=off",
            "-rtc base=2024-01-01,clock=vm",
            "-no-reboot",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert_eq!(append, "console=ttyAMA0 quiet kaslr.disabled=1 panic=-1 -- urpc boot");
        assert!(!text.contains("semihosting") && !text.contains("flotilla."), "{text}");
    }

    #[test]
    fn linux_in_wallclock_mode_runs_its_cores_in_parallel_with_the_same_initramfs() {
        let options = Options::parse(&["--linux", "--mode", "wallclock"].map(String::from)).unwrap();
        let machine = machine(&options, (8, 3), &["update"], Path::new("initramfs.cpio"));
        let command = machine.command(Path::new("qemu"), Path::new("vmlinuz"), false);
        let args: Vec<String> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let text = args.join(" ");
        for part in
            ["-accel tcg,thread=multi", "-smp 8", "gic-version=3", "-initrd initramfs.cpio", "-seed 1"]
        {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(!text.contains("icount"), "{text}");
    }

    #[test]
    fn the_initramfs_holds_the_console_node_and_init() {
        let archive = initramfs(b"\x7fELF");
        let text = String::from_utf8_lossy(&archive);
        let names: Vec<&str> = ["dev\0", "dev/console\0", "init\0", "TRAILER!!!\0"]
            .into_iter()
            .filter(|name| text.contains(name))
            .collect();
        assert_eq!(names.len(), 4, "{text:?}");
        assert!(text.find("dev/console").unwrap() < text.find("init\0").unwrap());
    }

    #[test]
    fn a_run_rewrites_the_tables_of_its_benchmarks_only() {
        let urpc = files_rewritten(&["urpc"]);
        for file in ["urpc_rtt.csv", "futex_rtt.csv", "pipe_rtt_same_core.csv", "counter.csv", "console.txt"]
        {
            assert!(urpc.iter().any(|f| f == file), "{file} in {urpc:?}");
        }
        assert!(!urpc.iter().any(|f| f == "boot.csv" || f == "update.csv"), "{urpc:?}");
        assert_eq!(files_rewritten(&NAMES).len(), 5 + 2 + 2 + 1 + 1 + 2, "every table, ratio and console");
        let update = files_rewritten(&["update"]);
        assert!(update.iter().any(|f| f == "update_relative.csv"), "wallclock's ratios: {update:?}");
    }

    #[test]
    fn csv_tables_read_back_as_the_records_written() {
        let written = console(&[
            "bench: update strategy=atomic cores=1 lines=1 updates=1000 instructions=14043 instructions_per_op=14.04",
            "bench: update strategy=lock cores=1 lines=1 updates=1000 instructions=36043 instructions_per_op=36.04",
        ]);
        let csv = lines::to_csv(written.of("update")).unwrap();
        assert_eq!(records_from_csv("update", &csv).unwrap(), written.records);
        let short_row = records_from_csv("update", "cores,instructions\n1,2\n3\n").unwrap_err();
        assert_eq!(short_row, "row 2 has 1 values for 2 columns");
        assert!(records_from_csv("update", "").is_err());
    }

    #[test]
    fn a_console_without_the_done_line_did_not_run_to_its_end() {
        let finished =
            ran_to_the_end(console(&["bench: boot cores=4 instructions=9", "bench: done cores=4 errors=0"]));
        assert_eq!(finished.unwrap().benchmarks(), ["boot"], "the done line is not a result");
        assert!(ran_to_the_end(console(&["bench: boot cores=4 instructions=9"])).is_err());
    }

    #[test]
    fn side_by_side_plots_have_a_series_per_system() {
        let flotilla = console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=12379.85",
            "bench: urpc_rtt core=2 rounds=1000 instructions=1 instructions_per_op=12847.20",
            "bench: lmp_rtt reply_capability=0 batch=1 messages=1 instructions=1 instructions_per_op=3000.00",
            "bench: unmap cores=1 rounds=50 instructions=1 instructions_per_op=900.00",
            "bench: update strategy=atomic cores=1 lines=1 updates=1 instructions=1 instructions_per_op=20.00",
        ]);
        let linux = console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=19468.22",
            "bench: urpc_rtt core=2 rounds=1000 instructions=1 instructions_per_op=19504.56",
            "bench: futex_rtt core=1 rounds=1000 instructions=1 instructions_per_op=16100.63",
            "bench: pipe_rtt_same_core core=0 rounds=1000 instructions=1 instructions_per_op=12196.10",
            "bench: update strategy=atomic cores=1 lines=1 updates=1 instructions=1 instructions_per_op=14.04",
            "bench: update strategy=lock cores=1 lines=1 updates=1 instructions=1 instructions_per_op=36.04",
            "bench: update strategy=atomic cores=1 lines=8 updates=1 instructions=1 instructions_per_op=70.04",
            "bench: unmap cores=1 rounds=50 instructions=1 instructions_per_op=10594.88",
            "bench: boot cores=4 instructions=911477056",
        ]);
        let charts = side_by_side(&flotilla, &linux, Mode::Icount);
        let names: Vec<&str> = charts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["urpc_rtt", "update_lines_1", "update_lines_8", "unmap", "boot"]);

        let rtt = &charts[0].1;
        let labels: Vec<(&str, Style)> = rtt.series.iter().map(|s| (s.label.as_str(), s.style)).collect();
        assert_eq!(
            labels,
            [
                ("Flotilla: URPC, monitor to monitor", Style::Data),
                ("Linux: pipe, thread to thread", Style::Data),
                ("Linux: futex, thread to thread", Style::Data),
                ("Flotilla: LMP round trip, same core", Style::Reference),
                ("Linux: pipe round trip, same core", Style::Reference),
            ]
        );
        assert_eq!(rtt.series[1].points, [(1.0, 19468.22), (2.0, 19504.56)]);
        assert_eq!(rtt.series[4].points, [(1.0, 12196.1), (2.0, 12196.1)], "across the x range");

        let update = &charts[1].1;
        let labels: Vec<&str> = update.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["Flotilla: atomic", "Linux: atomic", "Linux: futex mutex"]);
        assert_eq!(update.series[2].points, [(1.0, 36.04)], "only lines=1 and the lock");
        assert_eq!(charts[2].1.series.len(), 1, "lines=8: Linux's atomic alone");
        assert_eq!(charts[4].1.series[0].label, "Linux (to /init)", "no Flotilla boot figure, no series");

        let booted = console(&["bench: boot cores=4 online_instructions=90 first_program_instructions=120"]);
        let boot = side_by_side(&booted, &linux, Mode::Icount).pop().unwrap().1;
        let points: Vec<(&str, &[(f64, f64)])> =
            boot.series.iter().map(|s| (s.label.as_str(), s.points.as_slice())).collect();
        assert_eq!(
            points,
            [("Flotilla", &[(4.0, 120.0)][..]), ("Linux (to /init)", &[(4.0, 911477056.0)][..])]
        );
    }

    #[test]
    fn wallclock_side_by_side_plots_each_system_s_ratios_to_its_own_baseline() {
        let mut flotilla = console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=600.00",
            "bench: lmp_rtt reply_capability=0 batch=1 messages=1 instructions=1 instructions_per_op=300.00",
            "bench: unmap cores=1 rounds=50 instructions=1 instructions_per_op=100.00",
            "bench: unmap cores=2 rounds=50 instructions=1 instructions_per_op=250.00",
        ]);
        let mut linux = console(&[
            "bench: urpc_rtt core=1 rounds=1000 instructions=1 instructions_per_op=900.00",
            "bench: pipe_rtt_same_core core=0 rounds=1000 instructions=1 instructions_per_op=450.00",
            "bench: boot cores=4 instructions=911477056",
        ]);
        super::super::add_relative(&mut flotilla);
        super::super::add_relative(&mut linux);
        let charts = side_by_side(&flotilla, &linux, Mode::Wallclock);
        let names: Vec<&str> = charts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["urpc_rtt", "unmap"], "no boot plot: times of two boots do not compare");
        let rtt: Vec<&[(f64, f64)]> = charts[0].1.series.iter().map(|s| s.points.as_slice()).collect();
        assert_eq!(rtt, [&[(1.0, 2.0)], &[(1.0, 2.0)]], "both round trips are twice their same-core one");
        assert_eq!(charts[1].1.series[0].points, [(1.0, 1.0), (2.0, 2.5)]);
    }

    #[test]
    fn boots_of_different_sizes_are_told_apart() {
        let four = console(&[
            "bench: unmap cores=1 rounds=50 instructions=1 instructions_per_op=1.00",
            "bench: unmap cores=4 rounds=50 instructions=1 instructions_per_op=1.00",
        ]);
        let eight = console(&["bench: boot cores=8 instructions=1"]);
        assert_eq!(size_mismatch(&four, &four), None);
        assert!(size_mismatch(&four, &eight).unwrap().contains("from 4 cores next to Linux's from 8"));
        assert_eq!(size_mismatch(&four, &Console::default()), None, "nothing to compare");
    }

    #[test]
    fn the_boot_table_has_a_row_per_core_count_either_system_booted() {
        let flotilla = console(&[
            "bench: boot cores=4 first_program_instructions=120",
            "bench: boot cores=8 first_program_instructions=200",
        ]);
        let linux = console(&["bench: boot cores=4 instructions=900"]);
        let rows = boot_rows(&flotilla, &linux);
        assert_eq!(rows, [["4", "120", "900"], ["8", "200", ""]].map(|row| row.map(String::from)));
        assert!(boot_rows(&Console::default(), &Console::default()).is_empty());
    }
}
