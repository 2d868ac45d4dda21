//! How a member passes the time while it waits for another: never a plain spin.
//!
//! Under QEMU's single-threaded round-robin emulation (`-icount`), a core that spins
//! keeps every other core from running until its time slice ends, so the member it waits
//! for makes no progress. A waiting member therefore executes `yield`, a hint that never
//! traps on hardware and that QEMU takes as "run another emulated core now". Every
//! [`LONGER_EVERY`] looks it also gives its core to the next dispatcher there (a system
//! call), so that the core's monitor, woken by a message, is not kept waiting for a timer
//! tick. A member idle for long, between jobs, sleeps until an interrupt (`wfi`, trapped
//! by the CPU driver): on an idle emulated core that stops its instructions altogether,
//! and it wakes at the next timer tick at the latest to look again.
//!
//! On the host (unit tests with threads) the same calls yield the thread.

/// Looks between two yields of the core to the next dispatcher.
pub const LONGER_EVERY: u32 = 64;
/// Looks without finding work before an idle member sleeps between looks.
pub const IDLE_LOOKS: u32 = 20_000;

/// A member's waiting, one look at a time.
#[derive(Clone, Debug, Default)]
pub struct Waiter {
    looks: u32,
}

impl Waiter {
    /// Called when a look found nothing to do.
    pub fn wait(&mut self) {
        self.looks = self.looks.wrapping_add(1);
        if self.looks.is_multiple_of(LONGER_EVERY) {
            longer();
        } else {
            brief();
        }
    }

    /// Called when a look found nothing to do and the member has no job: as [`wait`], but
    /// after [`IDLE_LOOKS`] looks, sleeps between them.
    ///
    /// [`wait`]: Waiter::wait
    pub fn idle(&mut self) {
        if self.looks >= IDLE_LOOKS {
            sleep();
        } else {
            self.wait();
        }
    }

    /// Called when a look found something: the next wait starts afresh.
    pub fn found(&mut self) {
        self.looks = 0;
    }
}

/// The rings' waiting hooks: a sender waiting for room, a receiver for a message. Members
/// never block in the kernel, so nobody needs a notification to wake them: "sleep" is
/// only a longer pause.
impl channels::Wait for Waiter {
    fn pause(&mut self) {
        self.wait();
    }

    fn sleep(&mut self) {
        longer();
    }
}

/// Nobody to notify: see [`Waiter`]'s `channels::Wait`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNotify;

impl channels::Notify for NoNotify {
    fn notify(&mut self) {}
}

#[cfg(target_os = "none")]
fn brief() {
    // SAFETY: `yield` is a hint with no effect on memory or registers. Not `nomem`: the
    // caller looks at shared memory next, which may have changed.
    unsafe { core::arch::asm!("yield", options(nostack, preserves_flags)) };
}

#[cfg(target_os = "none")]
fn longer() {
    crate::syscall::yield_now();
}

#[cfg(target_os = "none")]
fn sleep() {
    crate::syscall::wait_for_interrupt();
}

#[cfg(all(test, not(target_os = "none")))]
fn brief() {
    std::thread::yield_now();
}

#[cfg(all(not(test), not(target_os = "none")))]
fn brief() {
    core::hint::spin_loop();
}

#[cfg(not(target_os = "none"))]
fn longer() {
    brief();
}

#[cfg(not(target_os = "none"))]
fn sleep() {
    brief();
}
