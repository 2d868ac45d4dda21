//! Reaching kernel objects by physical address.
//!
//! Every kernel object (CNodes, translation tables, dispatchers, endpoints) lives in RAM
//! that user code retyped; the kernel keeps only physical addresses and reaches the memory
//! through its linear map. On the host, for unit tests, a thread-local arena stands in for
//! RAM at a made-up physical base, so the capability code runs unchanged in tests.

use boot::PhysAddr;

/// A pointer through which the kernel can read and write `T` at `pa`.
///
/// The caller must know `pa` holds a `T` (a kernel object it is entitled to).
#[cfg(target_os = "none")]
pub fn ptr<T>(pa: PhysAddr) -> *mut T {
    boot::layout::phys_to_linear(pa).as_u64() as *mut T
}

#[cfg(not(target_os = "none"))]
pub fn ptr<T>(pa: PhysAddr) -> *mut T {
    test_ram::ptr(pa)
}

/// Zeroes `bytes` bytes from `pa`.
pub fn zero(pa: PhysAddr, bytes: u64) {
    // SAFETY: callers pass memory a capability grants them (a fresh object from retype).
    unsafe { core::ptr::write_bytes(ptr::<u8>(pa), 0, bytes as usize) }
}

/// Fills `bytes` bytes from `pa` with `value` (host tests: dirty memory before a retype).
#[cfg(test)]
pub fn test_ram_fill(pa: PhysAddr, bytes: u64, value: u8) {
    // SAFETY: the test arena covers the range (checked by `ptr` for the first byte; tests
    // pass ranges inside the arena).
    unsafe { core::ptr::write_bytes(ptr::<u8>(pa), value, bytes as usize) }
}

/// RAM for host tests: one zeroed arena per thread at [`test_ram::BASE`].
#[cfg(not(target_os = "none"))]
pub mod test_ram {
    use boot::PhysAddr;
    use std::cell::RefCell;

    /// Physical address of the arena's first byte.
    pub const BASE: u64 = 0x4000_0000;

    thread_local! {
        static ARENA: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    /// Replaces this thread's arena with `bytes` of zeroed RAM.
    pub fn reset(bytes: u64) {
        ARENA.with(|a| *a.borrow_mut() = vec![0u64; (bytes / 8) as usize]);
    }

    pub fn ptr<T>(pa: PhysAddr) -> *mut T {
        ARENA.with(|a| {
            let mut arena = a.borrow_mut();
            let offset = pa.0.checked_sub(BASE).expect("address below the test arena") as usize;
            assert!(offset + core::mem::size_of::<T>() <= arena.len() * 8, "address beyond the test arena");
            // SAFETY: in bounds (checked above); the arena outlives every test's use of it.
            unsafe { arena.as_mut_ptr().cast::<u8>().add(offset).cast::<T>() }
        })
    }
}
