//! The boot module archive: the user programs (ELF files) built into the kernel image.
//!
//! The build driver packs every program into one archive that the CPU driver embeds; each
//! core's CPU driver starts its monitor from the archive, and hands the monitor (and, on the
//! boot core, init) frames holding the modules so they can start programs from them.
//!
//! Layout (little-endian): `magic: [u8; 8] = "FLMODS01"`, `count: u32`, `reserved: u32`,
//! then `count` entries of `{ name: [u8; 32] (NUL-padded UTF-8), offset: u64, size: u64 }`,
//! then the modules, each starting at a multiple of 4096 bytes from the archive's start so
//! each can be handed out as whole pages.

/// The archive's first eight bytes.
pub const MAGIC: &[u8; 8] = b"FLMODS01";
/// Longest module name.
pub const NAME_BYTES: usize = 32;
const HEADER_BYTES: usize = 16;
const ENTRY_BYTES: usize = NAME_BYTES + 16;
/// Modules start on page boundaries.
pub const MODULE_ALIGN: usize = 4096;

/// One module in an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module<'a> {
    pub name: &'a str,
    /// Where the module starts in the archive (a multiple of [`MODULE_ALIGN`]).
    pub offset: usize,
    pub bytes: &'a [u8],
}

/// A checked view of an archive.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    bytes: &'a [u8],
    count: usize,
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

impl<'a> Archive<'a> {
    /// `None` unless `bytes` is an archive whose every entry lies inside it.
    pub fn new(bytes: &'a [u8]) -> Option<Archive<'a>> {
        if bytes.get(..8)? != MAGIC {
            return None;
        }
        let count = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
        let archive = Archive { bytes, count };
        // Check every entry up front, so `modules` never meets a bad one.
        (0..count).all(|i| archive.entry(i).is_some()).then_some(archive)
    }

    fn entry(&self, index: usize) -> Option<Module<'a>> {
        let at = HEADER_BYTES.checked_add(index.checked_mul(ENTRY_BYTES)?)?;
        let name = self.bytes.get(at..at + NAME_BYTES)?;
        let name =
            core::str::from_utf8(&name[..name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES)]).ok()?;
        let offset = usize::try_from(le_u64(self.bytes, at + NAME_BYTES)?).ok()?;
        let size = usize::try_from(le_u64(self.bytes, at + NAME_BYTES + 8)?).ok()?;
        if offset % MODULE_ALIGN != 0 {
            return None;
        }
        let bytes = self.bytes.get(offset..offset.checked_add(size)?)?;
        Some(Module { name, offset, bytes })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every module, in archive order.
    pub fn modules(&self) -> impl Iterator<Item = Module<'a>> + '_ {
        (0..self.count).filter_map(|i| self.entry(i))
    }

    /// The module called `name`.
    pub fn find(&self, name: &str) -> Option<Module<'a>> {
        self.modules().find(|m| m.name == name)
    }
}

/// Packs `(name, bytes)` pairs into an archive (host side, for the build driver).
#[cfg(any(test, feature = "std"))]
pub fn pack(modules: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(modules.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let table_end = HEADER_BYTES + modules.len() * ENTRY_BYTES;
    let mut offset = table_end.next_multiple_of(MODULE_ALIGN);
    let mut placed = Vec::new();
    for (name, bytes) in modules {
        if name.len() > NAME_BYTES || name.is_empty() {
            return Err(format!("module name `{name}` must be 1 to {NAME_BYTES} bytes"));
        }
        let mut field = [0u8; NAME_BYTES];
        field[..name.len()].copy_from_slice(name.as_bytes());
        out.extend_from_slice(&field);
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        placed.push(offset);
        offset = (offset + bytes.len()).next_multiple_of(MODULE_ALIGN);
    }
    for ((_, bytes), at) in modules.iter().zip(placed) {
        out.resize(at, 0);
        out.extend_from_slice(bytes);
    }
    out.resize(out.len().next_multiple_of(MODULE_ALIGN), 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_modules_are_found_by_name_on_page_boundaries() {
        let archive = pack(&[("monitor", b"\x7fELF-monitor"), ("hello", b"\x7fELF-hello")]).unwrap();
        let view = Archive::new(&archive).unwrap();
        assert_eq!(view.len(), 2);
        let hello = view.find("hello").unwrap();
        assert_eq!(hello.bytes, b"\x7fELF-hello");
        assert_eq!(hello.offset % MODULE_ALIGN, 0);
        assert!(view.find("nothing").is_none());
    }

    #[test]
    fn truncated_or_foreign_bytes_are_not_an_archive() {
        let archive = pack(&[("hello", &[7u8; 5000])]).unwrap();
        for cut in [0, 8, 20, 4096, 4096 + 4999] {
            assert!(Archive::new(&archive[..cut]).is_none(), "cut at {cut}");
        }
        assert!(Archive::new(&[0u8; 64]).is_none());
    }

    #[test]
    fn overlong_names_are_refused() {
        assert!(pack(&[(&"x".repeat(33), b"")]).is_err());
    }
}
