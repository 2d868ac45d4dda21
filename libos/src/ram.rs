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
//! The interface is kept narrow on purpose (`alloc_ram`, `free_ram`, [`free_bytes`]):
//! RAM is to come from the core's monitor one day, and callers should not notice.

use crate::error::Error;
use crate::range::{RangeError, RangeSet};

#[cfg(target_os = "none")]
use crate::cap::{CapRef, RamCap};
#[cfg(target_os = "none")]
use abi::cap::{slot, CapType, PAGE_SIZE};

/// Free ranges the allocator can keep track of.
pub const MAX_FREE_RANGES: usize = 64;

/// What a range error means for RAM.
fn ram_error(e: RangeError) -> Error {
    match e {
        RangeError::NoFit => Error::OutOfRam,
        RangeError::Full => Error::TooManyRanges,
        RangeError::NotAllocated => Error::NotAllocated,
    }
}

/// `FREE_RAM`: every piece is retyped from it.
#[cfg(target_os = "none")]
const SOURCE: RamCap = RamCap(CapRef(slot::FREE_RAM));

/// The free parts of `FREE_RAM`.
struct Pool {
    /// `FREE_RAM`'s physical address range.
    base: u64,
    end: u64,
    free: RangeSet<MAX_FREE_RANGES>,
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
}

#[cfg(target_os = "none")]
static POOL: spin::Mutex<Option<Pool>> = spin::Mutex::new(None);

/// Runs `f` on this domain's pool, reading `FREE_RAM` on first use. A domain without
/// `FREE_RAM` gets an empty pool: every allocation answers [`Error::OutOfRam`].
#[cfg(target_os = "none")]
fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    let mut guard = POOL.lock();
    let pool = guard.get_or_insert_with(|| {
        let mut pool = Pool { base: 0, end: 0, free: RangeSet::new() };
        if let Some(info) = SOURCE.0.identify().ok().filter(|info| info.ty == CapType::Ram) {
            pool.base = info.base;
            pool.end = info.base + info.size;
            // One range into an empty set always fits.
            let _ = pool.free.free(info.base, info.size);
        }
        pool
    });
    f(pool)
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
    with_pool(|pool| {
        let at = pool.take(bytes, align)?;
        match SOURCE.0.retype(CapType::Ram, bytes, at - pool.base, 1, dest) {
            Ok(()) => Ok(RamCap(dest)),
            Err(e) => {
                // Taken a moment ago, so it goes back.
                let _ = pool.free.free(at, bytes);
                Err(e)
            }
        }
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
    with_pool(|pool| {
        if !pool.owns(info.base, info.size) || !info.size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::NotAllocated);
        }
        ram.0.revoke()?;
        ram.0.delete()?;
        // Should the range list be full, the memory stays lost to this allocator: that is
        // reported, and nothing else is harmed.
        pool.free.free(info.base, info.size).map_err(ram_error)
    })
}

/// Bytes of RAM not handed out.
#[cfg(target_os = "none")]
pub fn free_bytes() -> u64 {
    with_pool(|pool| pool.free.free_bytes())
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
