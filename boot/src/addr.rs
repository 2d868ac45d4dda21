//! Physical and virtual addresses as distinct types.
//!
//! Boot code juggles three kinds of address at once (where the loader put the image, where
//! the kernel is linked, and where the linear map shows a physical page); giving each its own
//! type lets the compiler catch a mix-up that would otherwise be a silent wild access.

use core::fmt;

/// A physical (bus-independent, CPU-side) address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PhysAddr(pub u64);

/// A virtual address in the kernel's or a user's address space.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct VirtAddr(pub u64);

/// The translation granule: 4 KiB pages throughout Flotilla.
pub const PAGE_SIZE: u64 = 4096;

macro_rules! address_ops {
    ($t:ident) => {
        impl $t {
            pub const fn as_u64(self) -> u64 {
                self.0
            }
            /// Rounds down to a multiple of `align` (a power of two).
            pub const fn align_down(self, align: u64) -> Self {
                $t(self.0 & !(align - 1))
            }
            /// Rounds up to a multiple of `align` (a power of two); `None` on overflow.
            pub const fn checked_align_up(self, align: u64) -> Option<Self> {
                match self.0.checked_add(align - 1) {
                    Some(v) => Some($t(v & !(align - 1))),
                    None => None,
                }
            }
            pub const fn is_aligned(self, align: u64) -> bool {
                self.0 & (align - 1) == 0
            }
            pub const fn offset(self, by: u64) -> Self {
                $t(self.0.wrapping_add(by))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($t), "({:#x})"), self.0)
            }
        }
        impl fmt::LowerHex for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }
    };
}

address_ops!(PhysAddr);
address_ops!(VirtAddr);

/// A half-open physical range `[base, base + size)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PhysRange {
    pub base: PhysAddr,
    pub size_bytes: u64,
}

impl PhysRange {
    pub const fn new(base: PhysAddr, size_bytes: u64) -> Self {
        PhysRange { base, size_bytes }
    }
    /// One past the last byte, saturating at the top of the address space.
    pub const fn end(&self) -> PhysAddr {
        PhysAddr(self.base.0.saturating_add(self.size_bytes))
    }
    pub const fn contains(&self, pa: PhysAddr) -> bool {
        pa.0 >= self.base.0 && pa.0 < self.end().0
    }
    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        self.base.0 < other.end().0 && other.base.0 < self.end().0
    }
}
