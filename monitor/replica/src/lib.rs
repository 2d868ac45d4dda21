//! # Replicated state: what the monitors agree on, and how
//!
//! In a multikernel no memory holds system-wide state that every core reads and writes:
//! each core's monitor keeps its own replica, and the replicas are kept consistent by
//! messages (`docs/DESIGN.md` §7). This crate is the logic of that, as plain Rust with no
//! I/O, so that the same code runs in the monitors and under the model checkers that
//! explore its message interleavings on the host:
//!
//! - [`memory`]: who owns which physical memory. Each core serves RAM from its own regions
//!   without a message; a core that runs low gets regions from another by a transfer that
//!   every replica applies before the memory is used. Every replica can be digested, and
//!   the digests compared (`check`).
//! - [`caps`]: the distributed capability protocol: copies and moves to other cores, and
//!   delete, revoke and retype of objects with copies or descendants elsewhere, all ordered
//!   by the object's owner core. Written down for readers in `docs/capability-protocol.md`.
//!
//! Each protocol is a state machine per core: the monitor feeds it local requests and the
//! messages other monitors sent, and it answers with the messages to send and the requests
//! that completed. Everything decoded from another core is checked; a wrong message is
//! refused with a reason and changes nothing.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod caps;
pub mod memory;

/// A core's logical id: its position in the device tree's `/cpus`, 0-based (core 0 boots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoreId(pub u8);

/// The most cores a Flotilla system has: a [`CoreSet`] is one 64-bit word.
pub const MAX_CORES: usize = 64;

/// A set of cores, one bit per [`CoreId`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CoreSet(pub u64);

impl CoreSet {
    pub const EMPTY: CoreSet = CoreSet(0);

    /// Cores `0..count`.
    pub fn first(count: usize) -> CoreSet {
        match count {
            0 => CoreSet::EMPTY,
            MAX_CORES.. => CoreSet(u64::MAX),
            n => CoreSet((1u64 << n) - 1),
        }
    }

    pub fn contains(self, core: CoreId) -> bool {
        (core.0 as usize) < MAX_CORES && self.0 & (1 << core.0) != 0
    }

    pub fn with(self, core: CoreId) -> CoreSet {
        CoreSet(self.0 | (1u64.checked_shl(core.0 as u32).unwrap_or(0)))
    }

    pub fn without(self, core: CoreId) -> CoreSet {
        CoreSet(self.0 & !(1u64.checked_shl(core.0 as u32).unwrap_or(0)))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The cores in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = CoreId> {
        (0..MAX_CORES as u8).filter(move |&c| self.0 & (1 << c) != 0).map(CoreId)
    }
}

/// A message from another core could not be decoded: the monitor drops it and reports the
/// sender, never acting on a part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer or more words than the message's kind has.
    Length,
    /// A kind or tag no message has.
    UnknownKind,
    /// A field holds a value no correct peer sends (a core id out of range, a size of 0…).
    BadField,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_sets_add_remove_and_count() {
        let set = CoreSet::EMPTY.with(CoreId(0)).with(CoreId(5)).with(CoreId(63));
        assert_eq!(set.len(), 3);
        assert!(set.contains(CoreId(5)) && !set.contains(CoreId(4)));
        assert_eq!(set.without(CoreId(5)).iter().collect::<Vec<_>>(), vec![CoreId(0), CoreId(63)]);
        assert_eq!(CoreSet::first(3), CoreSet(0b111));
        assert_eq!(CoreSet::first(64), CoreSet(u64::MAX));
        assert!(!CoreSet(u64::MAX).contains(CoreId(64)));
        assert_eq!(CoreSet::EMPTY.with(CoreId(64)), CoreSet::EMPTY);
    }
}
