//! The shell, used as a person would: typed into the serial console of a booted machine,
//! one command at a time, each answer checked. Every command is tried with good and bad
//! arguments, and the session ends with `poweroff`, which must end QEMU with status 0.

use flotilla_tests::{Board, Boot, Machine};

/// A session with the shell on a booted machine.
struct Session {
    boot: Boot,
}

impl Session {
    fn start(machine: Machine) -> Session {
        let boot = Boot::start_typing(&Machine { semihosting: true, ..machine });
        boot.wait_for("shell: ");
        Session { boot }
    }

    /// Types `line` and Enter; waits for the echoed command and then for a line containing
    /// each of `answers` after it. Returns the lines from the command's on.
    ///
    /// The echo ends a line; it usually follows the prompt, but a program on another core
    /// may have printed after the prompt first.
    fn ask(&mut self, line: &str, answers: &[&str]) -> Vec<String> {
        let from = self.boot.lines().len();
        self.boot.type_in(&format!("{line}\r"));
        self.boot.wait_for_line(from, line, |l| l.ends_with(line));
        for answer in answers {
            self.boot.wait_for_from(from, answer);
        }
        self.boot.lines().split_off(from)
    }

    /// [`Session::ask`] for a command whose whole answer is the one line `answer`.
    fn expect_line(&mut self, line: &str, answer: &str) {
        let lines = self.ask(line, &[answer]);
        assert!(lines.iter().any(|l| l == answer), "`{line}` answered {lines:?}, not `{answer}`");
    }
}

#[test]
fn every_shell_command_answers_and_bad_input_gets_one_clear_line() {
    let mut s = Session::start(Machine::new(Board::Virt));

    let help = s.ask("help", &["poweroff"]);
    for command in ["cores", "ps", "run PROGRAM", "span", "kill", "caps", "mem", "check", "bench", "echo"] {
        assert!(help.iter().any(|l| l.trim_start().starts_with(command)), "help lacks {command}: {help:?}");
    }
    s.expect_line("frobnicate", "frobnicate: unknown command (help lists them)");
    s.expect_line("help me", "help: takes no arguments");
    s.expect_line("echo one  two", "one two");

    let cores = s.ask("cores", &["core 3: mpidr 0x3, online, "]);
    assert!(cores
        .iter()
        .any(|l| l.starts_with("core 0: mpidr 0x0, online, ") && l.ends_with(" dispatchers")));

    // Programs on this core get their arguments, and the shell hears how they end.
    s.ask("run hello one two", &["hello from a user program (arg 0): one two", "hello exited with status 0"]);
    for core in 1..4 {
        s.ask(&format!("run hello on {core}"), &[&format!("hello from a user program (arg {core})")]);
    }
    s.expect_line(
        "run hello x on 2",
        "run: arguments reach programs on core 0 only; on core 2 a program gets its core number",
    );
    s.expect_line("run hello on 4", "run: no core 4 (cores are 0 to 3)");
    s.expect_line("run hello on two", "run: `two` is not a number");
    s.ask("run nosuch", &["run: no program `nosuch` (programs: monitor, init, hello,"]);
    s.expect_line("run", "run: which program? (run PROGRAM [ARGS] [on CORE])");

    // A program that faults dies alone; one that hangs is ended with Ctrl-C.
    s.ask("run trouble fault", &["trouble faulted: data abort at address 0x1000"]);
    s.ask("run trouble undef", &["trouble faulted: undefined instruction (pc "]);
    s.expect_line("run trouble exit 7", "trouble exited with status 7");
    let from = s.boot.lines().len();
    s.boot.type_in("run trouble\r");
    s.boot.wait_for_from(from, "flotilla> run trouble");
    s.boot.type_in("\x03");
    s.boot.wait_for_from(from, "trouble was killed");

    // A program on another core, listed and killed.
    let started = s.ask("run trouble on 2", &["trouble started on core 2 as domain "]);
    let domain = started.iter().find_map(|l| l.split("as domain ").nth(1)).expect("a domain id").to_string();
    let ps = s.ask("ps", &["trouble"]);
    assert!(
        ps.iter().any(|l| l.starts_with(&domain) && l.contains(" 2 ") && l.ends_with("trouble")),
        "{ps:?}"
    );
    assert!(ps.iter().any(|l| l.ends_with(" init")), "{ps:?}");
    s.expect_line(&format!("kill {domain}"), &format!("killed domain {domain}"));
    // Its monitor forgets it once the kernel's exit notice reaches it, a moment later.
    let gone = (0..50).any(|_| !s.ask("ps", &["init"]).iter().any(|l| l.ends_with("trouble")));
    assert!(gone, "killed, yet still listed");
    s.expect_line("kill 0x99", "kill: domain 0x99: the monitor refused: no such domain or entry");
    s.expect_line("kill 0x1", "kill: domain 0x1 is init, which holds this shell: it would end the shell too");
    s.expect_line("kill", "kill: which domain? (kill DOMAIN, as ps shows it)");
    s.expect_line("kill -3", "kill: `-3` is not a number");

    // The shell spans itself: workers on two more cores, shown by ps.
    s.ask(
        "span 1 3",
        &["span: worker on core 3 counted 17984 primes", "span: worker on core 1 counted 17984 primes"],
    );
    let ps = s.ask("ps", &["shell (this one)"]);
    assert!(ps.iter().any(|l| l.contains(" 0,1,3 ") && l.ends_with("shell (this one)")), "{ps:?}");
    s.expect_line("span stop", "span: workers told to stop");
    s.expect_line("span 7", "span: no core 7 (cores are 0 to 3)");

    let caps = s.ask("caps", &[" capabilities"]);
    assert!(caps.iter().any(|l| l.starts_with("0:1 ") && l.contains("Dispatcher")), "{caps:?}");
    assert!(caps.iter().any(|l| l.starts_with("0:11 ") && l.contains("Irq")), "the console's IRQ: {caps:?}");
    s.expect_line("caps all", "caps: takes no arguments");

    let mem = s.ask("mem", &["core 3: owns "]);
    assert!(mem.iter().any(|l| l.starts_with("core 0: owns ") && l.ends_with(" MiB free")), "{mem:?}");
    s.expect_line("check", "replicas agree on cores 0,1,2,3");

    s.ask("bench unmap cores 2", &["bench: unmap cores=2 rounds=50 ", "bench exited with status 0"]);
    s.ask("bench nosuch", &["bench: no benchmark `nosuch` (urpc, unmap"]);
    s.expect_line("bench urpc cores 9", "bench: cores 9: between 1 and 4");

    // Line editing: backspace, and Up for the last command.
    let from = s.boot.lines().len();
    s.boot.type_in("echo helo\x7f\x7flp\r");
    s.boot.wait_for_from(from, "flotilla> echo helo\u{8} \u{8}\u{8} \u{8}lp");
    s.boot.wait_for_from(from + 1, "help");
    let from = s.boot.lines().len();
    s.boot.type_in("\x1b[A\r");
    s.boot.wait_for_from(from, "flotilla> echo help");
    s.boot.wait_for_from(from + 1, "help");

    s.boot.type_in("poweroff\r");
    let status = s.boot.wait_exit();
    assert!(status.success(), "QEMU exited with {status:?}\n{}", s.boot.lines().join("\n"));
}

#[test]
fn raspi4b_shell_reads_its_pl011_by_interrupt_too() {
    let mut s = Session::start(Machine::new(Board::Rpi4));
    s.ask("run hello on a pi", &["hello from a user program (arg 0): on a pi", "hello exited with status 0"]);
    s.ask("cores", &["core 3: mpidr 0x3, online, "]);
    s.boot.type_in("poweroff\r");
    let status = s.boot.wait_exit();
    assert!(status.success(), "QEMU exited with {status:?}\n{}", s.boot.lines().join("\n"));
}
