//! What can go wrong in libos, as one enum.
//!
//! Most failures are the kernel's refusal of a capability operation, carried unchanged as
//! [`Error::Sys`] so that its seL4-style name (`RevokeFirst`, `SlotOccupied`, …) reaches
//! the program. The other variants are limits of libos's own bookkeeping: every table it
//! keeps has a fixed size (there is no heap underneath the heap), and running out of one
//! is reported as that, not disguised as a kernel error.

use abi::elf::ElfError;
use abi::SysError;
use core::fmt;

/// A libos operation's failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused a system call or capability invocation.
    Sys(SysError),
    /// Every slot is taken and the root CNode has no free slot for another L2 CNode.
    OutOfSlots,
    /// No free range of the domain's RAM is large enough (with the alignment asked for).
    OutOfRam,
    /// No free range of the address-space window is large enough.
    OutOfVirtualSpace,
    /// A fixed-size list of free ranges is full: freeing or splitting would need one more.
    TooManyRanges,
    /// The address space has as many translation tables as libos can keep track of.
    TooManyTables,
    /// An address or size is not a multiple of the page size (or of what was asked).
    Misaligned,
    /// A frame was to be mapped across the end of a level-3 table (a 2 MiB boundary): one
    /// frame capability records one mapping, in one table.
    CrossesTable,
    /// What was to be freed was not handed out by the allocator it was given back to.
    NotAllocated,
    /// A capability is not of the type the operation needs.
    WrongType,
    /// The boot module archive is missing or unreadable.
    NoModuleArchive,
    /// The boot module archive has no module of that name.
    NoSuchModule,
    /// The module is not a program libos can load.
    BadElf(ElfError),
    /// More memory in one piece than the operation can handle.
    TooLarge,
    /// This core's monitor could not do what was asked (`crate::monitor::status` code).
    Monitor(u64),
    /// Arguments for a program that cannot be passed (`crate::args`).
    BadArguments(crate::args::ArgsError),
    /// A URPC channel frame is not one (misaligned or of a size no ring layout has).
    BadChannelFrame,
}

impl From<SysError> for Error {
    fn from(e: SysError) -> Error {
        Error::Sys(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys(e) => write!(f, "the kernel refused: {e}"),
            Error::OutOfSlots => f.write_str("no free capability slots"),
            Error::OutOfRam => f.write_str("not enough free RAM"),
            Error::OutOfVirtualSpace => f.write_str("no free virtual address range"),
            Error::TooManyRanges => f.write_str("too many free ranges to keep track of"),
            Error::TooManyTables => f.write_str("too many translation tables to keep track of"),
            Error::Misaligned => f.write_str("address or size not suitably aligned"),
            Error::CrossesTable => f.write_str("a frame cannot be mapped across a 2 MiB boundary"),
            Error::NotAllocated => f.write_str("freeing something that was not allocated here"),
            Error::WrongType => f.write_str("capability of the wrong type"),
            Error::NoModuleArchive => f.write_str("no readable boot module archive"),
            Error::NoSuchModule => f.write_str("no boot module of that name"),
            Error::BadElf(e) => write!(f, "{e}"),
            Error::TooLarge => f.write_str("too large for one operation"),
            Error::Monitor(code) => {
                write!(f, "the monitor refused: {}", crate::monitor::status::describe(*code))
            }
            Error::BadChannelFrame => f.write_str("not a usable URPC channel frame"),
            Error::BadArguments(e) => write!(f, "bad arguments: {e}"),
        }
    }
}
