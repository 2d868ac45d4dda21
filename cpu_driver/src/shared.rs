//! The few objects every core can reach: the boot mailbox and the console's line lock.
//!
//! Flotilla's CPU drivers share no kernel state (principle 1 of the multikernel). These are
//! the exceptions, and each has a reason:
//! - [`CoreSlot`]s are the boot mailbox: each core writes only its own slot to say how far
//!   its bring-up got, and the boot core reads them. One writer per word, no locks.
//! - [`CONSOLE_LOCK`] guards hardware that is physically shared (one UART), so that lines
//!   from different cores never interleave. It counts its acquisitions and contentions.
//!
//! They live in the `.shared` section, which the linker script places outside the per-core
//! area and every core maps at the same physical page.

use boot::bootinfo::MAX_CPUS;
use core::hint::spin_loop;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// How far a core's bring-up has got (in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum CoreState {
    /// Not started, or started but not heard from.
    Off = 0,
    /// MMU on, CPU driver running, console usable.
    Online = 1,
    /// Interrupt controller and timer running on this core.
    Ready = 2,
    /// Answered the boot core's IPI: fully up.
    Joined = 3,
    /// Stopped by a fatal error in its CPU driver (reported on the console).
    Failed = 4,
}

/// One core's mailbox slot, a cache line of its own so cores never write the same line.
#[repr(C, align(64))]
pub struct CoreSlot {
    state: AtomicU32,
    /// GICv2 only: this core's CPU interface mask (GICD_ITARGETSR0), for addressing SGIs.
    pub gic_target_mask: AtomicU32,
    /// Timer ticks this core has taken (written by the owner only).
    pub ticks: AtomicU64,
    /// Notify ports of this core woken since it last looked, one bit each: the doorbell
    /// that goes with `interrupts::SGI_NOTIFY` (senders set bits, the owner takes them all).
    pub notify_pending: AtomicU64,
}

impl CoreSlot {
    const fn new() -> Self {
        CoreSlot {
            state: AtomicU32::new(0),
            gic_target_mask: AtomicU32::new(0),
            ticks: AtomicU64::new(0),
            notify_pending: AtomicU64::new(0),
        }
    }

    pub fn state(&self) -> CoreState {
        match self.state.load(Ordering::Acquire) {
            1 => CoreState::Online,
            2 => CoreState::Ready,
            3 => CoreState::Joined,
            4 => CoreState::Failed,
            _ => CoreState::Off,
        }
    }

    /// Publishes this core's progress (release: everything written before is visible to a
    /// reader that sees the new state) and wakes cores waiting in `wfe`.
    pub fn set_state(&self, state: CoreState) {
        self.state.store(state as u32, Ordering::Release);
        crate::arch::send_event();
    }
}

#[link_section = ".shared"]
static CORE_SLOTS: [CoreSlot; MAX_CPUS] = [const { CoreSlot::new() }; MAX_CPUS];

/// The mailbox slot of logical core `core`.
pub fn slot(core: usize) -> &'static CoreSlot {
    &CORE_SLOTS[core % MAX_CPUS]
}

/// A lock shared between cores, for hardware that is physically shared.
///
/// Waiters sleep in `wfe` between attempts: a plain spin would, under QEMU's
/// single-threaded `-icount` mode, never give the holder a chance to run. `unlock` sends
/// the event that wakes them.
pub struct SharedLock {
    held: AtomicU32,
    acquisitions: AtomicU64,
    contended: AtomicU64,
}

impl SharedLock {
    pub const fn new() -> Self {
        SharedLock { held: AtomicU32::new(0), acquisitions: AtomicU64::new(0), contended: AtomicU64::new(0) }
    }

    fn try_lock(&self) -> bool {
        self.held.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Takes the lock, waiting as long as it takes.
    pub fn lock(&self) {
        if !self.try_lock() {
            self.contended.fetch_add(1, Ordering::Relaxed);
            while !self.try_lock() {
                crate::arch::wait_for_event();
            }
        }
        self.acquisitions.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the lock unless it stays held for `attempts` tries; the fault path uses this so
    /// a core that died holding the lock cannot silence another core's report.
    pub fn lock_or_steal(&self, attempts: u32) {
        for _ in 0..attempts {
            if self.try_lock() {
                self.acquisitions.fetch_add(1, Ordering::Relaxed);
                return;
            }
            spin_loop();
        }
        self.held.store(1, Ordering::Relaxed);
        core::sync::atomic::fence(Ordering::Acquire);
    }

    pub fn unlock(&self) {
        self.held.store(0, Ordering::Release);
        crate::arch::send_event();
    }

    /// (acquisitions, times a core had to wait).
    pub fn counts(&self) -> (u64, u64) {
        (self.acquisitions.load(Ordering::Relaxed), self.contended.load(Ordering::Relaxed))
    }
}

/// Serialises whole console lines across cores.
#[link_section = ".shared"]
pub static CONSOLE_LOCK: SharedLock = SharedLock::new();
