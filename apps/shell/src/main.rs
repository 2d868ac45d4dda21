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
//! ## Measuring the boot
//!
//! Booted with `flotilla.init_arg=1` (`libos::bench::BOOT_PROMPT_OPTION`, which init
//! passes on), the shell prints its first prompt, then one line
//! `bench: boot_prompt cores=N online_instructions=X prompt_instructions=Y` (the counter
//! when every core came online, and after the prompt), and powers the machine off:
//! `cargo xtask bench boot` reads the instructions from reset to the first prompt so.
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

/// `arg`: the number of cores and the options of `flotilla.init_arg=` (init passes on its
/// own argument; `libos::bench::ShellStart`).
#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    let start = libos::bench::ShellStart::decode(arg);
    if start.unknown_options != 0 {
        libos::println!("shell: ignoring unknown start options {:#x}", start.unknown_options);
    }
    let mut shell = match commands::Shell::new(start.cores) {
        Ok(shell) => shell,
        Err(e) => {
            libos::println!("shell: cannot start: {e}");
            return 2;
        }
    };
    libos::println!("shell: {} cores; `help` lists the commands", shell.cores);
    let mut first = true;
    loop {
        libos::print!("{PROMPT}");
        if core::mem::take(&mut first) && start.boot_prompt {
            return report_boot_prompt(shell.cores);
        }
        let line = shell.read_line();
        match parse::parse(&line, shell.cores) {
            Ok(Some(command)) => shell.execute(command),
            Ok(None) => {}
            Err(mistake) => libos::println!("{mistake}"),
        }
    }
}

/// The boot to the first prompt (`libos::bench::BOOT_PROMPT_OPTION`): the counter now, with
/// the prompt just printed, and when every core came online, as a `bench:` line; then the
/// machine powers off (status 0 if the line could be made, 1 otherwise).
#[cfg(target_os = "none")]
fn report_boot_prompt(cores: u64) -> u64 {
    let prompt = libos::clock::now();
    let status = match libos::monitor::online_at() {
        Ok(online) if online > 0 && online <= prompt => {
            libos::println!(
                "\nbench: boot_prompt cores={cores} online_instructions={online} prompt_instructions={prompt}"
            );
            0
        }
        Ok(online) => {
            libos::println!("\nbench: error boot_prompt: online at {online}, the prompt at {prompt}");
            1
        }
        Err(e) => {
            libos::println!("\nbench: error boot_prompt: asking the monitor when it came online: {e}");
            1
        }
    };
    if let Err(e) = libos::monitor::power_off(status) {
        libos::println!("shell: power_off: {e}");
    }
    status
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("shell is a Flotilla user program: `cargo xtask run` boots it (init starts it on core 0)");
    std::process::ExitCode::from(2)
}
