//! The RAM allocator: RAM capabilities of the size a program asks for.
//!
//! Every kernel object a program makes — frames, translation tables, CNodes, endpoints,
//! dispatchers — is retyped from RAM it holds a capability to. A domain starts with one
//! big RAM capability, `FREE_RAM` (`abi::cap::slot::FREE_RAM`), and this module carves it
//! up: [`alloc_ram`] retypes a piece of the requested size and alignment into a RAM
//! capability of its own, and [`free_ram`] takes it back.
//!
//! ## Why hand out RAM, not objects
//!
//! A RAM capability is the unit of reclamation. Revoking it destroys everything ever made
//! from it, however deep, so a subsystem that builds many objects (the heap's frames and
//! tables, a child domain's whole CSpace and address space) asks for one piece of RAM,
//! makes its objects from that, and is undone by one [`free_ram`]. The kernel's own rule
//! keeps this honest: it refuses to retype memory that a live object still occupies
//! (`RevokeFirst`), so a piece can be handed out again only once everything made from it
//! is gone.
//!
//! ## Bookkeeping
//!
//! The free parts of `FREE_RAM` are kept as physical address ranges in a fixed-size
//! [`RangeSet`] of [`MAX_FREE_RANGES`] entries (no heap: the heap is built from this);
//! allocation is first fit. Physical addresses rather than offsets, so that alignment is
//! the real one — a 2 MiB-aligned piece can back a 2 MiB-aligned block.
//!
//! ## More RAM from the monitor
//!
//! When `FREE_RAM` has no room for a request, the allocator asks this core's monitor for
//! more (`libos::monitor::ram_alloc`, an LMP request to this core's monitor only: the
//! monitor serves it from memory its core owns, or first obtains some from another core).
//! Each such piece becomes a pool of its own, carved up the same way, up to
//! [`MAX_POOLS`] in all; a pool from the monitor that is entirely free again goes back to
//! it. Callers do not notice, except that [`free_bytes`] counts the pools held. A monitor
//! (which holds the Kernel capability) never asks, nor does a program with no monitor to
//! ask (a core's first domain).

use crate::error::Error;
use crate::range::{RangeError, RangeSet};

#[cfg(target_os = "none")]
use crate::cap::{CapRef, RamCap};
#[cfg(target_os = "none")]
use abi::cap::{slot, CapType, PAGE_SIZE};

/// Free ranges the allocator can keep track of, per pool.
pub const MAX_FREE_RANGES: usize = 64;

/// Pools: `FREE_RAM`, and the pieces of RAM obtained from the monitor.
pub const MAX_POOLS: usize = 8;

/// The least the allocator asks the monitor for at once (the monitor hands out memory in
/// 1 MiB regions).
pub const GROW_BYTES: u64 = 4 << 20;

/// What a range error means for RAM.
fn ram_error(e: RangeError) -> Error {
    match e {
        RangeError::NoFit => Error::OutOfRam,
        RangeError::Full => Error::TooManyRanges,
        RangeError::NotAllocated => Error::NotAllocated,
    }
}

/// `FREE_RAM`: the first pool's pieces are retyped from it.
#[cfg(target_os = "none")]
const SOURCE: RamCap = RamCap(CapRef(slot::FREE_RAM));

/// A RAM capability the allocator carves pieces from, and its free parts.
struct Pool {
    /// The capability's physical address range.
    base: u64,
    end: u64,
    free: RangeSet<MAX_FREE_RANGES>,
    /// The capability (`FREE_RAM`, or RAM from the monitor).
    #[cfg(target_os = "none")]
    source: RamCap,
}

impl Pool {
    /// Takes `bytes` at `align` and returns their physical address.
    fn take(&mut self, bytes: u64, align: u64) -> Result<u64, Error> {
        self.free.alloc(bytes, align).map_err(ram_error)
    }

    /// Checks that `[base, base + size)` could be a piece of this pool.
    fn owns(&self, base: u64, size: u64) -> bool {
        base >= self.base && base.checked_add(size).is_some_and(|end| end <= self.end)
    }

    /// True if nothing of the pool is handed out.
    fn is_whole(&self) -> bool {
        self.free.free_bytes() == self.end - self.base
    }
}

/// The pools: `FREE_RAM` first, then RAM from the monitor.
#[cfg(target_os = "none")]
struct Pools {
    pools: [Option<Pool>; MAX_POOLS],
}

#[cfg(target_os = "none")]
static POOLS: spin::Mutex<Option<Pools>> = spin::Mutex::new(None);

/// Runs `f` on this domain's pools, reading `FREE_RAM` on first use. A domain without
/// `FREE_RAM` starts with no pool.
#[cfg(target_os = "none")]
fn with_pools<R>(f: impl FnOnce(&mut Pools) -> R) -> R {
    let mut guard = POOLS.lock();
    let pools = guard.get_or_insert_with(|| {
        let mut pools = Pools { pools: [const { None }; MAX_POOLS] };
        if let Some(info) = SOURCE.0.identify().ok().filter(|info| info.ty == CapType::Ram) {
            pools.pools[0] = Some(new_pool(SOURCE, info.base, info.size));
        }
        pools
    });
    f(pools)
}

/// A pool of all of `source`, `[base, base + size)`.
#[cfg(target_os = "none")]
fn new_pool(source: RamCap, base: u64, size: u64) -> Pool {
    let mut free = RangeSet::new();
    // One range into an empty set always fits.
    let _ = free.free(base, size);
    Pool { base, end: base + size, free, source }
}

/// Whether this program may ask its monitor for RAM: it has a monitor to ask, and is not
/// one itself. Decided once.
#[cfg(target_os = "none")]
fn may_ask_monitor() -> bool {
    static MAY: spin::Once<bool> = spin::Once::new();
    *MAY.call_once(|| {
        let is = |cap: abi::CapAddr, ty: CapType| CapRef(cap).identify().is_ok_and(|i| i.ty == ty);
        !is(slot::KERNEL, CapType::Kernel) && is(slot::MONITOR, CapType::Endpoint)
    })
}

/// Set while the allocator asks the monitor for RAM: the request itself may need a slot
/// or an endpoint, and those must not ask again.
#[cfg(target_os = "none")]
static ASKING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Asks the monitor for RAM enough for `bytes` at `align`, and makes it a pool.
#[cfg(target_os = "none")]
fn grow(bytes: u64, align: u64) -> Result<(), Error> {
    use core::sync::atomic::Ordering;
    if !may_ask_monitor() || ASKING.swap(true, Ordering::Acquire) {
        return Err(Error::OutOfRam);
    }
    // The monitor's RAM is aligned to its 1 MiB regions; more alignment costs room.
    let extra = if align > 1 << 20 { align } else { 0 };
    let want = bytes.saturating_add(extra).max(GROW_BYTES).next_multiple_of(1 << 20);
    let got = crate::monitor::ram_alloc(want);
    ASKING.store(false, Ordering::Release);
    let (ram, base, size) = got.map_err(|_| Error::OutOfRam)?;
    let added = with_pools(|pools| match pools.pools.iter_mut().find(|p| p.is_none()) {
        Some(free) => {
            *free = Some(new_pool(ram, base, size));
            true
        }
        None => false,
    });
    if !added {
        let _ = crate::monitor::ram_free(ram, base);
        return Err(Error::TooManyRanges);
    }
    Ok(())
}

/// Gives back to the monitor the pools from it that are whole again.
#[cfg(target_os = "none")]
fn shrink() {
    let whole = with_pools(|pools| {
        let index = pools.pools.iter().skip(1).position(|p| p.as_ref().is_some_and(Pool::is_whole))?;
        pools.pools[index + 1].take()
    });
    if let Some(pool) = whole {
        if crate::monitor::ram_free(pool.source, pool.base).is_err() {
            // Kept, then: the monitor would not take it.
            with_pools(|pools| {
                if let Some(free) = pools.pools.iter_mut().find(|p| p.is_none()) {
                    *free = Some(pool);
                }
            });
        }
    }
}

/// Bytes rounded up to whole pages, and an alignment of at least a page; `Misaligned` if
/// `align` is not a power of two.
fn page_request(bytes: u64, align: u64) -> Result<(u64, u64), Error> {
    if !align.is_power_of_two() && align != 0 {
        return Err(Error::Misaligned);
    }
    let bytes = bytes.max(1).checked_next_multiple_of(abi::cap::PAGE_SIZE).ok_or(Error::OutOfRam)?;
    Ok((bytes, align.max(abi::cap::PAGE_SIZE)))
}

/// A RAM capability for `bytes` (rounded up to whole pages) starting at a physical
/// address that is a multiple of `align` (a power of two; at least a page), in a slot
/// from the slot allocator.
#[cfg(target_os = "none")]
pub fn alloc_ram(bytes: u64, align: u64) -> Result<RamCap, Error> {
    let dest = crate::cspace::alloc_slot()?;
    alloc_ram_into(dest, bytes, align).inspect_err(|_| crate::cspace::free_slot(dest))
}

/// [`alloc_ram`] into the empty slot `dest`, without touching the slot allocator (which
/// calls this while growing the CSpace).
#[cfg(target_os = "none")]
pub(crate) fn alloc_ram_into(dest: CapRef, bytes: u64, align: u64) -> Result<RamCap, Error> {
    let (bytes, align) = page_request(bytes, align)?;
    match take_into(dest, bytes, align) {
        Err(Error::OutOfRam) => {
            grow(bytes, align)?;
            take_into(dest, bytes, align)
        }
        other => other,
    }
}

/// A piece of the first pool with room, retyped into `dest`.
#[cfg(target_os = "none")]
fn take_into(dest: CapRef, bytes: u64, align: u64) -> Result<RamCap, Error> {
    with_pools(|pools| {
        for pool in pools.pools.iter_mut().flatten() {
            let Ok(at) = pool.take(bytes, align) else { continue };
            return match pool.source.0.retype(CapType::Ram, bytes, at - pool.base, 1, dest) {
                Ok(()) => Ok(RamCap(dest)),
                Err(e) => {
                    // Taken a moment ago, so it goes back.
                    let _ = pool.free.free(at, bytes);
                    Err(e)
                }
            };
        }
        Err(Error::OutOfRam)
    })
}

/// Destroys everything made from `ram` (revoke), deletes it, returns its memory to the
/// pool and its slot to the slot allocator. Anything still mapped from it is unmapped by
/// the kernel on the way: the caller must be done with it.
#[cfg(target_os = "none")]
pub fn free_ram(ram: RamCap) -> Result<(), Error> {
    release_ram(ram)?;
    crate::cspace::free_slot(ram.0);
    Ok(())
}

/// [`free_ram`] without giving the slot back (for the slot allocator itself).
#[cfg(target_os = "none")]
pub(crate) fn release_ram(ram: RamCap) -> Result<(), Error> {
    let info = ram.0.identify()?;
    if info.ty != CapType::Ram {
        return Err(Error::WrongType);
    }
    let freed = with_pools(|pools| {
        let pool = pools.pools.iter_mut().flatten().find(|p| p.owns(info.base, info.size));
        let Some(pool) = pool.filter(|_| info.size.is_multiple_of(PAGE_SIZE)) else {
            return Err(Error::NotAllocated);
        };
        ram.0.revoke()?;
        ram.0.delete()?;
        // Should the range list be full, the memory stays lost to this allocator: that is
        // reported, and nothing else is harmed.
        pool.free.free(info.base, info.size).map_err(ram_error)
    });
    if freed.is_ok() && !ASKING.load(core::sync::atomic::Ordering::Acquire) {
        shrink();
    }
    freed
}

/// Bytes of RAM not handed out, in every pool held.
#[cfg(target_os = "none")]
pub fn free_bytes() -> u64 {
    with_pools(|pools| pools.pools.iter().flatten().map(|p| p.free.free_bytes()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(base: u64, size: u64) -> Pool {
        let mut free = RangeSet::new();
        free.free(base, size).unwrap();
        Pool { base, end: base + size, free }
    }

    #[test]
    fn a_pool_is_whole_until_a_piece_is_taken_and_again_once_it_is_back() {
        let mut p = pool(0x4000_0000, 4 << 20);
        assert!(p.is_whole());
        let at = p.take(8192, 4096).unwrap();
        assert!(!p.is_whole());
        p.free.free(at, 8192).unwrap();
        assert!(p.is_whole());
    }

    #[test]
    fn requests_are_rounded_to_pages_and_page_alignment() {
        assert_eq!(page_request(1, 0), Ok((4096, 4096)));
        assert_eq!(page_request(8192, 2 << 20), Ok((8192, 2 << 20)));
        assert_eq!(page_request(4096, 3), Err(Error::Misaligned));
        assert_eq!(page_request(u64::MAX, 4096), Err(Error::OutOfRam));
    }

    #[test]
    fn pieces_are_aligned_physically_not_relative_to_the_pool() {
        let mut p = pool(0x4010_0000, 16 << 20);
        assert_eq!(p.take(4096, 4096), Ok(0x4010_0000));
        assert_eq!(p.take(2 << 20, 2 << 20), Ok(0x4020_0000));
        assert_eq!(p.take(64 << 20, 4096), Err(Error::OutOfRam));
    }

    #[test]
    fn only_pieces_of_the_pool_are_taken_back() {
        let p = pool(0x4000_0000, 1 << 20);
        assert!(p.owns(0x4000_0000, 1 << 20));
        assert!(!p.owns(0x3fff_f000, 4096));
        assert!(!p.owns(0x400f_f000, 8192));
        assert!(!p.owns(u64::MAX - 4095, 8192));
    }
}
