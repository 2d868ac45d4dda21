//! System calls: the one trap into the kernel, and a safe wrapper for each call.
//!
//! Every system call has the same shape (see `abi::syscall`): the call number goes in `x8`,
//! up to eight arguments in `x0`–`x7`, then `svc #0`. When the kernel returns to the
//! instruction after the `svc`, `x0` holds the error code (0 for success) and `x1`–`x7` the
//! results. `syscall` is that convention written once, as the only `asm!` in this module;
//! the wrappers below only choose the number and arguments and decode `x0`.
//!
//! What the trap assumes of the kernel: it preserves every register it does not return
//! (`x9`–`x30`, `sp`, and the FP/SIMD registers), but may change `x8` and the condition
//! flags. It reads user memory only where a call says so (`PRINT` reads the text).
//!
//! On the host there is no kernel to trap into, so only the pure parts are compiled:
//! [`check`], which turns an error code into a `Result`, and [`print_pieces`], which
//! splits text into pieces `PRINT` accepts.

use abi::SysError;

#[cfg(target_os = "none")]
use abi::{syscall as call, CapAddr};

/// Traps into the kernel with system call `number` and arguments `args` (`x0`–`x7`), and
/// returns `x0`–`x7` as the kernel left them: the error code, then the results.
///
/// # Safety
///
/// The call must not break what the Rust code around it relies on: pointer arguments must
/// be valid for what the call does with them, and the call must not unmap, remap or change
/// the rights of memory this program is using (its code, stack, statics and anything
/// borrowed). The safe wrappers in this module each uphold this for their one call.
#[cfg(target_os = "none")]
pub unsafe fn syscall(number: u64, args: [u64; 8]) -> [u64; 8] {
    let [mut x0, mut x1, mut x2, mut x3, mut x4, mut x5, mut x6, mut x7] = args;
    // SAFETY: the caller upholds the call's own contract; the trap itself only exchanges
    // the registers named here (and the flags, which `asm!` assumes clobbered unless told
    // otherwise). `nostack`: the kernel runs on its own stack and never touches ours.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inout("x0") x0, inout("x1") x1, inout("x2") x2, inout("x3") x3,
            inout("x4") x4, inout("x5") x5, inout("x6") x6, inout("x7") x7,
            inout("x8") number => _,
            options(nostack),
        );
    }
    [x0, x1, x2, x3, x4, x5, x6, x7]
}

/// The outcome of a call whose error code (its `x0` on return) is `code`.
///
/// A code this library does not know means the kernel speaks a newer ABI than libos was
/// built for; it is reported as [`SysError::InvalidSyscall`], the error that says the
/// kernel did not accept the call as this program made it.
pub fn check(code: u64) -> Result<(), SysError> {
    match code {
        0 => Ok(()),
        code => Err(SysError::from_code(code).unwrap_or(SysError::InvalidSyscall)),
    }
}

/// Splits `text` into pieces of at most `abi::syscall::PRINT_MAX` bytes, each ending on a
/// character boundary, so that no multi-byte character is cut between two `PRINT` calls
/// (another program's output could land between them).
pub fn print_pieces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len().min(abi::syscall::PRINT_MAX as usize);
        // A UTF-8 character is at most four bytes, so this steps back at most three.
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// Does nothing in the kernel: the cheapest round trip, for measuring the trap itself.
#[cfg(target_os = "none")]
pub fn nop() {
    // SAFETY: NOP takes no arguments and changes nothing.
    unsafe { syscall(call::NOP, [0; 8]) };
}

/// Gives the rest of this time slice to the next runnable dispatcher on this core.
#[cfg(target_os = "none")]
pub fn yield_now() {
    // SAFETY: YIELD takes no arguments and touches no memory of ours.
    unsafe { syscall(call::YIELD, [0; 8]) };
}

/// Waits for something to happen: lets the next runnable dispatcher on this core run, or,
/// if there is none, sleeps until an interrupt (a notification from another core, the
/// timer tick). Not a system call but a `wfi`, which the CPU driver traps at EL0 and
/// handles so. (`wfe` would not do: an emulator may treat it as a plain hint that never
/// traps, and the caller would spin.)
#[cfg(target_os = "none")]
pub fn wait_for_interrupt() {
    // SAFETY: `wfi` at EL0 traps to the CPU driver; it touches no memory of ours. Not
    // `nomem`: what the caller checks next may have been changed by another core.
    unsafe { core::arch::asm!("wfi", options(nostack, preserves_flags)) };
}

/// Writes `text` to the console. Text longer than one `PRINT` takes is written in several
/// calls (see [`print_pieces`]); each call's text stays together on the console, but
/// another program's output may fall between two of them.
#[cfg(target_os = "none")]
pub fn print(text: &str) -> Result<(), SysError> {
    for piece in print_pieces(text) {
        let args = [piece.as_ptr() as u64, piece.len() as u64, 0, 0, 0, 0, 0, 0];
        // SAFETY: PRINT only reads `len` bytes at `ptr`, which `piece` borrows for the
        // whole call.
        let [code, ..] = unsafe { syscall(call::PRINT, args) };
        check(code)?;
    }
    Ok(())
}

/// Ends this program (its domain on this core) with `status`.
///
/// EXIT does not return. Should a kernel ever return from it anyway (a bug, or a
/// dispatcher that somehow cannot be torn down), asking again is the only sound thing to
/// do: there is no caller to give control back to.
#[cfg(target_os = "none")]
pub fn exit(status: u64) -> ! {
    loop {
        // SAFETY: EXIT reads no memory; nothing after it runs unless it fails to stop us.
        unsafe { syscall(call::EXIT, [status, 0, 0, 0, 0, 0, 0, 0]) };
    }
}

/// Invokes `method` (see `abi::method`) on the capability at `cap` with up to six
/// arguments; returns the seven result words (`x1`–`x7`) on success.
///
/// The kernel checks every invocation against the caller's capabilities, so nothing done
/// here can harm the kernel or another program. It can, however, change this program's own
/// address space: unmapping or restricting a frame that holds this program's code, stack
/// or data is the caller's mistake to avoid. The typed wrappers to come (paging, CSpace
/// management) are where such operations carry their own `unsafe` contracts.
#[cfg(target_os = "none")]
pub fn invoke(cap: CapAddr, method: u64, args: [u64; 6]) -> Result<[u64; 7], SysError> {
    let [a0, a1, a2, a3, a4, a5] = args;
    // SAFETY: the kernel validates the capability, method and arguments; what remains is
    // the address-space caveat above, which is this function's documented contract.
    let [code, results @ ..] =
        unsafe { syscall(call::INVOKE, [u64::from(cap.0), method, a0, a1, a2, a3, a4, a5]) };
    check(code).map(|()| results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::syscall::PRINT_MAX;

    #[test]
    fn zero_is_success_and_known_codes_are_their_errors() {
        assert_eq!(check(0), Ok(()));
        for error in SysError::ALL {
            assert_eq!(check(error.code()), Err(error));
        }
    }

    #[test]
    fn unknown_codes_are_reported_as_invalid_syscall() {
        assert_eq!(check(9999), Err(SysError::InvalidSyscall));
        assert_eq!(check(u64::MAX), Err(SysError::InvalidSyscall));
    }

    #[test]
    fn short_text_is_one_piece_and_empty_text_none() {
        assert_eq!(print_pieces("hello\n").collect::<Vec<_>>(), ["hello\n"]);
        assert_eq!(print_pieces("").count(), 0);
    }

    #[test]
    fn long_text_is_split_at_print_max() {
        let text = "x".repeat(PRINT_MAX as usize * 2 + 5);
        let lengths: Vec<usize> = print_pieces(&text).map(str::len).collect();
        assert_eq!(lengths, [PRINT_MAX as usize, PRINT_MAX as usize, 5]);
    }

    #[test]
    fn pieces_never_cut_a_character() {
        // "é" is two bytes: starting at an odd offset puts a character across the limit.
        let text = format!("a{}", "é".repeat(PRINT_MAX as usize));
        let pieces: Vec<&str> = print_pieces(&text).collect();
        assert!(pieces.iter().all(|p| p.len() <= PRINT_MAX as usize));
        assert_eq!(pieces[0].len(), PRINT_MAX as usize - 1);
        assert_eq!(pieces.concat(), text);
    }
}
