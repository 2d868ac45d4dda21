//! Loading ELF files: a file the checker refuses is refused with its reason, and nothing
//! is made, kept or mapped for it.
//!
//! Each test copies `hello`'s ELF file from the boot module archive onto the heap, breaks
//! one rule of the checker (`abi::elf`, shared by the kernel and libos) in the copy, and
//! hands it to `libos::spawn::spawn_elf`. It expects that rule's `ElfError`, and libos's
//! free RAM and slots to be the same after the call as before. The intact copy, spawned
//! the same way, runs and exits with status 0 — so each refusal is the broken rule's
//! doing, not the copy's.
//!
//! Field offsets are those of the System V gABI's `Elf64_Ehdr` and `Elf64_Phdr`.

use crate::child::Spawned;
use crate::failure::Failure;
use crate::framework::{expect_eq, expect_ok, failure_at, Env, LibosUsage, Outcome};
use alloc::vec::Vec;
use libos::abi::cap::PAGE_SIZE;
use libos::abi::elf::{ElfError, MAX_PROGRAM_HEADERS, MAX_SEGMENTS, USER_VA_END};
use libos::spawn::{self, Exit, SpawnOptions};
use libos::Error;

/// `Elf64_Ehdr` fields: `e_ident[EI_CLASS]`, `[EI_DATA]`, `[EI_VERSION]`, then `e_type`,
/// `e_machine`, `e_entry`, `e_phoff`, `e_phentsize`, `e_phnum`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_VERSION: usize = 6;
const E_TYPE: usize = 16;
const E_MACHINE: usize = 18;
const E_ENTRY: usize = 24;
const E_PHOFF: usize = 32;
const E_PHENTSIZE: usize = 54;
const E_PHNUM: usize = 56;
/// `Elf64_Phdr` fields, from the start of a program header.
const P_TYPE: usize = 0;
const P_FLAGS: usize = 4;
const P_OFFSET: usize = 8;
const P_VADDR: usize = 16;
const P_PADDR: usize = 24;
const P_FILESZ: usize = 32;
const P_MEMSZ: usize = 40;
const P_ALIGN: usize = 48;
/// The size of a program header.
const PHDR_BYTES: usize = 56;
/// `p_type` values: loadable, interpreter, note.
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
/// `p_flags` bits.
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
/// `e_type` of a shared object, `e_machine` of x86-64.
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;

/// A copy of an ELF file, to break.
struct Elf(Vec<u8>);

impl Elf {
    /// A copy of the `hello` boot module.
    fn hello() -> Result<Elf, Failure> {
        Ok(Elf(expect_ok(spawn::boot_module("hello"))?.to_vec()))
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut field = [0; N];
        if let Some(bytes) = at.checked_add(N).and_then(|end| self.0.get(at..end)) {
            field.copy_from_slice(bytes);
        }
        field
    }

    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes(at))
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.bytes(at))
    }

    fn set(&mut self, at: usize, value: &[u8]) {
        if let Some(field) = at.checked_add(value.len()).and_then(|end| self.0.get_mut(at..end)) {
            field.copy_from_slice(value);
        }
    }

    fn set_u16(&mut self, at: usize, value: u16) {
        self.set(at, &value.to_le_bytes());
    }

    fn set_u32(&mut self, at: usize, value: u32) {
        self.set(at, &value.to_le_bytes());
    }

    fn set_u64(&mut self, at: usize, value: u64) {
        self.set(at, &value.to_le_bytes());
    }

    /// The index and file offset of each loadable segment's program header.
    fn loads(&self) -> Vec<(usize, usize)> {
        let table = self.u64_at(E_PHOFF) as usize;
        (0..usize::from(self.u16_at(E_PHNUM)))
            .map(|index| (index, table + index * PHDR_BYTES))
            .filter(|&(_, at)| u32::from_le_bytes(self.bytes(at + P_TYPE)) == PT_LOAD)
            .collect()
    }

    /// The program header index and offset of the loadable segment with `flags`.
    fn load_with_flags(&self, flags: u32) -> Result<(usize, usize), Failure> {
        self.loads()
            .into_iter()
            .find(|&(_, at)| u32::from_le_bytes(self.bytes(at + P_FLAGS)) == flags)
            .ok_or_else(|| failure_at(format_args!("a segment with flags {flags:#x} in hello")))
    }

    /// The text (read and execute) segment's index and program header offset.
    fn text(&self) -> Result<(usize, usize), Failure> {
        self.load_with_flags(PF_R | PF_X)
    }

    /// The read-only data segment's index and program header offset.
    fn rodata(&self) -> Result<(usize, usize), Failure> {
        self.load_with_flags(PF_R)
    }

    /// Writes a loadable segment's program header at `at`.
    fn write_load(&mut self, at: usize, flags: u32, offset: u64, vaddr: u64, memsz: u64) {
        self.set_u32(at + P_TYPE, PT_LOAD);
        self.set_u32(at + P_FLAGS, flags);
        self.set_u64(at + P_OFFSET, offset);
        self.set_u64(at + P_VADDR, vaddr);
        self.set_u64(at + P_PADDR, vaddr);
        self.set_u64(at + P_FILESZ, 0);
        self.set_u64(at + P_MEMSZ, memsz);
        self.set_u64(at + P_ALIGN, PAGE_SIZE);
    }
}

/// Hands `elf` to `spawn_elf`, expecting `expected`, and libos's RAM and slots untouched.
#[track_caller]
fn expect_refused(elf: &Elf, expected: ElfError) -> Outcome {
    let before = LibosUsage::now();
    match spawn::spawn_elf(&elf.0, SpawnOptions::default()) {
        Err(e) => expect_eq(e, Error::BadElf(expected))?,
        Ok(child) => {
            drop(Spawned::adopt(child));
            return Err(failure_at(format_args!("{expected:?}, but the file was loaded")));
        }
    }
    expect_eq(LibosUsage::now(), before)
}

/// Breaks hello's ELF file with `corrupt`, and expects [`expect_refused`].
#[track_caller]
fn expect_hello_refused(corrupt: impl FnOnce(&mut Elf), expected: ElfError) -> Outcome {
    let mut elf = Elf::hello()?;
    corrupt(&mut elf);
    expect_refused(&elf, expected)
}

pub fn an_intact_copy_of_hello_on_the_heap_spawns_and_exits_with_0(_env: &Env) -> Outcome {
    let elf = Elf::hello()?;
    let child = Spawned::adopt(expect_ok(spawn::spawn_elf(&elf.0, SpawnOptions::default()))?);
    // The segments were copied: the file is not needed once the child is made.
    drop(elf);
    expect_eq(expect_ok(child.wait())?, Exit::Exited(0))?;
    expect_ok(child.reclaim())
}

pub fn a_file_without_the_elf_magic_number_is_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.set(0, b"\x7fELV"), ElfError::BadMagic)
}

pub fn a_32_bit_elf_file_is_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.set(EI_CLASS, &[1]), ElfError::NotElf64)
}

pub fn a_big_endian_elf_file_is_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.set(EI_DATA, &[2]), ElfError::NotLittleEndian)
}

pub fn an_elf_file_of_an_unknown_version_is_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.set(EI_VERSION, &[2]), ElfError::BadVersion)
}

pub fn a_shared_object_is_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.set_u16(E_TYPE, ET_DYN), ElfError::NotExecutable)
}

pub fn an_executable_for_another_machine_is_refused(_env: &Env) -> Outcome {
    let corrupt = |elf: &mut Elf| elf.set_u16(E_MACHINE, EM_X86_64);
    expect_hello_refused(corrupt, ElfError::WrongMachine(EM_X86_64))
}

pub fn program_headers_of_the_wrong_size_are_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.set_u16(E_PHENTSIZE, 32), ElfError::BadHeaderSize)
}

pub fn a_file_cut_inside_its_header_is_refused(_env: &Env) -> Outcome {
    expect_hello_refused(|elf| elf.0.truncate(40), ElfError::TooShort)
}

pub fn a_file_cut_inside_a_segment_is_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    let (index, at) = elf.text()?;
    let cut = elf.u64_at(at + P_OFFSET) as usize + 16;
    elf.0.truncate(cut);
    expect_refused(&elf, ElfError::SegmentOutOfFile { index })
}

pub fn program_headers_beyond_the_end_of_the_file_are_refused(_env: &Env) -> Outcome {
    let corrupt = |elf: &mut Elf| elf.set_u64(E_PHOFF, elf.0.len() as u64 - 8);
    expect_hello_refused(corrupt, ElfError::ProgramHeadersOutOfBounds)
}

pub fn more_than_64_program_headers_are_refused(_env: &Env) -> Outcome {
    let corrupt = |elf: &mut Elf| elf.set_u16(E_PHNUM, MAX_PROGRAM_HEADERS as u16 + 1);
    expect_hello_refused(corrupt, ElfError::TooManyProgramHeaders)
}

pub fn a_segment_outside_user_space_is_refused(_env: &Env) -> Outcome {
    let outside = [0, USER_VA_END, USER_VA_END - PAGE_SIZE, 0xffff_0000_0000_0000];
    for vaddr in outside {
        let mut elf = Elf::hello()?;
        let (index, at) = elf.text()?;
        // Page-aligned like the original, so only where it is is wrong.
        elf.set_u64(at + P_VADDR, vaddr);
        elf.set_u64(at + P_MEMSZ, elf.u64_at(at + P_MEMSZ).max(2 * PAGE_SIZE));
        expect_refused(&elf, ElfError::SegmentOutsideUserSpace { index })?;
    }
    Ok(())
}

pub fn overlapping_segments_are_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    let (first, text) = elf.text()?;
    let (second, rodata) = elf.rodata()?;
    // Onto the text's first page, at the offset within a page its file offset has.
    let onto = elf.u64_at(text + P_VADDR) + elf.u64_at(rodata + P_OFFSET) % PAGE_SIZE;
    elf.set_u64(rodata + P_VADDR, onto);
    let (first, second) = if first < second { (first, second) } else { (second, first) };
    expect_refused(&elf, ElfError::SegmentsOverlap { first, second })
}

pub fn a_writable_and_executable_segment_is_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    let (index, at) = elf.text()?;
    elf.set_u32(at + P_FLAGS, PF_R | PF_W | PF_X);
    expect_refused(&elf, ElfError::WritableAndExecutable { index })
}

pub fn an_entry_point_outside_executable_code_is_refused(_env: &Env) -> Outcome {
    let elf = Elf::hello()?;
    let (_, rodata) = elf.rodata()?;
    for entry in [elf.u64_at(rodata + P_VADDR), PAGE_SIZE, USER_VA_END + 0x1000] {
        let mut broken = Elf(elf.0.clone());
        broken.set_u64(E_ENTRY, entry);
        expect_refused(&broken, ElfError::EntryNotExecutable)?;
    }
    Ok(())
}

pub fn a_misaligned_entry_point_is_refused(_env: &Env) -> Outcome {
    let corrupt = |elf: &mut Elf| elf.set_u64(E_ENTRY, elf.u64_at(E_ENTRY) + 2);
    expect_hello_refused(corrupt, ElfError::EntryMisaligned)
}

pub fn more_than_16_loadable_segments_are_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    // A new program header table at the end of the file: one page-sized, read-only,
    // non-overlapping segment more than allowed.
    let table = elf.0.len().next_multiple_of(8);
    let count = MAX_SEGMENTS + 1;
    elf.0.resize(table + count * PHDR_BYTES, 0);
    for i in 0..count {
        elf.write_load(table + i * PHDR_BYTES, PF_R, 0, 0x1000_0000 + i as u64 * PAGE_SIZE, PAGE_SIZE);
    }
    elf.set_u64(E_PHOFF, table as u64);
    elf.set_u16(E_PHNUM, count as u16);
    expect_refused(&elf, ElfError::TooManySegments)
}

pub fn a_file_asking_for_an_interpreter_is_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    let (_, rodata) = elf.rodata()?;
    elf.set_u32(rodata + P_TYPE, PT_INTERP);
    expect_refused(&elf, ElfError::Dynamic)
}

pub fn a_segment_with_more_file_bytes_than_memory_bytes_is_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    let (index, at) = elf.rodata()?;
    elf.set_u64(at + P_FILESZ, elf.u64_at(at + P_MEMSZ) + 1);
    expect_refused(&elf, ElfError::FileSizeExceedsMemorySize { index })
}

pub fn a_segment_whose_address_and_file_offset_disagree_is_refused(_env: &Env) -> Outcome {
    let mut elf = Elf::hello()?;
    let (index, at) = elf.text()?;
    elf.set_u64(at + P_VADDR, elf.u64_at(at + P_VADDR) + 4);
    expect_refused(&elf, ElfError::SegmentMisaligned { index })
}

pub fn a_file_without_a_loadable_segment_is_refused(_env: &Env) -> Outcome {
    let corrupt = |elf: &mut Elf| {
        for (_, at) in elf.loads() {
            elf.set_u32(at + P_TYPE, PT_NOTE);
        }
    };
    expect_hello_refused(corrupt, ElfError::NoLoadableSegment)
}
