//! The kernel symbol table that makes backtraces readable.
//!
//! The build driver links the kernel, reads the function symbols from the ELF file, and
//! writes them into the image's reserved `.ksyms` section; the fault path looks program
//! counters up here. Text addresses do not depend on what `.ksyms` holds (it comes after
//! `.text`), so filling it in after linking is safe.
//!
//! Format (little-endian): a header `{ magic: "KSYM", count: u32, names_len: u32 }`, then
//! `count` entries `{ offset: u32, name_start: u32, name_len: u32 }` sorted by `offset`
//! (the symbol's address minus the image's link address), then `names_len` bytes of UTF-8
//! names. The reader checks every bound, so a corrupt table gives no name rather than a
//! wild read.

const MAGIC: &[u8; 4] = b"KSYM";
const HEADER_LEN: usize = 12;
const ENTRY_LEN: usize = 12;

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// A read-only view of a symbol table.
#[derive(Clone, Copy)]
pub struct SymbolTable<'a> {
    entries: &'a [u8],
    names: &'a [u8],
    count: usize,
}

impl<'a> SymbolTable<'a> {
    /// `None` if `bytes` does not start with a well-formed table.
    pub fn new(bytes: &'a [u8]) -> Option<SymbolTable<'a>> {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let count = u32_at(bytes, 4)? as usize;
        let names_len = u32_at(bytes, 8)? as usize;
        let entries_len = count.checked_mul(ENTRY_LEN)?;
        let entries = bytes.get(HEADER_LEN..HEADER_LEN.checked_add(entries_len)?)?;
        let names_start = HEADER_LEN + entries_len;
        let names = bytes.get(names_start..names_start.checked_add(names_len)?)?;
        Some(SymbolTable { entries, names, count })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn entry(&self, index: usize) -> Option<(u32, &'a str)> {
        let at = index.checked_mul(ENTRY_LEN)?;
        let offset = u32_at(self.entries, at)?;
        let start = u32_at(self.entries, at + 4)? as usize;
        let len = u32_at(self.entries, at + 8)? as usize;
        let name = self.names.get(start..start.checked_add(len)?)?;
        Some((offset, core::str::from_utf8(name).ok()?))
    }

    /// The symbol containing `offset` (an address minus the link base): its name and how far
    /// into it `offset` is. Symbols are assumed to extend to the next one.
    pub fn lookup(&self, offset: u64) -> Option<(&'a str, u64)> {
        let offset = u32::try_from(offset).ok()?;
        // Find the last entry whose offset is <= the one asked for.
        let (mut lo, mut hi) = (0usize, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.0 <= offset {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let (start, name) = self.entry(lo.checked_sub(1)?)?;
        Some((name, u64::from(offset - start)))
    }
}

/// Builds a table from `(offset, name)` pairs (host side, used by the build driver).
#[cfg(any(test, feature = "std"))]
pub fn build(symbols: &[(u32, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(u32, String)> = symbols.iter().collect();
    sorted.sort_by_key(|(offset, _)| *offset);
    let mut names = Vec::new();
    let mut entries = Vec::new();
    for (offset, name) in sorted {
        entries.extend_from_slice(&offset.to_le_bytes());
        entries.extend_from_slice(&(names.len() as u32).to_le_bytes());
        entries.extend_from_slice(&(name.len() as u32).to_le_bytes());
        names.extend_from_slice(name.as_bytes());
    }
    let mut out = Vec::with_capacity(HEADER_LEN + entries.len() + names.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    out.extend_from_slice(&entries);
    out.extend_from_slice(&names);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        build(&[
            (0x200, "cpu_driver::main".into()),
            (0x0, "_image_start".into()),
            (0x100, "boot::entry".into()),
        ])
    }

    #[test]
    fn addresses_resolve_to_the_enclosing_symbol_and_offset() {
        let bytes = sample();
        let table = SymbolTable::new(&bytes).unwrap();
        assert_eq!(table.len(), 3);
        assert_eq!(table.lookup(0x0), Some(("_image_start", 0)));
        assert_eq!(table.lookup(0x1ff), Some(("boot::entry", 0xff)));
        assert_eq!(table.lookup(0x5000), Some(("cpu_driver::main", 0x4e00)));
    }

    #[test]
    fn an_address_below_every_symbol_has_no_name() {
        let bytes = build(&[(0x100, "f".into())]);
        assert_eq!(SymbolTable::new(&bytes).unwrap().lookup(0x10), None);
    }

    #[test]
    fn an_empty_or_zeroed_section_is_not_a_table() {
        assert!(SymbolTable::new(&[]).is_none());
        assert!(SymbolTable::new(&[0u8; 64]).is_none());
    }

    #[test]
    fn truncated_or_corrupt_tables_never_read_out_of_bounds() {
        let bytes = sample();
        for len in 0..bytes.len() {
            if let Some(table) = SymbolTable::new(&bytes[..len]) {
                let _ = table.lookup(0x150);
            }
        }
        let mut corrupt = bytes.clone();
        corrupt[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let table = SymbolTable::new(&corrupt).unwrap();
        assert_eq!(table.lookup(0x0), None);
    }
}
