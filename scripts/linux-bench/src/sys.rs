//! The Linux system calls this program makes, by number, with no C library between.
//!
//! arm64 Linux takes the call number in `x8` and up to six arguments in `x0`..`x5`,
//! traps with `svc #0`, and returns in `x0`: a value, or `-errno` (Linux
//! `Documentation/arch/arm64`, syscall(2) "Architecture calling conventions"). The numbers
//! are the generic table's (`include/uapi/asm-generic/unistd.h`), which arm64 uses.

use core::sync::atomic::AtomicU32;

const READ: usize = 63;
const WRITE: usize = 64;
const CLOSE: usize = 57;
const PIPE2: usize = 59;
const EXIT_GROUP: usize = 94;
const FUTEX: usize = 98;
const SCHED_SETAFFINITY: usize = 122;
const SCHED_GETAFFINITY: usize = 123;
const REBOOT: usize = 142;
const MUNMAP: usize = 215;
/// `clone`, made by `spawn_raw` in [`crate::thread`].
pub const CLONE: usize = 220;
const MMAP: usize = 222;
/// `exit`: ends the calling thread only.
pub const EXIT: usize = 93;

/// futex(2) operations (`include/uapi/linux/futex.h`).
const FUTEX_WAIT: usize = 0;
const FUTEX_WAKE: usize = 1;
/// The futex word is not shared with another process: the kernel may skip the page lookup.
const FUTEX_PRIVATE_FLAG: usize = 128;

/// mmap(2) (`include/uapi/asm-generic/mman-common.h`, `mman.h`).
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;

/// reboot(2) (`include/uapi/linux/reboot.h`).
const LINUX_REBOOT_MAGIC1: usize = 0xfee1_dead;
const LINUX_REBOOT_MAGIC2: usize = 672_274_793;
const LINUX_REBOOT_CMD_POWER_OFF: usize = 0x4321_fedc;

/// The largest CPU mask passed to the affinity calls: 512 cores, QEMU virt's limit.
const MASK_WORDS: usize = 8;

/// A failed call: its name and the `errno` Linux gave.
#[derive(Clone, Copy, Debug)]
pub struct Errno {
    pub call: &'static str,
    pub errno: isize,
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} failed with errno {}", self.call, self.errno)
    }
}

/// Makes system call `number`.
///
/// # Safety
///
/// The arguments must be what that call expects: pointers to memory it may read or write.
unsafe fn syscall(number: usize, args: [usize; 6]) -> isize {
    let result: isize;
    // SAFETY: the caller vouches for the arguments; `svc` clobbers only x0 here.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inlateout("x0") args[0] => result,
            in("x1") args[1], in("x2") args[2], in("x3") args[3], in("x4") args[4], in("x5") args[5],
            in("x8") number,
            options(nostack),
        );
    }
    result
}

fn check(call: &'static str, result: isize) -> Result<usize, Errno> {
    if result < 0 {
        Err(Errno { call, errno: -result })
    } else {
        Ok(result as usize)
    }
}

/// Writes all of `bytes` to file descriptor `fd`.
pub fn write(fd: usize, bytes: &[u8]) -> Result<(), Errno> {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: `rest` is readable for its length.
        let n = unsafe { syscall(WRITE, [fd, rest.as_ptr() as usize, rest.len(), 0, 0, 0]) };
        rest = &rest[check("write", n)?..];
    }
    Ok(())
}

/// Reads exactly `buffer.len()` bytes from `fd`.
pub fn read_exact(fd: usize, buffer: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buffer.len() {
        let rest = &mut buffer[done..];
        // SAFETY: `rest` is writable for its length.
        let n = unsafe { syscall(READ, [fd, rest.as_mut_ptr() as usize, rest.len(), 0, 0, 0]) };
        match check("read", n)? {
            0 => return Err(Errno { call: "read (end of pipe)", errno: 0 }),
            n => done += n,
        }
    }
    Ok(())
}

/// A pipe: `[read end, write end]`.
pub fn pipe() -> Result<[usize; 2], Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two ints to `fds`.
    check("pipe2", unsafe { syscall(PIPE2, [fds.as_mut_ptr() as usize, 0, 0, 0, 0, 0]) })?;
    Ok(fds.map(|fd| fd as usize))
}

/// Closes file descriptor `fd`.
pub fn close(fd: usize) -> Result<(), Errno> {
    // SAFETY: no pointers.
    check("close", unsafe { syscall(CLOSE, [fd, 0, 0, 0, 0, 0]) }).map(drop)
}

/// Sleeps while `word` holds `expected` (or returns at once if it does not), until a
/// [`futex_wake`] on it. `private`: the word is this process's alone.
pub fn futex_wait(word: &AtomicU32, expected: u32, private: bool) {
    let op = if private { FUTEX_WAIT | FUTEX_PRIVATE_FLAG } else { FUTEX_WAIT };
    // SAFETY: the kernel reads the word; no timeout. EAGAIN (the word changed) and EINTR
    // both mean "look again", which every caller does in a loop.
    unsafe { syscall(FUTEX, [word.as_ptr() as usize, op, expected as usize, 0, 0, 0]) };
}

/// Wakes up to `count` threads sleeping on `word` (a private futex); [`WAKE_ALL`] wakes
/// every one.
pub fn futex_wake(word: &AtomicU32, count: i32) {
    // SAFETY: the kernel only uses the address as a key.
    unsafe {
        syscall(FUTEX, [word.as_ptr() as usize, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count as usize, 0, 0, 0])
    };
}

/// A [`futex_wake`] count for all sleepers. The kernel takes the count as a C `int` and
/// stops after the first wake once it has reached it, so `-1` (`u32::MAX`) wakes only one.
pub const WAKE_ALL: i32 = i32::MAX;

/// Pins the calling thread to `core`; Linux moves it there before returning.
pub fn pin_to(core: usize) -> Result<(), Errno> {
    let mut mask = [0u64; MASK_WORDS];
    *mask.get_mut(core / 64).ok_or(Errno { call: "sched_setaffinity (core out of range)", errno: 22 })? =
        1 << (core % 64);
    // SAFETY: the kernel reads `size_of_val(&mask)` bytes of the mask. Thread 0 is the caller.
    let result =
        unsafe { syscall(SCHED_SETAFFINITY, [0, size_of_val(&mask), mask.as_ptr() as usize, 0, 0, 0]) };
    check("sched_setaffinity", result).map(drop)
}

/// The number of cores this thread may run on: at boot, every core online.
pub fn cores_online() -> Result<usize, Errno> {
    let mut mask = [0u64; MASK_WORDS];
    // SAFETY: the kernel writes at most `size_of_val(&mask)` bytes of the mask.
    let result =
        unsafe { syscall(SCHED_GETAFFINITY, [0, size_of_val(&mask), mask.as_mut_ptr() as usize, 0, 0, 0]) };
    check("sched_getaffinity", result)?;
    Ok(mask.iter().map(|word| word.count_ones() as usize).sum())
}

/// Maps `bytes` of fresh, zeroed, private memory, readable and writable.
pub fn map_anonymous(bytes: usize) -> Result<*mut u8, Errno> {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS;
    // SAFETY: a new mapping at an address the kernel picks; nothing existing is touched.
    let result = unsafe { syscall(MMAP, [0, bytes, PROT_READ | PROT_WRITE, flags, usize::MAX, 0]) };
    check("mmap", result).map(|address| address as *mut u8)
}

/// Unmaps `bytes` at `address`.
///
/// # Safety
///
/// Nothing may use the memory afterwards.
pub unsafe fn unmap(address: *mut u8, bytes: usize) -> Result<(), Errno> {
    // SAFETY: the caller gives up the memory.
    check("munmap", unsafe { syscall(MUNMAP, [address as usize, bytes, 0, 0, 0, 0]) }).map(drop)
}

/// Powers the machine off (QEMU exits); ends the whole program if that is refused.
pub fn power_off() -> ! {
    let args = [LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0];
    // SAFETY: no pointers; as init, this program may power off.
    unsafe { syscall(REBOOT, args) };
    // Only reached if the kernel refused; init exiting makes the kernel panic, which at
    // least ends the boot rather than leaving it hanging.
    loop {
        // SAFETY: no pointers.
        unsafe { syscall(EXIT_GROUP, [1, 0, 0, 0, 0, 0]) };
    }
}
