//! How an endpoint waits, and how a sender wakes a sleeping receiver: two small traits, so
//! that the ring logic stays the same on Flotilla, on a host and under a model checker.
//!
//! A receiver that finds its ring empty polls it [`Wait::POLL_ROUNDS`] more times, calling
//! [`Wait::pause`] between polls; a reply to a round trip in progress usually arrives
//! within that. Then it announces in the frame that it sleeps, looks at the ring once more,
//! and calls [`Wait::sleep`]. A sender that publishes while the receiver's announcement
//! stands calls [`Notify::notify`], once per announcement (see [`crate::Receiver::recv`]
//! for why no wake-up is lost). A sender waiting for room in a full ring only pauses: it
//! never sleeps, because a full ring means the receiver has work and is not asleep.
//!
//! On Flotilla, `notify` will send an IPI through a notify capability and `sleep` will
//! block the dispatcher until that notification arrives; both need the kernel, so they
//! live in `libos`. This crate provides the waiters that need nothing from anyone:
//! [`Spin`] everywhere and `WaitForEvent` on AArch64. With them `sleep` is merely one
//! more pause, which is correct (the receiver re-checks the ring whenever `sleep`
//! returns) and only costs the core it runs on.

/// How an endpoint passes the time while it waits.
pub trait Wait {
    /// Polls of an empty ring, after the first, before the receiver sleeps.
    const POLL_ROUNDS: u32 = 128;

    /// Called between two polls of a ring: give the core to someone else for a moment.
    fn pause(&mut self);

    /// Called when the receiver has announced that it sleeps and found its ring still
    /// empty: block until notified. A notification that came after the announcement but
    /// before this call must not be lost (it must make this call return at once); returning
    /// early for any other reason is harmless.
    fn sleep(&mut self);
}

/// How a sender wakes the peer's receiver once it has announced that it sleeps.
pub trait Notify {
    fn notify(&mut self);
}

/// Waits by spinning: `core::hint::spin_loop()` between polls and instead of sleeping.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spin;

impl Wait for Spin {
    fn pause(&mut self) {
        core::hint::spin_loop();
    }

    fn sleep(&mut self) {
        core::hint::spin_loop();
    }
}

/// Waits with `wfe`, between polls and instead of sleeping: a yield to the next
/// dispatcher at EL0 on Flotilla and under QEMU (see
/// [`crate::arch::aarch64::wait_for_event`]), where a plain spin loop can hang (under QEMU
/// `-icount`, a core that never yields keeps the peer from running).
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitForEvent;

#[cfg(target_arch = "aarch64")]
impl Wait for WaitForEvent {
    fn pause(&mut self) {
        crate::arch::aarch64::wait_for_event();
    }

    fn sleep(&mut self) {
        crate::arch::aarch64::wait_for_event();
    }
}
