//! Threads without a C library: `clone` onto a stack of our own, and joining through the
//! word Linux clears when a thread ends (`CLONE_CHILD_CLEARTID`).
//!
//! A thread runs a closure that is moved onto the bottom of its own stack mapping, so no
//! heap is needed. The first word of the mapping is the thread's "still running" word,
//! which the kernel sets to 0 and wakes (a shared futex wake) when the thread exits; the
//! second says whether it pinned itself to its core, which [`spawn_on`] waits for, so the
//! closure runs on its core from its first instruction.

use crate::sys::{self, Errno};
use core::sync::atomic::{AtomicU32, Ordering};

/// Each thread's stack, closure and "running" word; the benchmarks need little.
const STACK_BYTES: usize = 64 * 1024;

/// clone(2) flags (`include/uapi/linux/sched.h`): a thread of this process, sharing its
/// memory, files and signal handlers, whose exit clears the word at `child_tid`.
const CLONE_VM: usize = 0x100;
const CLONE_FS: usize = 0x200;
const CLONE_FILES: usize = 0x400;
const CLONE_SIGHAND: usize = 0x800;
const CLONE_THREAD: usize = 0x1_0000;
const CLONE_SYSVSEM: usize = 0x4_0000;
const CLONE_CHILD_CLEARTID: usize = 0x20_0000;
const THREAD_FLAGS: usize =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;

// `spawn_raw(flags, stack_top, entry, argument, child_tid) -> tid or -errno`: stores entry
// and argument at the top of the new stack, clones, and in the child calls
// `entry(argument)` and then `exit(0)`. The child starts on the new stack with nothing of
// the parent's frame, so this is all in assembly until the call.
core::arch::global_asm!(
    ".global linux_bench_spawn_raw",
    "linux_bench_spawn_raw:",
    "stp x2, x3, [x1, #-16]!",
    "mov x2, xzr",
    "mov x3, xzr",
    "mov x8, #{clone}",
    "svc #0",
    "cbz x0, 1f",
    "ret",
    "1:",
    "mov x29, xzr",
    "ldp x1, x0, [sp], #16",
    "blr x1",
    "mov x0, xzr",
    "mov x8, #{exit}",
    "svc #0",
    clone = const sys::CLONE,
    exit = const sys::EXIT,
);

extern "C" {
    fn linux_bench_spawn_raw(
        flags: usize,
        stack_top: usize,
        entry: extern "C" fn(usize),
        argument: usize,
        child_tid: *const AtomicU32,
    ) -> isize;
}

/// A running thread; [`Thread::join`] waits for it and frees its stack.
#[must_use = "a thread must be joined, or its stack is never freed"]
pub struct Thread {
    stack: *mut u8,
}

/// The closure's place in the stack mapping: after the two words, 16-byte aligned.
const CLOSURE_OFFSET: usize = 16;
/// The pinned word's place, and its values: not yet, done, or `FAILED + errno`.
const PINNED_OFFSET: usize = 4;
const PIN_PENDING: u32 = 0;
const PINNED: u32 = 1;
const PIN_FAILED: u32 = 2;

/// Starts a thread that pins itself to `core` and then runs `f`; returns once it is on
/// `core`, or fails (having joined it) if it could not get there.
pub fn spawn_on<F: FnOnce() + Send + 'static>(core: usize, f: F) -> Result<Thread, Errno> {
    let thread = spawn(move |pinned: &AtomicU32| {
        let outcome = sys::pin_to(core);
        let state = outcome.map_or_else(|e| PIN_FAILED + e.errno as u32, |()| PINNED);
        pinned.store(state, Ordering::Release);
        sys::futex_wake(pinned, 1);
        if outcome.is_ok() {
            f();
        }
    })?;
    let pinned = thread.pinned();
    let state = loop {
        match pinned.load(Ordering::Acquire) {
            PIN_PENDING => sys::futex_wait(pinned, PIN_PENDING, true),
            state => break state,
        }
    };
    if state == PINNED {
        return Ok(thread);
    }
    thread.join()?;
    Err(Errno { call: "sched_setaffinity (in a new thread)", errno: (state - PIN_FAILED) as isize })
}

/// Starts a thread running `f`, which is handed the thread's pinned word.
fn spawn<F: FnOnce(&AtomicU32) + Send + 'static>(f: F) -> Result<Thread, Errno> {
    assert!(
        size_of::<F>() <= 1024 && align_of::<F>() <= CLOSURE_OFFSET,
        "closures passed to spawn stay small"
    );
    let stack = sys::map_anonymous(STACK_BYTES)?;
    let running = stack.cast::<AtomicU32>();
    // SAFETY: the mapping is fresh, writable, page-aligned and larger than the word and
    // the closure written into it; the closure is read back exactly once, by `run::<F>`.
    unsafe {
        (*running).store(1, Ordering::Relaxed);
        stack.add(CLOSURE_OFFSET).cast::<F>().write(f);
    }
    extern "C" fn run<F: FnOnce(&AtomicU32)>(closure: usize) {
        // SAFETY: `spawn` wrote an `F` here and nobody else reads it; the pinned word lies
        // in the same mapping, which outlives the thread.
        let (f, pinned) = unsafe {
            let base = closure - CLOSURE_OFFSET;
            ((closure as *const F).read(), &*((base + PINNED_OFFSET) as *const AtomicU32))
        };
        f(pinned);
    }
    let top = stack as usize + STACK_BYTES;
    let closure = stack as usize + CLOSURE_OFFSET;
    // SAFETY: the new thread runs on its own stack (the top of the mapping; the closure sits
    // at the bottom, well below anything it pushes) and only calls `run::<F>`.
    let tid = unsafe { linux_bench_spawn_raw(THREAD_FLAGS, top, run::<F>, closure, running) };
    if tid < 0 {
        // SAFETY: no thread was made, so nothing uses the mapping (the closure leaks).
        let _ = unsafe { sys::unmap(stack, STACK_BYTES) };
        return Err(Errno { call: "clone", errno: -tid });
    }
    Ok(Thread { stack })
}

impl Thread {
    fn pinned(&self) -> &AtomicU32 {
        // SAFETY: the mapping lives as long as `self`; the word is zeroed by mmap.
        unsafe { &*self.stack.add(PINNED_OFFSET).cast::<AtomicU32>() }
    }

    /// Waits until the thread has exited, then frees its stack.
    pub fn join(self) -> Result<(), Errno> {
        // SAFETY: the mapping lives until the unmap below, and its first word is this
        // thread's running word.
        let running = unsafe { &*self.stack.cast::<AtomicU32>() };
        while running.load(Ordering::Acquire) != 0 {
            // The kernel's wake on thread exit is a shared one, so the wait must be too.
            sys::futex_wait(running, 1, false);
        }
        // SAFETY: the thread has exited; nothing else uses its stack.
        unsafe { sys::unmap(self.stack, STACK_BYTES) }
    }
}
