//! # trouble: a program that misbehaves on request
//!
//! What a shell user needs to see that a misbehaving program dies alone, and that `kill`
//! works. Its first argument (`libos::args`) says what to do:
//!
//! | argument | what it does |
//! |---|---|
//! | `fault` | reads an address nothing is mapped at: a data abort |
//! | `undef` | executes an undefined instruction |
//! | `exit N` | exits with status `N` |
//! | none | waits (asleep, in `wfi`) until someone kills it |
//!
//! Started on another core (`run trouble on 2`), where no arguments reach a program, it
//! waits to be killed.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
libos::entry!(main);

/// An address below every program's image, never mapped (`libos/user.ld` starts at 4 MiB).
#[cfg(target_os = "none")]
const UNMAPPED: u64 = 0x1000;

#[cfg(target_os = "none")]
fn main(_arg: u64) -> u64 {
    let mut args = libos::args::args();
    match (args.next(), args.next()) {
        (Some("fault"), _) => {
            // SAFETY: none: this read is meant to fault, and the kernel stops the program.
            let value = unsafe { core::ptr::read_volatile(UNMAPPED as *const u64) };
            libos::println!("trouble: read {value:#x} at {UNMAPPED:#x}, which should have faulted");
            1
        }
        (Some("undef"), _) => {
            // SAFETY: none: `udf` is meant to trap, and the kernel stops the program.
            unsafe { core::arch::asm!("udf #0") };
            1
        }
        (Some("exit"), Some(status)) => status.parse().unwrap_or_else(|_| {
            libos::println!("trouble: `{status}` is not a status");
            2
        }),
        (None, _) => loop {
            libos::syscall::wait_for_interrupt();
        },
        (Some(other), _) => {
            libos::println!("trouble: unknown request `{other}` (fault, undef, exit N)");
            2
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("trouble is a Flotilla user program: start it from the shell (`run trouble fault`)");
    std::process::ExitCode::from(2)
}
