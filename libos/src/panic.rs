//! What a panic does in a Flotilla program: report it on the console and exit.
//!
//! There is no unwinding (the target aborts on panic), no backtrace yet, and no parent to
//! catch anything, so the handler prints one line, `panic: <message> at <file>:<line>`, and
//! exits with [`PANIC_STATUS`], the status a panicking Rust program has on other systems
//! too, so whoever waits for the program can tell a panic from a chosen exit status.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// The exit status of a program that panicked.
const PANIC_STATUS: u64 = 101;

/// Set by the first panic. Formatting the message runs the program's own `Display` code,
/// which may panic again; the second panic then exits at once instead of recursing until
/// the stack (which has no guard page) runs over the program's statics.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    if !PANICKING.swap(true, Ordering::Relaxed) {
        match info.location() {
            Some(at) => crate::println!("panic: {} at {}:{}", info.message(), at.file(), at.line()),
            None => crate::println!("panic: {}", info.message()),
        }
    }
    crate::syscall::exit(PANIC_STATUS)
}
