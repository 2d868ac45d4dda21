//! The program's first instructions: `_start`, and the [`entry!`] macro that names the
//! program's main function.
//!
//! Whoever starts a program (the CPU driver for a monitor, a monitor or init for anything
//! else) loads its segments, points the dispatcher at the ELF entry `_start` with the
//! program's argument in `x0`, and promises nothing more: no stack, no registers. So
//! `_start` is a few instructions of assembly that make the machine fit for Rust code:
//!
//! 1. point `sp` at the top of this program's stack (below);
//! 2. clear the frame pointer `x29` and link register `x30`, so a backtrace that walks the
//!    frame records ends here instead of wandering into whatever the registers held;
//! 3. call `start_main` with `x0` untouched, which calls the program's main function and
//!    passes what it returns to `EXIT`.
//!
//! It zeroes nothing: the loader fills every segment's memory beyond its file contents
//! (all of `.bss`) with zeros, as ELF requires.
//!
//! The stack is [`STACK_BYTES`] of `.bss`, page-aligned. Being part of `.bss` it is mapped
//! like any other data, so it has no guard page below it: a program that overflows its
//! stack writes over its own statics rather than faulting. A guarded stack needs a page
//! deliberately left unmapped, which is the job of the loader once programs start each
//! other with stacks of their own.
//!
//! The program names its main function with [`entry!`], which defines the symbol
//! `__libos_main` that `start_main` calls; a program that forgets it fails to link with an
//! undefined `__libos_main`.

use core::arch::global_asm;

/// Bytes of the program's stack (a multiple of the page size).
const STACK_BYTES: usize = 64 * 1024;

global_asm!(
    // The linker script places `.text.start` first in the text segment.
    ".pushsection .text.start, \"ax\", %progbits",
    ".global _start",
    ".type _start, %function",
    "_start:",
    "    adrp x9, __libos_stack_top",
    "    add  sp, x9, :lo12:__libos_stack_top",
    "    mov  x29, xzr",
    "    mov  x30, xzr",
    "    bl   {start_main}",
    // `start_main` never returns; should it, fault here rather than run off the end.
    "    udf  #0",
    ".size _start, . - _start",
    ".popsection",
    // `%nobits`: the stack takes no room in the file, only in memory.
    ".pushsection .bss.libos_stack, \"aw\", %nobits",
    ".balign 4096",
    "__libos_stack_bottom:",
    "    .space {stack_bytes}",
    // A page-aligned top also keeps `sp` 16-byte aligned, as AAPCS64 requires.
    "__libos_stack_top:",
    ".popsection",
    stack_bytes = const STACK_BYTES,
    start_main = sym start_main,
);

/// Calls the program's main function with the argument it was started with and exits
/// with the status main returns.
extern "C" fn start_main(arg: u64) -> ! {
    extern "Rust" {
        /// Defined by the program through [`entry!`].
        fn __libos_main(arg: u64) -> u64;
    }
    // SAFETY: `entry!` defines `__libos_main` with exactly this signature, and it is an
    // ordinary safe Rust function.
    let status = unsafe { __libos_main(arg) };
    crate::syscall::exit(status)
}

/// Declares the program's main function: `fn(arg: u64) -> u64`, called with the argument
/// the program was started with; its return value is the program's exit status.
///
/// ```ignore
/// libos::entry!(main);
///
/// fn main(arg: u64) -> u64 {
///     libos::println!("started with {arg}");
///     0
/// }
/// ```
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        fn __libos_main(arg: u64) -> u64 {
            // Checks `$main`'s signature here, with an error that names the program's code.
            let main: fn(u64) -> u64 = $main;
            main(arg)
        }
    };
}
