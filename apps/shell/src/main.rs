//! # shell: Flotilla's command line
//!
//! init starts the shell on the boot core (core 0) once the system is up. It prints the
//! prompt `flotilla> `, reads a line from the serial console, and runs the command: each
//! one a window onto the whole machine, which in a multikernel means a question to the
//! monitors (`libos::monitor`), who ask each other. `help` lists the commands; what each
//! shows and how is in [`commands`].
//!
//! ## Input by interrupt
//!
//! The monitor hands the console UART's registers and interrupt to init, and init to the
//! shell ([`uart`]). The interrupt arrives at the shell's endpoint as a message; the shell
//! takes the characters waiting in the UART and acknowledges it. The same endpoint hears
//! when a program the shell started ends, so while such a program runs the shell still
//! reads the keyboard (Ctrl-C kills the program; anything else is kept for the next
//! prompt). With nothing typed and nothing running, the shell waits in `receive`, is not
//! scheduled, and its core sleeps.
//!
//! ## Mistakes
//!
//! Every command's arguments are checked before it runs ([`parse`]), and every failure,
//! whether a typo, a core that does not exist or a program that faults, is one line;
//! the shell goes on. A program that faults dies alone: the shell hears of it as an exit
//! notice and says how it ended.
//!
//! ## Not done here
//!
//! No pipes, redirection, quoting or job control: a program on this core runs in the
//! foreground, and one on another core (`run ... on CORE`) in the background, watched by
//! that core's monitor. Arguments (strings) reach programs on this core only: a start on
//! another core is a message between monitors, which carries one word.
//!
//! On the host this file is an ordinary program that says where the shell runs; the line
//! editor and the command parser are host-tested.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(any(test, target_os = "none"))]
extern crate alloc;

#[cfg(target_os = "none")]
mod commands;
#[cfg(any(test, target_os = "none"))]
mod editor;
#[cfg(any(test, target_os = "none"))]
mod parse;
#[cfg(target_os = "none")]
mod uart;

#[cfg(target_os = "none")]
libos::entry!(main);

/// The prompt (`docs/DESIGN.md` §8: it begins with `flotilla> `).
#[cfg(target_os = "none")]
const PROMPT: &str = "flotilla> ";

/// `arg`: the number of cores (init passes it on from its own argument).
#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    let mut shell = match commands::Shell::new(arg) {
        Ok(shell) => shell,
        Err(e) => {
            libos::println!("shell: cannot start: {e}");
            return 2;
        }
    };
    libos::println!("shell: {} cores; `help` lists the commands", shell.cores);
    loop {
        libos::print!("{PROMPT}");
        let line = shell.read_line();
        match parse::parse(&line, shell.cores) {
            Ok(Some(command)) => shell.execute(command),
            Ok(None) => {}
            Err(mistake) => libos::println!("{mistake}"),
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("shell is a Flotilla user program: `cargo xtask run` boots it (init starts it on core 0)");
    std::process::ExitCode::from(2)
}
