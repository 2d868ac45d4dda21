//! The heap: Rust's global allocator, grown on demand by explicit paging.
//!
//! `alloc::vec::Vec`, `Box` and friends ask the `#[global_allocator]` for memory. Here
//! that is a buddy allocator (`buddy_system_allocator`'s `LockedHeapWithRescue`) that
//! starts empty. When it cannot satisfy a request it calls its *rescue* function, which
//! grows it: [`growth_bytes`] of new memory mapped by [`crate::paging`] (fresh RAM from
//! [`crate::ram`], retyped into frames, mapped at a new range of the address-space
//! window), handed to the buddy allocator, which then tries once more. So the heap costs
//! nothing until used, and a program's first `Vec` is what maps its first heap page.
//!
//! ## Why growth happens in the rescue function
//!
//! Stable Rust has no `alloc_error_handler`, and the `GlobalAlloc` interface has no
//! "try harder": the allocator itself must grow before it reports failure. The rescue
//! hook is exactly that point. It runs with the heap's lock held, so nothing it calls may
//! allocate: paging, the RAM allocator and the slot allocator all keep fixed-size books
//! for this reason. If growing fails (no RAM left), the allocation fails, and Rust's
//! allocation-error path panics with the size that could not be had.
//!
//! ## Sizes
//!
//! A buddy allocator hands out power-of-two blocks aligned to their size, so an
//! allocation of `n` bytes needs a free block of `n.next_power_of_two()`. Growth therefore
//! maps a power of two at least that large, at a virtual address aligned to its size, so
//! that the new memory becomes one such block; and at least [`GROWTH_BYTES`], so that
//! small allocations do not map (and spend two slots and a translation table on) a page
//! at a time. The heap never shrinks: freed blocks stay mapped for the next allocation.
//!
//! ## Opting out
//!
//! All of this is behind the cargo feature `heap`, on by default. A program that wants a
//! different allocator (or none) depends on libos with `default-features = false`; Rust
//! allows one `#[global_allocator]` per program, so the choice must be the program's. A
//! program that leaves the feature on but never allocates pays nothing at run time.

use core::alloc::Layout;

/// The buddy allocator's orders: blocks of up to 2^31 bytes.
pub const ORDER: usize = 32;
/// The least the heap grows by: 4 MiB.
pub const GROWTH_BYTES: u64 = 4 << 20;

/// How many bytes to map when an allocation of `layout` found the heap too small: a power
/// of two covering the block the buddy allocator will need, and at least
/// [`GROWTH_BYTES`]. (A layout's size is at most `isize::MAX`, so the power of two always
/// fits in a `u64`; whether that much can be mapped is for paging to say.)
pub fn growth_bytes(layout: &Layout) -> u64 {
    let needed = layout.size().max(layout.align()) as u64;
    needed.next_power_of_two().max(GROWTH_BYTES)
}

/// How much memory the heap holds and hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes mapped for the heap so far.
    pub mapped_bytes: u64,
    /// Bytes of those in allocated blocks (sizes rounded up to powers of two).
    pub allocated_bytes: u64,
}

#[cfg(target_os = "none")]
pub use global::stats;

#[cfg(target_os = "none")]
mod global {
    use super::{growth_bytes, HeapStats, ORDER};
    use abi::cap::Rights;
    use buddy_system_allocator::{Heap, LockedHeapWithRescue};
    use core::alloc::Layout;

    #[global_allocator]
    static HEAP: LockedHeapWithRescue<ORDER> = LockedHeapWithRescue::new(grow);

    /// The rescue function: maps more memory and gives it to the heap. On failure it
    /// adds nothing, and the allocation that called it fails.
    fn grow(heap: &mut Heap<ORDER>, layout: &Layout) {
        let bytes = growth_bytes(layout);
        let rights = Rights::READ.union(Rights::WRITE);
        let Ok(mapping) = crate::paging::with_current(|vspace| vspace.map_anonymous(bytes, bytes, rights))
        else {
            return;
        };
        let start = mapping.va() as usize;
        // SAFETY: the range was just mapped, readable and writable, for this heap alone,
        // and stays mapped for the program's life (the mapping is never unmapped).
        unsafe { heap.add_to_heap(start, start + mapping.bytes() as usize) };
    }

    /// The heap's current size and use.
    pub fn stats() -> HeapStats {
        let heap = HEAP.lock();
        HeapStats {
            mapped_bytes: heap.stats_total_bytes() as u64,
            allocated_bytes: heap.stats_alloc_actual() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn small_allocations_grow_the_heap_by_the_minimum() {
        assert_eq!(growth_bytes(&layout(24, 8)), GROWTH_BYTES);
        assert_eq!(growth_bytes(&layout(GROWTH_BYTES as usize, 1)), GROWTH_BYTES);
    }

    #[test]
    fn large_allocations_grow_the_heap_by_their_buddy_block() {
        assert_eq!(growth_bytes(&layout(64 << 20, 1)), 64 << 20);
        assert_eq!(growth_bytes(&layout((64 << 20) + 1, 1)), 128 << 20);
        assert_eq!(growth_bytes(&layout(16, 8 << 20)), 8 << 20, "alignment counts too");
    }
}
