//! Building a board's bootable image.
//!
//! Steps: write the board's built-in device tree (used when a loader passes none); build
//! the user programs and pack them into the boot module archive; build the CPU driver for
//! the kernel target with both embedded; then turn the linked ELF file into a flat `Image`:
//! each loadable segment's bytes placed at its load address minus the link base, and the
//! function symbols written into the reserved `.ksyms` section so backtraces name
//! functions. Finally the Image header is checked with the same code the tests use.
//!
//! User programs do not depend on the board, so they are built once into `target/user`
//! for every board; each board's output directory gets its own copy of the archive, next
//! to the device tree the same kernel build embeds.

use crate::{setup, Board, KERNEL_TARGET, TARGETS};
use anyhow::{bail, ensure, Context, Result};
use boot::image::ImageHeader;
use boot::layout::KERNEL_VBASE;
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The user programs built into every image: each is a package of the workspace whose
/// binary has the same name, and becomes the boot module of that name. The archive keeps
/// this order, and a core starts the first module unless `flotilla.first=` names another
/// (`testsuite` is booted that way), so `monitor` stays first.
pub const USER_PROGRAMS: &[&str] =
    &["monitor", "init", "hello", "testsuite", "memdemo", "bench", "shell", "trouble"];

/// User programs' target: the hard-float one, since code at EL0 may use FP/SIMD.
pub const USER_TARGET: &str = TARGETS[1];

/// What a build produced.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// The bootable image (`Image` or `kernel8.img`).
    pub image: PathBuf,
    /// The linked kernel with symbols, for gdb.
    pub elf: PathBuf,
}

/// Where a board's build output goes.
pub fn output_dir(board: Board) -> PathBuf {
    setup::workspace_root().join("target").join("flotilla").join(board.name())
}

/// Builds the image for `board`, printing cargo's progress to stderr.
pub fn build(board: Board) -> Result<BuiltImage> {
    setup::ensure_rust_targets(&crate::TARGETS)?;
    let out = output_dir(board);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let tree = match board {
        Board::Virt => boot::devicetree::boards::virt_fallback(),
        Board::Rpi4 => boot::devicetree::boards::rpi4_fallback(),
    };
    let tree_path = out.join("builtin.dtb");
    write_if_changed(&tree_path, &tree)?;
    let modules_path = out.join("modules.bin");
    write_if_changed(&modules_path, &build_modules()?)?;

    let target_dir = setup::workspace_root().join("target").join("kernel").join(board.name());
    let status = cargo()
        .args(["build", "--release", "--package", "cpu_driver", "--target", KERNEL_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("FLOTILLA_BUILTIN_DTB", &tree_path)
        .env("FLOTILLA_MODULES", &modules_path)
        .status()
        .context("running cargo to build the kernel")?;
    ensure!(status.success(), "building the kernel failed");

    let elf_path = target_dir.join(KERNEL_TARGET).join("release").join("cpu_driver");
    let elf = std::fs::read(&elf_path).with_context(|| format!("reading {}", elf_path.display()))?;
    let image = elf_to_image(&elf)?;
    let image_path = out.join(board.image_name());
    write_if_changed(&image_path, &image)?;
    let elf_copy = out.join("cpu_driver.elf");
    write_if_changed(&elf_copy, &elf)?;
    Ok(BuiltImage { image: image_path, elf: elf_copy })
}

/// Cargo, run in the workspace root: the one that runs this program, if any.
pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(setup::workspace_root());
    command
}

/// Builds every program in [`USER_PROGRAMS`] and returns the boot module archive holding
/// them (format in `abi::modules`).
///
/// Each program is checked with the ELF reader the loader itself uses, so a program the
/// kernel would refuse (a segment both writable and executable, a bad alignment) fails the
/// build instead of the boot. The archive holds each program without its debug info:
/// nothing on the target reads it, and it is most of the file. The full ELF stays in
/// `target/user` for gdb.
fn build_modules() -> Result<Vec<u8>> {
    let target_dir = setup::workspace_root().join("target").join("user");
    let mut command = cargo();
    command.args(["build", "--release", "--target", USER_TARGET]).arg("--target-dir").arg(&target_dir);
    for program in USER_PROGRAMS {
        command.args(["--package", program]);
    }
    let status = command.status().context("running cargo to build the user programs")?;
    ensure!(status.success(), "building the user programs failed");

    let release = target_dir.join(USER_TARGET).join("release");
    let mut programs = Vec::new();
    for name in USER_PROGRAMS {
        let path = release.join(name);
        let elf = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let elf = without_debug_info(&elf).with_context(|| format!("stripping {}", path.display()))?;
        abi::elf::ElfImage::parse(&elf).map_err(|e| {
            anyhow::anyhow!("user program `{name}` ({}) cannot be loaded: {e}", path.display())
        })?;
        programs.push((*name, elf));
    }
    let modules: Vec<(&str, &[u8])> = programs.iter().map(|(name, elf)| (*name, elf.as_slice())).collect();
    abi::modules::pack(&modules).map_err(|e| anyhow::anyhow!("packing the boot modules: {e}"))
}

/// `elf` without its `.debug_*` sections. Loadable segments keep their bytes and file
/// offsets; the symbol table stays, so a fault address can still be named.
fn without_debug_info(elf: &[u8]) -> Result<Vec<u8>> {
    let mut builder = object::build::elf::Builder::read(elf)?;
    for section in builder.sections.iter_mut() {
        if section.name.starts_with(b".debug") {
            section.delete = true;
        }
    }
    let mut stripped = Vec::new();
    builder.write(&mut stripped)?;
    // The rewrite lays the file out anew; what the loader reads must come out unchanged.
    ensure!(
        loadable_segments(elf)? == loadable_segments(&stripped)?,
        "removing the debug info changed a loadable segment"
    );
    Ok(stripped)
}

/// The address and file bytes of each `PT_LOAD` segment of `elf`.
fn loadable_segments(elf: &[u8]) -> Result<Vec<(u64, &[u8])>> {
    let file = object::File::parse(elf)?;
    let segments = file.segments().map(|segment| Ok((segment.address(), segment.data()?)));
    segments.collect()
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Turns the linked kernel into a bootable arm64 `Image` with its symbol table filled in.
pub fn elf_to_image(elf: &[u8]) -> Result<Vec<u8>> {
    let file = object::File::parse(elf).context("the kernel is not a valid ELF file")?;
    let mut image = Vec::new();
    for segment in file.segments() {
        let data = segment.data().context("reading a kernel segment")?;
        if data.is_empty() {
            continue;
        }
        // The load address (LMA) decides where bytes sit in the file: `.data`'s initial
        // values are stored after the read-only data, not at their run-time address.
        let load = segment_load_address(&file, segment.address())?;
        let offset =
            load.checked_sub(KERNEL_VBASE).context("a kernel segment lies below KERNEL_VBASE")? as usize;
        ensure!(offset < 64 << 20, "kernel segment at offset {offset:#x}: image would exceed 64 MiB");
        if image.len() < offset + data.len() {
            image.resize(offset + data.len(), 0);
        }
        image[offset..offset + data.len()].copy_from_slice(data);
    }
    fill_symbol_table(&file, &mut image)?;
    ImageHeader::parse(&image).map_err(|e| anyhow::anyhow!("the built image is not bootable: {e}"))?;
    Ok(image)
}

/// The physical (load) address of the segment at virtual address `vaddr`.
fn segment_load_address(file: &object::File<'_>, vaddr: u64) -> Result<u64> {
    use object::read::elf::{ElfFile64, ProgramHeader};
    let object::File::Elf64(elf) = file else { bail!("the kernel is not a 64-bit ELF file") };
    let elf: &ElfFile64<'_> = elf;
    let endian = elf.endian();
    elf.elf_program_headers()
        .iter()
        .find(|ph| ph.p_vaddr(endian) == vaddr && ph.p_filesz(endian) > 0)
        .map(|ph| ph.p_paddr(endian))
        .context("no program header for a loadable segment")
}

fn symbol_address(file: &object::File<'_>, name: &str) -> Result<u64> {
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address())
        .with_context(|| format!("the kernel has no `{name}` symbol (is boot/link.ld in use?)"))
}

/// Writes every function symbol into `.ksyms` (format in `boot::ksyms`).
fn fill_symbol_table(file: &object::File<'_>, image: &mut [u8]) -> Result<()> {
    let start = symbol_address(file, "__ksyms_start")?;
    let end = symbol_address(file, "__ksyms_end")?;
    let mut symbols = Vec::new();
    for symbol in file.symbols() {
        if symbol.kind() != SymbolKind::Text || symbol.address() < KERNEL_VBASE {
            continue;
        }
        let Ok(name) = symbol.name() else { continue };
        if name.is_empty() || name.starts_with('$') {
            continue;
        }
        let offset = u32::try_from(symbol.address() - KERNEL_VBASE).context("kernel text beyond 4 GiB")?;
        symbols.push((offset, format!("{:#}", rustc_demangle::demangle(name))));
    }
    let table = boot::ksyms::build(&symbols);
    let capacity = (end - start) as usize;
    ensure!(
        table.len() <= capacity,
        "the kernel's symbol table needs {} bytes but .ksyms holds {capacity}: raise KSYMS_SIZE in boot/link.ld",
        table.len()
    );
    let at = (start - KERNEL_VBASE) as usize;
    image
        .get_mut(at..at + table.len())
        .context(".ksyms lies outside the image file")?
        .copy_from_slice(&table);
    Ok(())
}
