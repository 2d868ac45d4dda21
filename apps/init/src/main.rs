//! # init: the first program the boot core's monitor starts
//!
//! It starts the system's programs and reports how each ended: first `hello`, whose line
//! on the console shows user programs can start user programs, then the shell, on this
//! core, with most of init's RAM and the console's device and interrupt capabilities,
//! which the monitor handed to init for it. A shell that faults or is killed is started
//! again (a few times); one that exits (`exit` typed) ends init too.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
libos::entry!(main);

/// How often a shell that died is started again.
#[cfg(target_os = "none")]
const SHELL_RESTARTS: u32 = 3;

#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    libos::println!("init: starting");
    let status = match libos::spawn::spawn("hello", 0) {
        Ok(child) => {
            let ended = child.wait();
            libos::println!("init: hello ended: {ended:?}");
            let _ = child.reclaim();
            0
        }
        Err(e) => {
            libos::println!("init: cannot start hello: {e:?}");
            1
        }
    };
    for _ in 0..=SHELL_RESTARTS {
        match run_shell(arg) {
            Ok(libos::spawn::Exit::Exited(status)) => {
                libos::println!("init: shell exited with status {status}");
                break;
            }
            Ok(other) => libos::println!("init: shell ended: {other:?}; starting it again"),
            Err(e) => {
                libos::println!("init: cannot start the shell: {e}");
                break;
            }
        }
    }
    libos::println!("init: done");
    status
}

/// Starts the shell and waits for its end. It gets init's own argument without
/// `INIT_ARG`: the number of cores, and the options of `flotilla.init_arg=` above them
/// (`libos::bench::ShellStart`: one makes the shell report the boot to its first prompt).
#[cfg(target_os = "none")]
fn run_shell(arg: u64) -> Result<libos::spawn::Exit, libos::Error> {
    // Three quarters of what init has left, in whole MiB: the rest covers the shell's own
    // objects and image.
    let ram_bytes = (libos::ram::free_bytes() / 4 * 3) & !((1 << 20) - 1);
    let options = libos::spawn::SpawnOptions {
        arg: arg & !libos::monitor::INIT_ARG,
        ram_bytes,
        console: true,
        ..Default::default()
    };
    let shell = libos::spawn::spawn_with("shell", options)?;
    let ended = shell.wait();
    let _ = shell.reclaim();
    ended
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("init is a Flotilla user program: `cargo xtask run` builds it into the kernel image");
    std::process::ExitCode::from(2)
}
