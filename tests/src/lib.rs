//! Boots Flotilla under QEMU and checks what it prints.
//!
//! A [`Boot`] starts QEMU on a [`Machine`] with the image `cargo xtask build` would produce
//! (built once per board per test run), collects the serial console line by line on a
//! thread, and lets a test wait for lines and then assert on all of them. QEMU is killed
//! when the `Boot` is dropped. Waits have generous limits: they only stop a hung boot from
//! hanging the test run, and measure nothing.
//!
//! [`console`] holds the checks of the console contract (docs/DESIGN.md §8) that every boot test
//! shares.

pub mod console;
pub mod dtb;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
pub use xtask::qemu::Machine;
pub use xtask::Board;

/// How long a test waits for an expected line before it gives up on the boot.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// The image for `board`, built on first use.
pub fn image(board: Board) -> std::path::PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<Board, std::path::PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(board)
        .or_insert_with(|| match xtask::image::build(board) {
            Ok(image) => image.image,
            Err(e) => panic!("building the {} image failed: {e:#}", board.name()),
        })
        .clone()
}

/// QEMU, installed if missing.
pub fn qemu() -> std::path::PathBuf {
    static QEMU: OnceLock<std::path::PathBuf> = OnceLock::new();
    QEMU.get_or_init(|| {
        xtask::setup::qemu_binary().unwrap_or_else(|e| panic!("QEMU is not available: {e:#}"))
    })
    .clone()
}

/// The Raspberry Pi 4 device tree, fetched from Debian's arm64 kernel package on first use.
pub fn rpi4_dtb() -> std::path::PathBuf {
    let cache = xtask::setup::workspace_root().join("target").join("firmware");
    xtask::setup::rpi4_dtb(&cache)
        .unwrap_or_else(|e| panic!("fetching the Raspberry Pi 4 device tree: {e:#}"))
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    closed: bool,
}

/// A running QEMU and everything its console printed so far.
pub struct Boot {
    child: Child,
    /// The serial console's input, for [`Boot::type_in`] (booted with [`Boot::start_typing`]).
    input: Option<std::process::ChildStdin>,
    output: Arc<(Mutex<Output>, Condvar)>,
    description: String,
}

impl Boot {
    /// Builds the board's image and boots it on `machine`.
    pub fn start(machine: &Machine) -> Boot {
        Boot::launch(machine, Stdio::null())
    }

    /// As [`Boot::start`], with the serial console's input open for [`Boot::type_in`].
    pub fn start_typing(machine: &Machine) -> Boot {
        Boot::launch(machine, Stdio::piped())
    }

    fn launch(machine: &Machine, input: Stdio) -> Boot {
        let image = image(machine.board);
        let mut command = machine.command(&qemu(), &image, false);
        let description = format!("{command:?}");
        command.stdin(input).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("starting {description}: {e}"));
        let input = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                let (lock, ready) = &*sink;
                lock.lock().unwrap_or_else(|e| e.into_inner()).lines.push(text);
                ready.notify_all();
            }
            let (lock, ready) = &*sink;
            lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
            ready.notify_all();
        });
        Boot { child, input, output, description }
    }

    /// Types `text` on the serial console (QEMU passes it to the UART as it takes it).
    pub fn type_in(&mut self, text: &str) {
        use std::io::Write;
        let input = self.input.as_mut().expect("booted with Boot::start_typing");
        input
            .write_all(text.as_bytes())
            .and_then(|()| input.flush())
            .expect("writing to QEMU's serial input");
    }

    /// Waits until a line from number `from` on (0-based) contains `needle`; returns it.
    pub fn wait_for_from(&self, from: usize, needle: &str) -> String {
        self.wait_for_line(from, needle, |l| l.contains(needle))
    }

    /// Waits until a line from number `from` on is one `wanted` accepts; returns it.
    /// `what` describes it for the failure message.
    pub fn wait_for_line(&self, from: usize, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_until(what, |lines| lines.iter().skip(from).find(|l| wanted(l)).cloned())
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.0.lock().unwrap_or_else(|e| e.into_inner()).lines.clone()
    }

    /// Waits until a line contains `needle`; returns it. Panics with the whole console if
    /// it never comes (or QEMU exits first).
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |lines| lines.iter().find(|l| l.contains(needle)).cloned())
    }

    /// Waits until `count` lines contain `needle`.
    pub fn wait_for_count(&self, needle: &str, count: usize) {
        self.wait_until(needle, |lines| {
            (lines.iter().filter(|l| l.contains(needle)).count() >= count).then_some(())
        })
    }

    fn wait_until<T>(&self, what: &str, mut found: impl FnMut(&[String]) -> Option<T>) -> T {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        let (lock, ready) = &*self.output;
        let mut output = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(value) = found(&output.lines) {
                return value;
            }
            let now = Instant::now();
            if output.closed || now >= deadline {
                let why = if output.closed { "QEMU exited" } else { "timed out" };
                panic!(
                    "{why} waiting for `{what}`\ncommand: {}\nconsole:\n{}",
                    self.description,
                    output.lines.join("\n")
                );
            }
            output = ready.wait_timeout(output, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Lets the guest run for `duration` (to see that nothing more, or something more, is
    /// printed) and returns the console.
    pub fn settle(&self, duration: Duration) -> Vec<String> {
        std::thread::sleep(duration);
        self.lines()
    }

    /// Waits for QEMU to exit by itself (the guest powered off) and returns its status.
    /// Panics with the whole console if it is still running after [`BOOT_TIMEOUT`].
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.wait_for_end_of_output();
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "QEMU did not exit\ncommand: {}\nconsole:\n{}",
                    self.description,
                    self.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the reader thread has seen the end of QEMU's output.
    fn wait_for_end_of_output(&self) {
        let (lock, ready) = &*self.output;
        let mut output = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !output.closed {
            output = ready.wait_timeout(output, Duration::from_secs(1)).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// CPU time (user + system) the QEMU process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // After the command name (in parentheses) come fields 3, 4, ... of proc(5): utime
        // is field 14 and stime field 15, both in clock ticks.
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        let ticks = field(14) + field(15);
        Duration::from_millis(ticks * 1000 / clock_ticks_per_second())
    }

    /// The command line QEMU was started with, for failure messages.
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// `getconf CLK_TCK`, which is 100 on every Linux this runs on.
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

impl Drop for Boot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
