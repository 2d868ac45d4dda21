//! How a member passes the time while it waits for another: never a plain spin.
//!
//! Under QEMU's single-threaded round-robin emulation (`-icount`), a core that spins
//! keeps every other core from running until its time slice ends, so the member it waits
//! for makes no progress. A waiting member therefore executes `yield`, a hint that never
//! traps on hardware and that QEMU takes as "run another emulated core now". Every
//! [`LONGER_EVERY`] looks it also gives its core to the next dispatcher there (a system
//! call), so that the core's monitor, woken by a message, is not kept waiting for a timer
//! tick.
//!
//! A worker idle between jobs sleeps. With a [`Bed`] (an endpoint of its own, bound to a
//! notify port of its core) it blocks on that endpoint after [`BED_LOOKS`] looks, and the
//! coordinator, which holds a [`Bell`] for the port, wakes it the moment it posts a job
//! (the handshake is in `Worker::serve` and `Team::wake`). Without one it sleeps until an
//! interrupt (`wfi`, trapped by the CPU driver) after [`IDLE_LOOKS`] looks, and wakes at
//! its core's next timer tick at the latest: up to a whole tick late for the next job,
//! which under the multi-threaded emulator is longer than a job. Either way an idle
//! emulated core stops executing instructions.
//!
//! On the host (unit tests with threads) the same calls yield the thread.

/// Looks between two yields of the core to the next dispatcher.
pub const LONGER_EVERY: u32 = 64;
/// Looks without finding work before an idle member sleeps between looks.
pub const IDLE_LOOKS: u32 = 20_000;
/// Looks without finding work before an idle worker with a [`Bed`] sleeps in it: a
/// notification wakes it at once, so it need not look long.
pub const BED_LOOKS: u32 = 512;

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

    /// Whether `looks` looks in a row found nothing.
    pub fn rested(&self, looks: u32) -> bool {
        self.looks >= looks
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
pub use on_flotilla::{Bed, Bell};

#[cfg(target_os = "none")]
mod on_flotilla {
    use crate::error::Error;
    use crate::lmp::Endpoint;
    use crate::urpc::{NotifyCap, SleepOn};
    use channels::{Notify, Wait};

    /// Where an idle worker sleeps: an endpoint of the worker's, with a notify port of its
    /// core bound to it ([`crate::bind`]'s ports, as a URPC connection has).
    pub struct Bed {
        own: Endpoint,
        port: u64,
    }

    impl Bed {
        /// A bed on this core; [`Bed::port`] is what the coordinator needs for its bell.
        pub fn new() -> Result<Bed, Error> {
            let (own, port) = crate::bind::own_port()?;
            Ok(Bed { own, port })
        }

        pub fn port(&self) -> u64 {
            self.port
        }

        /// Blocks until the port is notified (or anything else arrives at the endpoint,
        /// which the caller takes as a reason to look again).
        pub fn sleep(&self) {
            SleepOn(self.own.cap()).sleep();
        }

        /// Gives the port and the endpoint back.
        pub fn release(self) {
            let _ = crate::bind::release_port(self.own, self.port);
        }
    }

    /// How the coordinator wakes a worker sleeping in its [`Bed`]: a notify capability
    /// for the bed's port.
    pub struct Bell(NotifyCap);

    impl Bell {
        /// The bell of the bed with port `port` on core `core`.
        pub fn for_port(core: u64, port: u64) -> Result<Bell, Error> {
            crate::bind::notify_cap(core, port).map(Bell)
        }

        pub fn ring(&mut self) {
            self.0.notify();
        }

        pub fn release(self) {
            crate::bind::discard(Some(self.0 .0));
        }
    }
}

/// On the host no worker has a bed (its idle looks yield the thread) and no bell rings.
#[cfg(not(target_os = "none"))]
pub struct Bed;

#[cfg(not(target_os = "none"))]
impl Bed {
    pub fn port(&self) -> u64 {
        0
    }

    pub fn sleep(&self) {
        brief();
    }

    pub fn release(self) {}
}

#[cfg(not(target_os = "none"))]
pub struct Bell;

#[cfg(not(target_os = "none"))]
impl Bell {
    pub fn ring(&mut self) {}

    pub fn release(self) {}
}

#[cfg(target_os = "none")]
fn brief() {
    crate::urpc::yield_hint();
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
