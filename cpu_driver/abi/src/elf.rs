//! # ELF executables: the one checker both loaders trust
//!
//! Flotilla starts programs from ELF64 files in two places: the CPU driver starts each
//! core's monitor from a boot module, and `libos` spawns every later program. Both must
//! agree exactly on what a loadable program is, so one checker serves both, and it lives in
//! the ABI crate because the format is part of the contract between kernel and user space.
//!
//! ## What is accepted
//!
//! Static, position-dependent AArch64 executables (`ET_EXEC`, `EM_AARCH64`), as the
//! `aarch64-unknown-none` targets produce with the static relocation model. There is no
//! dynamic linker and no relocation: a file asking for an interpreter (`PT_INTERP`) or
//! carrying dynamic-linking information (`PT_DYNAMIC`) is refused rather than half-loaded.
//! Only `PT_LOAD` entries are read; the rest (`PT_GNU_STACK`, `PT_NOTE`, `PT_TLS`, …) are
//! skipped, and section headers are never looked at.
//!
//! ## Principles
//!
//! - **Nothing in the file is trusted.** Every offset, size and count is combined with
//!   checked arithmetic and every read goes through `get`, so [`ElfImage::parse`] answers
//!   any byte string with a value or an [`ElfError`], never a panic, and never reads outside
//!   the slice it was given.
//! - **Fields are read bytewise, little-endian.** The file may sit at any alignment (a boot
//!   module frame, a buffer in a heap), so nothing is ever cast to a header struct.
//! - **Everything is checked up front.** `parse` validates every segment before returning,
//!   so a loader walking [`ElfImage::segments`] never meets a bad one and needs no error
//!   paths of its own.
//! - **No allocation.** At most [`MAX_SEGMENTS`] segments are kept in a fixed array.
//!
//! ## What the checks promise a loader
//!
//! Every [`Segment`] from a parsed image lies in user space above page 0, carries at most as
//! many file bytes as it occupies in memory, and is never both writable and executable. No
//! two segments touch the same page, so each page gets exactly one set of permissions. A
//! segment's address and file offset agree modulo [`PAGE_SIZE`], so a loader holding the
//! file in page-aligned frames (boot modules start on page boundaries) may map read-only
//! segments straight from the file rather than copying them. The entry point is a
//! 4-byte-aligned address inside an executable segment.
//!
//! ## What it does not do
//!
//! It maps and copies nothing. The loader maps the pages of [`Segment::page_range`] with the
//! segment's [`SegmentFlags`], copies `file_bytes` to `vaddr`, and zeroes the rest of those
//! pages (the bss after `file_bytes`, and the page's bytes before `vaddr`). Thread-local
//! storage (`PT_TLS`) is left to the program's runtime.

use core::fmt;

use crate::cap::PAGE_SIZE;

/// The lowest address a user segment may use. Page 0 stays unmapped so that a null pointer
/// dereference faults instead of reading program data.
pub const USER_VA_START: u64 = PAGE_SIZE;
/// The end (exclusive) of the addresses a user segment may use: 2^47, inside the 48-bit
/// range that TTBR0_EL1 translates (T0SZ = 16).
pub const USER_VA_END: u64 = 0x0000_8000_0000_0000;
/// The most loadable (`PT_LOAD`) segments an image may have. Real programs have two to
/// four; the bound lets [`ElfImage`] keep its segments in a fixed array.
pub const MAX_SEGMENTS: usize = 16;
/// The most program headers of any type an image may have. Bounding the table keeps the
/// work `parse` does on a hostile file small and fixed.
pub const MAX_PROGRAM_HEADERS: usize = 64;

/// `e_ident[EI_MAG0..=EI_MAG3]` (System V gABI, "ELF Identification").
const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
/// `e_ident` index of the file class.
const EI_CLASS: usize = 4;
/// `e_ident` index of the data encoding.
const EI_DATA: usize = 5;
/// `e_ident` index of the ELF header version.
const EI_VERSION: usize = 6;
/// `EI_CLASS` value for 64-bit objects.
const ELFCLASS64: u8 = 2;
/// `EI_DATA` value for two's complement, little-endian.
const ELFDATA2LSB: u8 = 1;
/// `EV_CURRENT`, the only ELF version there is (both `e_ident[EI_VERSION]` and `e_version`).
const EV_CURRENT: u32 = 1;
/// `e_type` of an executable file (as opposed to `ET_DYN`, a shared object or PIE).
const ET_EXEC: u16 = 2;
/// `e_machine` for AArch64 ("ELF for the Arm 64-bit Architecture (AArch64)", §5.1).
const EM_AARCH64: u16 = 183;
/// `sizeof(Elf64_Ehdr)`: the ELF header's size, and the least `e_ehsize` may say.
const FILE_HEADER_BYTES: usize = 64;
/// `sizeof(Elf64_Phdr)`: the only program header size this reader understands.
const PROGRAM_HEADER_BYTES: usize = 56;
/// `p_type` of a loadable segment.
const PT_LOAD: u32 = 1;
/// `p_type` of dynamic-linking information.
const PT_DYNAMIC: u32 = 2;
/// `p_type` naming a program interpreter (dynamic linker).
const PT_INTERP: u32 = 3;
/// `p_flags` bit: executable.
const PF_X: u32 = 1 << 0;
/// `p_flags` bit: writable.
const PF_W: u32 = 1 << 1;
/// `p_flags` bit: readable.
const PF_R: u32 = 1 << 2;
/// A64 instructions are 32 bits wide; fetching from a PC that is not a multiple of 4 raises
/// a PC alignment fault (Arm ARM, "PC alignment checking").
const INSTRUCTION_BYTES: u64 = 4;
/// The highest page boundary, where [`Segment::page_range`] stops if a hand-made segment
/// would run past the top of the address space.
const LAST_PAGE_BOUNDARY: u64 = u64::MAX - (PAGE_SIZE - 1);

/// Why a byte string is not a loadable Flotilla executable.
///
/// `index` fields count program headers from 0 in file order, as `readelf -l` numbers
/// them, so an error can be matched against the linker's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file is shorter than an ELF64 header.
    TooShort,
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// The file is not 64-bit (`EI_CLASS` is not `ELFCLASS64`).
    NotElf64,
    /// The file is not little-endian (`EI_DATA` is not `ELFDATA2LSB`).
    NotLittleEndian,
    /// `e_ident[EI_VERSION]` or `e_version` is not `EV_CURRENT`.
    BadVersion,
    /// The file is not an executable (`e_type` is not `ET_EXEC`): a shared object, a
    /// position-independent executable, a relocatable object or a core dump.
    NotExecutable,
    /// The file is for another machine (`e_machine`, here, is not `EM_AARCH64`).
    WrongMachine(u16),
    /// `e_ehsize` is smaller than an ELF64 header, or `e_phentsize` is not the size of an
    /// ELF64 program header.
    BadHeaderSize,
    /// `e_phnum` exceeds [`MAX_PROGRAM_HEADERS`].
    TooManyProgramHeaders,
    /// The program header table does not lie entirely inside the file.
    ProgramHeadersOutOfBounds,
    /// The file has a `PT_INTERP` or `PT_DYNAMIC` entry: only static executables load.
    Dynamic,
    /// The file has more than [`MAX_SEGMENTS`] non-empty loadable segments.
    TooManySegments,
    /// The file has no non-empty loadable segment.
    NoLoadableSegment,
    /// The segment's file bytes do not lie inside the file.
    SegmentOutOfFile { index: usize },
    /// The segment has more bytes in the file than in memory.
    FileSizeExceedsMemorySize { index: usize },
    /// The segment does not lie in [`USER_VA_START`, `USER_VA_END`).
    SegmentOutsideUserSpace { index: usize },
    /// The segment's address and file offset differ modulo the page size, or its alignment
    /// is neither 0, 1 nor a power of two.
    SegmentMisaligned { index: usize },
    /// Two segments touch the same page (`first` comes before `second` in the file).
    SegmentsOverlap { first: usize, second: usize },
    /// The segment is both writable and executable.
    WritableAndExecutable { index: usize },
    /// The entry point is not inside an executable segment.
    EntryNotExecutable,
    /// The entry point is not a multiple of 4, so no instruction can start there.
    EntryMisaligned,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::TooShort => f.write_str("ELF file is shorter than its header"),
            ElfError::BadMagic => f.write_str("not an ELF file (bad magic number)"),
            ElfError::NotElf64 => f.write_str("ELF file is not 64-bit"),
            ElfError::NotLittleEndian => f.write_str("ELF file is not little-endian"),
            ElfError::BadVersion => f.write_str("ELF file has an unknown version"),
            ElfError::NotExecutable => f.write_str("ELF file is not a static executable (ET_EXEC)"),
            ElfError::WrongMachine(machine) => write!(f, "ELF file is for machine {machine}, not AArch64"),
            ElfError::BadHeaderSize => f.write_str("ELF header or program header size is wrong"),
            ElfError::TooManyProgramHeaders => {
                write!(f, "ELF file has more than {MAX_PROGRAM_HEADERS} program headers")
            }
            ElfError::ProgramHeadersOutOfBounds => f.write_str("ELF program headers lie outside the file"),
            ElfError::Dynamic => f.write_str("ELF file is dynamically linked"),
            ElfError::TooManySegments => write!(f, "ELF file has more than {MAX_SEGMENTS} loadable segments"),
            ElfError::NoLoadableSegment => f.write_str("ELF file has no loadable segment"),
            ElfError::SegmentOutOfFile { index } => write!(f, "ELF segment {index} lies outside the file"),
            ElfError::FileSizeExceedsMemorySize { index } => {
                write!(f, "ELF segment {index} has more file bytes than memory bytes")
            }
            ElfError::SegmentOutsideUserSpace { index } => {
                write!(f, "ELF segment {index} lies outside user space")
            }
            ElfError::SegmentMisaligned { index } => write!(f, "ELF segment {index} is misaligned"),
            ElfError::SegmentsOverlap { first, second } => {
                write!(f, "ELF segments {first} and {second} share a page")
            }
            ElfError::WritableAndExecutable { index } => {
                write!(f, "ELF segment {index} is both writable and executable")
            }
            ElfError::EntryNotExecutable => f.write_str("ELF entry point is not in an executable segment"),
            ElfError::EntryMisaligned => f.write_str("ELF entry point is not 4-byte aligned"),
        }
    }
}

/// The access a segment's pages need, from its `p_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentFlags {
    /// `PF_R`: the pages may be read.
    pub read: bool,
    /// `PF_W`: the pages may be written.
    pub write: bool,
    /// `PF_X`: the pages may be executed.
    pub execute: bool,
}

impl SegmentFlags {
    /// The flags in `p_flags`; bits other than `PF_R`, `PF_W` and `PF_X` (the OS- and
    /// processor-specific masks) mean nothing to Flotilla and are dropped.
    const fn from_p_flags(p_flags: u32) -> SegmentFlags {
        SegmentFlags { read: p_flags & PF_R != 0, write: p_flags & PF_W != 0, execute: p_flags & PF_X != 0 }
    }
}

/// One loadable segment: `mem_bytes` bytes at `vaddr`, of which the first
/// `file_bytes.len()` come from the file and the rest are zero.
///
/// Segments from [`ElfImage::segments`] keep every promise listed in the module
/// documentation; a `Segment` built by hand promises nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Where the segment starts in the program's address space (`p_vaddr`).
    pub vaddr: u64,
    /// How many bytes it occupies in memory (`p_memsz`, never 0).
    pub mem_bytes: u64,
    /// Its initial contents, borrowed from the file (`p_filesz` bytes at `p_offset`).
    pub file_bytes: &'a [u8],
    /// The access its pages need.
    pub flags: SegmentFlags,
}

impl Segment<'_> {
    /// The pages the segment touches: its start rounded down and its end rounded up to
    /// page boundaries, as `(start, end)` with `end` exclusive.
    ///
    /// For segments from a parsed image this is exact and lies within user space. For a
    /// hand-made segment whose end would pass the top of the address space, `end` stops at
    /// the last page boundary rather than wrapping.
    pub fn page_range(&self) -> (u64, u64) {
        let start = self.vaddr - self.vaddr % PAGE_SIZE;
        let end = self.vaddr.saturating_add(self.mem_bytes).checked_next_multiple_of(PAGE_SIZE);
        (start, end.unwrap_or(LAST_PAGE_BOUNDARY))
    }

    /// True if `address` lies in `[vaddr, vaddr + mem_bytes)`, worked out without
    /// computing an end that could overflow.
    fn contains(&self, address: u64) -> bool {
        address.checked_sub(self.vaddr).is_some_and(|offset| offset < self.mem_bytes)
    }
}

/// A segment's contents are printed as their length only: a full dump of a program's text
/// would drown whatever log the segment is printed to.
impl fmt::Debug for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("vaddr", &format_args!("{:#x}", self.vaddr))
            .field("mem_bytes", &format_args!("{:#x}", self.mem_bytes))
            .field("file_bytes", &format_args!("[{:#x} bytes]", self.file_bytes.len()))
            .field("flags", &self.flags)
            .finish()
    }
}

/// A fully checked static AArch64 executable: its entry point and its loadable segments.
#[derive(Clone, Copy)]
pub struct ElfImage<'a> {
    entry: u64,
    /// The non-empty `PT_LOAD` segments in file order; only the first `count` are real.
    segments: [Segment<'a>; MAX_SEGMENTS],
    count: usize,
}

/// Fills the unused tail of an image's segment array.
const NO_SEGMENT: Segment<'static> = Segment {
    vaddr: 0,
    mem_bytes: 0,
    file_bytes: &[],
    flags: SegmentFlags { read: false, write: false, execute: false },
};

impl<'a> ElfImage<'a> {
    /// Checks `bytes` against every rule in the module documentation and, if all hold,
    /// returns the image, borrowing segment contents from `bytes`.
    ///
    /// Per-segment problems are reported for the first offending program header in file
    /// order, and an overlap as soon as the later of the two segments is met.
    pub fn parse(bytes: &'a [u8]) -> Result<ElfImage<'a>, ElfError> {
        let header = FileHeader::decode(bytes).ok_or(ElfError::TooShort)?;
        header.check()?;
        let table = header.program_header_table(bytes)?;

        // Each kept segment remembers its program header index, for overlap errors.
        let mut kept = [(0, NO_SEGMENT); MAX_SEGMENTS];
        let mut count = 0;
        for (index, record) in table.chunks_exact(PROGRAM_HEADER_BYTES).enumerate() {
            let program_header = ProgramHeader::decode(record).ok_or(ElfError::ProgramHeadersOutOfBounds)?;
            let segment = match program_header.p_type {
                PT_DYNAMIC | PT_INTERP => return Err(ElfError::Dynamic),
                PT_LOAD => program_header.segment(bytes, index)?,
                _ => None,
            };
            let Some(segment) = segment else { continue };
            let (start, end) = segment.page_range();
            for (earlier_index, earlier) in kept.iter().take(count) {
                let (earlier_start, earlier_end) = earlier.page_range();
                if start < earlier_end && earlier_start < end {
                    return Err(ElfError::SegmentsOverlap { first: *earlier_index, second: index });
                }
            }
            *kept.get_mut(count).ok_or(ElfError::TooManySegments)? = (index, segment);
            count += 1;
        }
        if count == 0 {
            return Err(ElfError::NoLoadableSegment);
        }

        let image = ElfImage { entry: header.entry, segments: kept.map(|(_, segment)| segment), count };
        if !image.segments().any(|segment| segment.flags.execute && segment.contains(image.entry)) {
            return Err(ElfError::EntryNotExecutable);
        }
        if !image.entry.is_multiple_of(INSTRUCTION_BYTES) {
            return Err(ElfError::EntryMisaligned);
        }
        Ok(image)
    }

    /// The address of the first instruction (`e_entry`): 4-byte aligned, inside an
    /// executable segment.
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// The non-empty loadable segments, in program header order. Empty `PT_LOAD` entries
    /// (`p_memsz` of 0) are left out.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'a>> + '_ {
        self.loaded().iter().copied()
    }

    /// How many segments [`ElfImage::segments`] yields: 1 to [`MAX_SEGMENTS`].
    pub fn segment_count(&self) -> usize {
        self.count
    }

    /// The real segments, without the unused tail of the array (`count` never exceeds
    /// [`MAX_SEGMENTS`], so the slice is always there).
    fn loaded(&self) -> &[Segment<'a>] {
        self.segments.get(..self.count).unwrap_or_default()
    }
}

/// Only the real segments are printed, not the unused tail of the array.
impl fmt::Debug for ElfImage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElfImage")
            .field("entry", &format_args!("{:#x}", self.entry))
            .field("segments", &self.loaded())
            .finish()
    }
}

/// The `length` bytes at file offset `offset`, if they all lie inside `bytes`. The offset
/// comes from the file as a `u64`, which may not even fit a `usize` on the reading side.
fn slice_at(bytes: &[u8], offset: u64, length: usize) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    bytes.get(start..start.checked_add(length)?)
}

/// The `N` bytes at `at` in `bytes`, if they are all there.
fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The little-endian `u16` at `at`.
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    array_at(bytes, at).map(u16::from_le_bytes)
}

/// The little-endian `u32` at `at`.
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    array_at(bytes, at).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `at`.
fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    array_at(bytes, at).map(u64::from_le_bytes)
}

/// The fields of `Elf64_Ehdr` this reader uses; the section header fields and `e_flags`
/// (which defines nothing for AArch64) are skipped.
struct FileHeader {
    magic: [u8; 4],
    class: u8,
    data: u8,
    ident_version: u8,
    e_type: u16,
    machine: u16,
    version: u32,
    entry: u64,
    phoff: u64,
    ehsize: u16,
    phentsize: u16,
    phnum: u16,
}

impl FileHeader {
    /// Reads the header at the start of `bytes`; `None` if `bytes` is too short to hold one.
    fn decode(bytes: &[u8]) -> Option<FileHeader> {
        // The fields used end before the section header fields, so insist on the whole
        // header explicitly: a file cut inside it is too short, whatever it holds.
        let header = bytes.get(..FILE_HEADER_BYTES)?;
        Some(FileHeader {
            magic: array_at(header, 0)?,
            class: *header.get(EI_CLASS)?,
            data: *header.get(EI_DATA)?,
            ident_version: *header.get(EI_VERSION)?,
            e_type: u16_at(header, 16)?,
            machine: u16_at(header, 18)?,
            version: u32_at(header, 20)?,
            entry: u64_at(header, 24)?,
            phoff: u64_at(header, 32)?,
            ehsize: u16_at(header, 52)?,
            phentsize: u16_at(header, 54)?,
            phnum: u16_at(header, 56)?,
        })
    }

    /// Checks the identification, type, machine, version and header sizes.
    fn check(&self) -> Result<(), ElfError> {
        if self.magic != ELF_MAGIC {
            return Err(ElfError::BadMagic);
        }
        if self.class != ELFCLASS64 {
            return Err(ElfError::NotElf64);
        }
        if self.data != ELFDATA2LSB {
            return Err(ElfError::NotLittleEndian);
        }
        if u32::from(self.ident_version) != EV_CURRENT || self.version != EV_CURRENT {
            return Err(ElfError::BadVersion);
        }
        if self.e_type != ET_EXEC {
            return Err(ElfError::NotExecutable);
        }
        if self.machine != EM_AARCH64 {
            return Err(ElfError::WrongMachine(self.machine));
        }
        let sizes_valid = usize::from(self.ehsize) >= FILE_HEADER_BYTES
            && usize::from(self.phentsize) == PROGRAM_HEADER_BYTES;
        if !sizes_valid {
            return Err(ElfError::BadHeaderSize);
        }
        Ok(())
    }

    /// The program header table, `phnum` entries of `PROGRAM_HEADER_BYTES` at `phoff`.
    fn program_header_table<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], ElfError> {
        let count = usize::from(self.phnum);
        if count > MAX_PROGRAM_HEADERS {
            return Err(ElfError::TooManyProgramHeaders);
        }
        count
            .checked_mul(PROGRAM_HEADER_BYTES)
            .and_then(|length| slice_at(bytes, self.phoff, length))
            .ok_or(ElfError::ProgramHeadersOutOfBounds)
    }
}

/// The fields of `Elf64_Phdr` this reader uses; `p_paddr` means nothing in user space.
struct ProgramHeader {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    file_bytes: u64,
    mem_bytes: u64,
    align: u64,
}

impl ProgramHeader {
    /// Reads one program header from its `PROGRAM_HEADER_BYTES`-byte record.
    fn decode(record: &[u8]) -> Option<ProgramHeader> {
        Some(ProgramHeader {
            p_type: u32_at(record, 0)?,
            flags: u32_at(record, 4)?,
            offset: u64_at(record, 8)?,
            vaddr: u64_at(record, 16)?,
            file_bytes: u64_at(record, 32)?,
            mem_bytes: u64_at(record, 40)?,
            align: u64_at(record, 48)?,
        })
    }

    /// Checks this `PT_LOAD` entry, the `index`th program header of `bytes`, and returns
    /// its segment; `None` for an empty one, which occupies no memory and so is skipped.
    fn segment<'a>(&self, bytes: &'a [u8], index: usize) -> Result<Option<Segment<'a>>, ElfError> {
        if self.file_bytes > self.mem_bytes {
            return Err(ElfError::FileSizeExceedsMemorySize { index });
        }
        if self.mem_bytes == 0 {
            return Ok(None);
        }
        let file_bytes = usize::try_from(self.file_bytes)
            .ok()
            .and_then(|length| slice_at(bytes, self.offset, length))
            .ok_or(ElfError::SegmentOutOfFile { index })?;
        let in_user_space = self
            .vaddr
            .checked_add(self.mem_bytes)
            .is_some_and(|end| self.vaddr >= USER_VA_START && end <= USER_VA_END);
        if !in_user_space {
            return Err(ElfError::SegmentOutsideUserSpace { index });
        }
        // gABI: p_align of 0 or 1 means "no alignment"; anything else is a power of two.
        let align_valid = self.align == 0 || self.align.is_power_of_two();
        if self.vaddr % PAGE_SIZE != self.offset % PAGE_SIZE || !align_valid {
            return Err(ElfError::SegmentMisaligned { index });
        }
        let flags = SegmentFlags::from_p_flags(self.flags);
        if flags.write && flags.execute {
            return Err(ElfError::WritableAndExecutable { index });
        }
        Ok(Some(Segment { vaddr: self.vaddr, mem_bytes: self.mem_bytes, file_bytes, flags }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `p_type` the GNU toolchain uses to say the stack need not be executable.
    const PT_GNU_STACK: u32 = 0x6474_e551;
    /// `p_type` of auxiliary notes.
    const PT_NOTE: u32 = 4;
    /// `e_machine` for x86-64.
    const EM_X86_64: u16 = 62;
    /// `e_type` of a shared object or position-independent executable.
    const ET_DYN: u16 = 3;

    const TEXT_VADDR: u64 = 0x40_0000;
    const TEXT_FILE_BYTES: u64 = 0x1100;
    const DATA_OFFSET: u64 = 0x2010;
    const DATA_VADDR: u64 = 0x41_2010;
    const DATA_FILE_BYTES: u64 = 0x100;
    const DATA_MEM_BYTES: u64 = 0x3000;
    const ENTRY: u64 = TEXT_VADDR + 0x100;
    /// The data segment's file bytes run to the very end, so every truncation cuts into it.
    const FILE_BYTES: usize = (DATA_OFFSET + DATA_FILE_BYTES) as usize;

    /// One program header, as the builder writes it.
    #[derive(Clone, Copy)]
    struct Header {
        p_type: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        file_bytes: u64,
        mem_bytes: u64,
        align: u64,
    }

    /// A loadable segment whose file offset matches its address modulo the page size.
    fn load(flags: u32, vaddr: u64, offset: u64, file_bytes: u64, mem_bytes: u64) -> Header {
        Header { p_type: PT_LOAD, flags, offset, vaddr, file_bytes, mem_bytes, align: PAGE_SIZE }
    }

    /// A non-loadable program header with the given type and nothing else.
    fn other(p_type: u32) -> Header {
        Header { p_type, flags: PF_R | PF_W, offset: 0, vaddr: 0, file_bytes: 0, mem_bytes: 0, align: 16 }
    }

    /// An ELF file described field by field. The program headers are always written at
    /// byte 64, whatever `phoff` says, so a test can corrupt the header's view of them.
    struct TestElf {
        ident: [u8; 16],
        e_type: u16,
        machine: u16,
        version: u32,
        entry: u64,
        phoff: u64,
        ehsize: u16,
        phentsize: u16,
        /// `e_phnum`; `None` writes the number of `headers`.
        phnum: Option<u16>,
        headers: Vec<Header>,
        length: usize,
    }

    impl TestElf {
        /// A valid executable: RX text (holding the headers) at 0x40_0000, RW data with
        /// bss at 0x41_2010, and a `PT_GNU_STACK` entry to be ignored.
        fn valid() -> TestElf {
            let mut ident = [0; 16];
            ident[..4].copy_from_slice(&ELF_MAGIC);
            ident[EI_CLASS] = ELFCLASS64;
            ident[EI_DATA] = ELFDATA2LSB;
            ident[EI_VERSION] = 1;
            TestElf {
                ident,
                e_type: ET_EXEC,
                machine: EM_AARCH64,
                version: EV_CURRENT,
                entry: ENTRY,
                phoff: FILE_HEADER_BYTES as u64,
                ehsize: FILE_HEADER_BYTES as u16,
                phentsize: PROGRAM_HEADER_BYTES as u16,
                phnum: None,
                headers: vec![
                    load(PF_R | PF_X, TEXT_VADDR, 0, TEXT_FILE_BYTES, TEXT_FILE_BYTES),
                    load(PF_R | PF_W, DATA_VADDR, DATA_OFFSET, DATA_FILE_BYTES, DATA_MEM_BYTES),
                    other(PT_GNU_STACK),
                ],
                length: FILE_BYTES,
            }
        }

        /// The file: headers written little-endian, every other byte a position-dependent
        /// pattern so that borrowed contents can be told apart.
        fn bytes(&self) -> Vec<u8> {
            let mut bytes: Vec<u8> = (0..self.length).map(|i| (i % 251) as u8).collect();
            let phnum = self.phnum.unwrap_or(self.headers.len() as u16);
            let mut header = Vec::new();
            header.extend_from_slice(&self.ident);
            header.extend_from_slice(&self.e_type.to_le_bytes());
            header.extend_from_slice(&self.machine.to_le_bytes());
            header.extend_from_slice(&self.version.to_le_bytes());
            header.extend_from_slice(&self.entry.to_le_bytes());
            header.extend_from_slice(&self.phoff.to_le_bytes());
            header.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no section headers
            header.extend_from_slice(&0u32.to_le_bytes()); // e_flags
            header.extend_from_slice(&self.ehsize.to_le_bytes());
            header.extend_from_slice(&self.phentsize.to_le_bytes());
            header.extend_from_slice(&phnum.to_le_bytes());
            header.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
            assert_eq!(header.len(), FILE_HEADER_BYTES);
            for h in &self.headers {
                header.extend_from_slice(&h.p_type.to_le_bytes());
                header.extend_from_slice(&h.flags.to_le_bytes());
                header.extend_from_slice(&h.offset.to_le_bytes());
                header.extend_from_slice(&h.vaddr.to_le_bytes());
                header.extend_from_slice(&h.vaddr.to_le_bytes()); // p_paddr
                header.extend_from_slice(&h.file_bytes.to_le_bytes());
                header.extend_from_slice(&h.mem_bytes.to_le_bytes());
                header.extend_from_slice(&h.align.to_le_bytes());
            }
            bytes[..header.len()].copy_from_slice(&header);
            bytes
        }

        fn parse_with<R>(&self, check: impl FnOnce(Result<ElfImage<'_>, ElfError>) -> R) -> R {
            check(ElfImage::parse(&self.bytes()))
        }

        fn error(&self) -> ElfError {
            self.parse_with(|result| result.expect_err("the corrupted image parsed"))
        }
    }

    /// Builds the valid image, lets `corrupt` change it, and returns what `parse` says.
    fn error_after(corrupt: impl FnOnce(&mut TestElf)) -> ElfError {
        let mut elf = TestElf::valid();
        corrupt(&mut elf);
        elf.error()
    }

    #[test]
    fn a_text_and_data_image_yields_its_entry_and_segments() {
        let bytes = TestElf::valid().bytes();
        let image = ElfImage::parse(&bytes).unwrap();
        assert_eq!(image.entry(), ENTRY);
        assert_eq!(image.segment_count(), 2);
        let segments: Vec<Segment> = image.segments().collect();
        assert_eq!(
            segments[0],
            Segment {
                vaddr: TEXT_VADDR,
                mem_bytes: TEXT_FILE_BYTES,
                file_bytes: &bytes[..TEXT_FILE_BYTES as usize],
                flags: SegmentFlags { read: true, write: false, execute: true },
            }
        );
        assert_eq!(
            segments[1],
            Segment {
                vaddr: DATA_VADDR,
                mem_bytes: DATA_MEM_BYTES,
                file_bytes: &bytes[DATA_OFFSET as usize..],
                flags: SegmentFlags { read: true, write: true, execute: false },
            }
        );
        assert_eq!(segments[0].page_range(), (0x40_0000, 0x40_2000));
        assert_eq!(segments[1].page_range(), (0x41_2000, 0x41_6000));
    }

    #[test]
    fn debug_output_shows_segment_lengths_not_contents() {
        let bytes = TestElf::valid().bytes();
        let text = format!("{:?}", ElfImage::parse(&bytes).unwrap());
        assert!(text.contains("entry: 0x400100"), "{text}");
        assert!(text.contains("file_bytes: [0x1100 bytes]"), "{text}");
        assert_eq!(text.matches("Segment {").count(), 2, "{text}");
    }

    #[test]
    fn page_range_of_a_hand_made_segment_at_the_top_of_memory_does_not_wrap() {
        let segment =
            Segment { vaddr: u64::MAX - 10, mem_bytes: 100, file_bytes: &[], flags: NO_SEGMENT.flags };
        assert_eq!(segment.page_range(), (LAST_PAGE_BOUNDARY, LAST_PAGE_BOUNDARY));
    }

    #[test]
    fn non_load_headers_are_ignored_even_when_their_fields_are_nonsense() {
        let mut elf = TestElf::valid();
        elf.headers.push(Header { offset: u64::MAX, vaddr: 0, file_bytes: u64::MAX, ..other(PT_NOTE) });
        elf.headers.push(Header { flags: PF_R | PF_W | PF_X, align: 3, ..other(0x7000_0000) });
        elf.parse_with(|result| assert_eq!(result.unwrap().segment_count(), 2));
    }

    #[test]
    fn empty_load_segments_are_skipped_wherever_they_claim_to_be() {
        let mut elf = TestElf::valid();
        elf.headers.insert(1, load(PF_R | PF_W | PF_X, 0, u64::MAX, 0, 0));
        elf.parse_with(|result| {
            let image = result.unwrap();
            assert_eq!(image.segment_count(), 2);
            assert!(image.segments().all(|segment| segment.mem_bytes > 0));
        });
    }

    #[test]
    fn alignments_of_zero_one_and_large_powers_of_two_are_accepted() {
        for align in [0, 1, 0x1_0000, 1 << 63] {
            let mut elf = TestElf::valid();
            elf.headers[1].align = align;
            elf.parse_with(|result| assert!(result.is_ok(), "p_align {align:#x}"));
        }
    }

    #[test]
    fn segments_may_end_exactly_at_the_end_of_user_space() {
        let mut elf = TestElf::valid();
        elf.headers[1].vaddr = USER_VA_END - DATA_MEM_BYTES;
        elf.headers[1].offset = 0x2000;
        elf.parse_with(|result| {
            let image = result.unwrap();
            assert_eq!(image.segments().last().unwrap().page_range().1, USER_VA_END);
        });
    }

    #[test]
    fn sixteen_segments_and_sixty_four_program_headers_are_accepted() {
        let mut elf = TestElf::valid();
        for page in 0..(MAX_SEGMENTS as u64 - 2) {
            elf.headers.push(load(PF_R, 0x50_0000 + page * PAGE_SIZE, 0x2000, 0x10, 0x10));
        }
        while elf.headers.len() < MAX_PROGRAM_HEADERS {
            elf.headers.push(other(PT_NOTE));
        }
        elf.parse_with(|result| assert_eq!(result.unwrap().segment_count(), MAX_SEGMENTS));
    }

    #[test]
    fn files_shorter_than_the_elf_header_are_too_short() {
        let bytes = TestElf::valid().bytes();
        assert_eq!(ElfImage::parse(&[]).unwrap_err(), ElfError::TooShort);
        assert_eq!(ElfImage::parse(&bytes[..FILE_HEADER_BYTES - 1]).unwrap_err(), ElfError::TooShort);
    }

    #[test]
    fn a_wrong_magic_number_is_refused() {
        assert_eq!(error_after(|elf| elf.ident[1] = b'e'), ElfError::BadMagic);
    }

    #[test]
    fn a_32_bit_file_is_refused() {
        assert_eq!(error_after(|elf| elf.ident[EI_CLASS] = 1), ElfError::NotElf64);
    }

    #[test]
    fn a_big_endian_file_is_refused() {
        assert_eq!(error_after(|elf| elf.ident[EI_DATA] = 2), ElfError::NotLittleEndian);
    }

    #[test]
    fn an_unknown_version_in_either_place_is_refused() {
        assert_eq!(error_after(|elf| elf.ident[EI_VERSION] = 0), ElfError::BadVersion);
        assert_eq!(error_after(|elf| elf.version = 2), ElfError::BadVersion);
    }

    #[test]
    fn a_position_independent_executable_is_not_an_executable() {
        assert_eq!(error_after(|elf| elf.e_type = ET_DYN), ElfError::NotExecutable);
    }

    #[test]
    fn a_file_for_another_machine_names_that_machine() {
        assert_eq!(error_after(|elf| elf.machine = EM_X86_64), ElfError::WrongMachine(EM_X86_64));
    }

    #[test]
    fn a_short_elf_header_or_odd_program_header_size_is_refused() {
        assert_eq!(error_after(|elf| elf.ehsize = 52), ElfError::BadHeaderSize);
        assert_eq!(error_after(|elf| elf.phentsize = 64), ElfError::BadHeaderSize);
        assert_eq!(error_after(|elf| elf.phentsize = 0), ElfError::BadHeaderSize);
    }

    #[test]
    fn more_than_sixty_four_program_headers_are_refused() {
        assert_eq!(error_after(|elf| elf.phnum = Some(65)), ElfError::TooManyProgramHeaders);
        assert_eq!(error_after(|elf| elf.phnum = Some(u16::MAX)), ElfError::TooManyProgramHeaders);
    }

    #[test]
    fn a_program_header_table_past_the_end_of_the_file_is_refused() {
        let end_of_file = FILE_BYTES as u64;
        assert_eq!(error_after(|elf| elf.phoff = end_of_file - 100), ElfError::ProgramHeadersOutOfBounds);
        assert_eq!(error_after(|elf| elf.phoff = u64::MAX - 8), ElfError::ProgramHeadersOutOfBounds);
    }

    #[test]
    fn an_interpreter_or_dynamic_section_means_dynamic_linking() {
        assert_eq!(error_after(|elf| elf.headers[2].p_type = PT_INTERP), ElfError::Dynamic);
        assert_eq!(error_after(|elf| elf.headers[2].p_type = PT_DYNAMIC), ElfError::Dynamic);
    }

    #[test]
    fn more_than_sixteen_loadable_segments_are_refused() {
        let error = error_after(|elf| {
            for page in 0..(MAX_SEGMENTS as u64 - 1) {
                elf.headers.push(load(PF_R, 0x50_0000 + page * PAGE_SIZE, 0x2000, 0x10, 0x10));
            }
        });
        assert_eq!(error, ElfError::TooManySegments);
    }

    #[test]
    fn a_file_without_non_empty_loads_has_no_loadable_segment() {
        let error = error_after(|elf| {
            elf.headers[0].p_type = PT_NOTE;
            elf.headers[1].p_type = PT_NOTE;
        });
        assert_eq!(error, ElfError::NoLoadableSegment);
        let error = error_after(|elf| {
            for header in &mut elf.headers {
                header.file_bytes = 0;
                header.mem_bytes = 0;
            }
        });
        assert_eq!(error, ElfError::NoLoadableSegment);
    }

    #[test]
    fn segment_file_bytes_past_the_end_of_the_file_are_refused() {
        let out_of_file = ElfError::SegmentOutOfFile { index: 1 };
        assert_eq!(error_after(|elf| elf.length -= 1), out_of_file);
        assert_eq!(error_after(|elf| elf.headers[1].offset += PAGE_SIZE), out_of_file);
        assert_eq!(error_after(|elf| elf.headers[1].offset = u64::MAX - 0x10), out_of_file);
    }

    #[test]
    fn more_file_bytes_than_memory_bytes_are_refused() {
        let error = error_after(|elf| elf.headers[1].mem_bytes = DATA_FILE_BYTES - 1);
        assert_eq!(error, ElfError::FileSizeExceedsMemorySize { index: 1 });
    }

    #[test]
    fn segments_in_page_zero_kernel_space_or_wrapping_around_are_refused() {
        let outside = ElfError::SegmentOutsideUserSpace { index: 1 };
        assert_eq!(error_after(|elf| elf.headers[1].vaddr = 0x10), outside);
        assert_eq!(error_after(|elf| elf.headers[1].vaddr = USER_VA_END - 0xff0), outside);
        assert_eq!(error_after(|elf| elf.headers[1].vaddr = 0xffff_0000_0000_0010), outside);
        assert_eq!(error_after(|elf| elf.headers[1].vaddr = u64::MAX - 0xfef), outside);
    }

    #[test]
    fn an_address_out_of_step_with_its_offset_or_a_bad_alignment_is_misaligned() {
        let misaligned = ElfError::SegmentMisaligned { index: 1 };
        assert_eq!(error_after(|elf| elf.headers[1].vaddr += 8), misaligned);
        assert_eq!(error_after(|elf| elf.headers[1].align = 3), misaligned);
        assert_eq!(error_after(|elf| elf.headers[1].align = 0x1800), misaligned);
    }

    #[test]
    fn segments_sharing_a_page_overlap() {
        // The text ends at 0x40_1100, so data starting later in that page still shares it.
        let error = error_after(|elf| elf.headers[1].vaddr = TEXT_VADDR + 0x1010);
        assert_eq!(error, ElfError::SegmentsOverlap { first: 0, second: 1 });
    }

    #[test]
    fn a_writable_executable_segment_is_refused() {
        let error = error_after(|elf| elf.headers[1].flags = PF_R | PF_W | PF_X);
        assert_eq!(error, ElfError::WritableAndExecutable { index: 1 });
    }

    #[test]
    fn an_entry_outside_every_executable_segment_is_refused() {
        for entry in [0, DATA_VADDR, TEXT_VADDR - 4, TEXT_VADDR + TEXT_FILE_BYTES] {
            assert_eq!(
                error_after(|elf| elf.entry = entry),
                ElfError::EntryNotExecutable,
                "entry {entry:#x}"
            );
        }
    }

    #[test]
    fn an_entry_between_instructions_is_refused() {
        assert_eq!(error_after(|elf| elf.entry = ENTRY + 2), ElfError::EntryMisaligned);
    }

    #[test]
    fn every_error_displays_as_one_line_mentioning_elf() {
        let errors = [
            ElfError::TooShort,
            ElfError::BadMagic,
            ElfError::NotElf64,
            ElfError::NotLittleEndian,
            ElfError::BadVersion,
            ElfError::NotExecutable,
            ElfError::WrongMachine(EM_X86_64),
            ElfError::BadHeaderSize,
            ElfError::TooManyProgramHeaders,
            ElfError::ProgramHeadersOutOfBounds,
            ElfError::Dynamic,
            ElfError::TooManySegments,
            ElfError::NoLoadableSegment,
            ElfError::SegmentOutOfFile { index: 2 },
            ElfError::FileSizeExceedsMemorySize { index: 2 },
            ElfError::SegmentOutsideUserSpace { index: 2 },
            ElfError::SegmentMisaligned { index: 2 },
            ElfError::SegmentsOverlap { first: 1, second: 2 },
            ElfError::WritableAndExecutable { index: 2 },
            ElfError::EntryNotExecutable,
            ElfError::EntryMisaligned,
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.contains("ELF") && !text.contains('\n'), "{text}");
        }
        assert_eq!(
            ElfError::SegmentOutsideUserSpace { index: 2 }.to_string(),
            "ELF segment 2 lies outside user space"
        );
    }

    #[test]
    fn every_truncation_of_a_valid_image_is_an_error() {
        let bytes = TestElf::valid().bytes();
        for length in 0..bytes.len() {
            assert!(ElfImage::parse(&bytes[..length]).is_err(), "truncated to {length} bytes");
        }
    }

    /// Checks every promise the module documentation makes about a parsed image of `bytes`.
    fn assert_invariants(bytes: &[u8], image: &ElfImage) {
        let file = bytes.as_ptr_range();
        let segments: Vec<Segment> = image.segments().collect();
        assert_eq!(segments.len(), image.segment_count());
        assert!((1..=MAX_SEGMENTS).contains(&segments.len()));
        for segment in &segments {
            let contents = segment.file_bytes.as_ptr_range();
            assert!(file.start <= contents.start && contents.end <= file.end, "{segment:?} not in the file");
            let offset = contents.start as u64 - file.start as u64;
            assert_eq!(segment.vaddr % PAGE_SIZE, offset % PAGE_SIZE, "{segment:?}");
            assert!(segment.mem_bytes > 0 && segment.file_bytes.len() as u64 <= segment.mem_bytes);
            let end = segment.vaddr.checked_add(segment.mem_bytes).expect("segment wraps");
            assert!(segment.vaddr >= USER_VA_START && end <= USER_VA_END, "{segment:?}");
            let (start, page_end) = segment.page_range();
            assert!(start >= USER_VA_START && page_end <= USER_VA_END && start < page_end);
            assert!(!(segment.flags.write && segment.flags.execute), "{segment:?}");
        }
        for (i, a) in segments.iter().enumerate() {
            for b in &segments[i + 1..] {
                let ((a_start, a_end), (b_start, b_end)) = (a.page_range(), b.page_range());
                assert!(a_end <= b_start || b_end <= a_start, "{a:?} and {b:?} share a page");
            }
        }
        let entry = image.entry();
        assert_eq!(entry % INSTRUCTION_BYTES, 0);
        let executes_entry =
            |s: &&Segment| s.flags.execute && s.vaddr <= entry && entry - s.vaddr < s.mem_bytes;
        assert!(segments.iter().any(|s| executes_entry(&s)), "entry {entry:#x} not executable");
    }

    /// Values that hit sizes, offsets, addresses and counts more often than random words do.
    fn suspicious_word() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            0..0x3000u64,
            (0..64u32).prop_map(|shift| 1u64 << shift),
            (0..0x3000u64).prop_map(|below| USER_VA_END - below),
            TEXT_VADDR..DATA_VADDR + DATA_MEM_BYTES,
            any::<u64>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn corrupted_headers_never_panic_and_anything_accepted_keeps_every_promise(
            bytes in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            halves in proptest::collection::vec((any::<usize>(), 0..80u16), 0..3),
            words in proptest::collection::vec((any::<usize>(), suspicious_word()), 0..4),
            cut in any::<usize>(),
        ) {
            let mut elf = TestElf::valid().bytes();
            let headers_end = FILE_HEADER_BYTES + 3 * PROGRAM_HEADER_BYTES;
            for (position, value) in bytes {
                elf[position % headers_end] = value;
            }
            for (position, value) in halves {
                let at = position % (headers_end / 2) * 2;
                elf[at..at + 2].copy_from_slice(&value.to_le_bytes());
            }
            for (position, value) in words {
                let at = position % (headers_end / 8) * 8;
                elf[at..at + 8].copy_from_slice(&value.to_le_bytes());
            }
            // Cut in one case out of four; otherwise keep the whole file.
            if cut % 4 == 0 {
                elf.truncate(cut / 4 % (elf.len() + 1));
            }
            if let Ok(image) = ElfImage::parse(&elf) {
                assert_invariants(&elf, &image);
            }
        }
    }
}
