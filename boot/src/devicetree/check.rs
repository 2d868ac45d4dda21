//! The flattened device tree format, and a validator that proves a blob well-formed before
//! anything reads it.
//!
//! A blob (Devicetree Specification v0.4, chapter 5) is a 40-byte header followed by three
//! blocks the header locates: the memory reservation map (16-byte address/size pairs ending
//! in a zero size), the structure block (a stream of 4-byte-aligned tokens: `FDT_BEGIN_NODE`
//! with a NUL-terminated name, `FDT_PROP` with a length and an offset into the strings block,
//! `FDT_END_NODE`, `FDT_NOP`, and one final `FDT_END`), and the strings block (the
//! NUL-terminated property names).
//!
//! The loader hands the kernel this blob, and nothing vouches for it: a wrong address in `x0`,
//! a firmware bug or a truncated copy all look like bytes. So [`validate`] walks the *whole*
//! blob once, before any reading, and rejects it unless:
//! - the header is consistent: every block starts and ends inside `totalsize`, which itself
//!   fits in the slice, and the blocks are aligned as the specification demands;
//! - the reservation map ends with its terminator inside the blob;
//! - every token of the structure block decodes inside the block, every node name and every
//!   property name is NUL-terminated inside its block and is UTF-8, every property value lies
//!   inside the block;
//! - the nesting is balanced, at most [`MAX_DEPTH`] deep, with exactly one root, no property
//!   outside a node or after a subnode, and `FDT_END` is the last token.
//!
//! What it returns is a [`Tree`]: the three blocks as slices trimmed to their true extent.
//! The reader never touches the raw blob again.
//!
//! The token decoder ([`Tree::token`]) is the same one the reader uses to walk nodes, so the
//! bounds the validator proved are the very bounds the reader relies on. The reader still
//! uses checked access throughout: a validator bug must turn into an error, never a fault.
//!
//! Offsets and sizes are `u32` in the format and `usize` here; Flotilla's targets are 64-bit,
//! so the widening casts below are lossless.

use super::FdtError;
use core::str;

/// `FDT_MAGIC`, the header's first word (Devicetree Specification v0.4, §5.2).
pub(super) const MAGIC: u32 = 0xd00d_feed;
/// Header size of a version 17 blob. Version 16 lacks the final `size_dt_struct` word.
pub(super) const HEADER_SIZE: usize = 40;
const HEADER_SIZE_V16: usize = 36;
/// The largest blob accepted. Linux on arm64 refuses anything bigger (`MAX_FDT_SIZE`,
/// `SZ_2M`, in arch/arm64/include/asm/boot.h), so no loader that boots Linux passes one; a
/// larger `totalsize` means the kernel is looking at something that is not a device tree.
pub const MAX_BLOB_SIZE: usize = 2 * 1024 * 1024;
/// The oldest version read: version 16 is the first whose node names are plain names rather
/// than full paths (§5.2, `version`).
pub(super) const OLDEST_VERSION: u32 = 16;
/// The newest version this reader implements. A newer blob is still readable when its
/// `last_comp_version` says it is backwards compatible with this one.
pub(super) const NEWEST_VERSION: u32 = 17;
/// The deepest nesting accepted, counting the root as depth 1. Real trees stay below 10;
/// the limit keeps the reader's ancestor stack a fixed-size array.
pub const MAX_DEPTH: usize = 32;

// Structure block tokens (§5.4.1).
pub(super) const FDT_BEGIN_NODE: u32 = 0x1;
pub(super) const FDT_END_NODE: u32 = 0x2;
pub(super) const FDT_PROP: u32 = 0x3;
pub(super) const FDT_NOP: u32 = 0x4;
pub(super) const FDT_END: u32 = 0x9;

/// Size of one memory reservation entry: a big-endian `u64` address and `u64` size (§5.3).
pub(super) const RESERVATION_ENTRY_SIZE: usize = 16;

// Byte offsets of the header fields (§5.2, `struct fdt_header`).
pub(super) const TOTALSIZE: usize = 4;
pub(super) const OFF_DT_STRUCT: usize = 8;
pub(super) const OFF_DT_STRINGS: usize = 12;
pub(super) const OFF_MEM_RSVMAP: usize = 16;
pub(super) const VERSION: usize = 20;
pub(super) const LAST_COMP_VERSION: usize = 24;
pub(super) const SIZE_DT_STRINGS: usize = 32;
pub(super) const SIZE_DT_STRUCT: usize = 36;

// What a block that does not lie between the header and `totalsize` is reported as.
const RESERVATIONS_OUT_OF_BOUNDS: FdtError =
    FdtError::BadHeader { reason: "memory reservation block is not between the header and totalsize" };
const STRUCTURE_OUT_OF_BOUNDS: FdtError =
    FdtError::BadHeader { reason: "structure block is not between the header and totalsize" };
const BLOCK_PAST_TOTALSIZE: FdtError = FdtError::BadHeader { reason: "a block extends past totalsize" };
const STRINGS_OUT_OF_BOUNDS: FdtError =
    FdtError::BadHeader { reason: "strings block is not between the header and totalsize" };

/// The header fields the reader needs, checked for version and size but not yet against
/// the blob's length (see [`validate`]).
pub(super) struct Header {
    pub(super) total_size: usize,
    /// Bytes taken by the header itself, for checking that no block overlaps it.
    size: usize,
    structure_offset: usize,
    /// `size_dt_struct`, absent in version 16.
    structure_size: Option<usize>,
    strings_offset: usize,
    strings_size: usize,
    reservations_offset: usize,
}

/// Reads and checks the header at the start of `bytes`, which needs hold only the header.
pub(super) fn read_header(bytes: &[u8]) -> Result<Header, FdtError> {
    if bytes.is_empty() {
        return Err(FdtError::NoDeviceTree);
    }
    let truncated = FdtError::Truncated { needed: HEADER_SIZE, available: bytes.len() };
    let word = |offset| be_u32(bytes, offset).ok_or(truncated);
    // The magic comes first so that a wild pointer is reported as "not a device tree"
    // rather than as a short one.
    let magic = word(0)?;
    if magic != MAGIC {
        return Err(FdtError::BadMagic(magic));
    }
    if bytes.len() < HEADER_SIZE {
        return Err(truncated);
    }
    let version = word(VERSION)?;
    let last_compatible = word(LAST_COMP_VERSION)?;
    if version < OLDEST_VERSION || last_compatible > NEWEST_VERSION {
        return Err(FdtError::UnsupportedVersion { version, last_compatible });
    }
    let total_size = word(TOTALSIZE)? as usize;
    if total_size < HEADER_SIZE {
        return Err(FdtError::BadHeader { reason: "totalsize is smaller than the header" });
    }
    let has_structure_size = version >= 17;
    let header = Header {
        total_size,
        size: if has_structure_size { HEADER_SIZE } else { HEADER_SIZE_V16 },
        structure_offset: word(OFF_DT_STRUCT)? as usize,
        structure_size: if has_structure_size { Some(word(SIZE_DT_STRUCT)? as usize) } else { None },
        strings_offset: word(OFF_DT_STRINGS)? as usize,
        strings_size: word(SIZE_DT_STRINGS)? as usize,
        reservations_offset: word(OFF_MEM_RSVMAP)? as usize,
    };
    let content_end = header.content_end();
    if content_end > total_size {
        return Err(BLOCK_PAST_TOTALSIZE);
    }
    // The limit is on what must be read: loaders (QEMU's -dtb among them) may leave free
    // space at the end that makes totalsize larger.
    if content_end > MAX_BLOB_SIZE {
        return Err(FdtError::TooLarge { total_size: content_end });
    }
    Ok(header)
}

impl Header {
    /// One past the last byte the blocks occupy: what a reader needs of the blob. A version
    /// 16 header does not give the structure block's size, so there it is `totalsize`.
    pub(super) fn content_end(&self) -> usize {
        let Some(structure_size) = self.structure_size else { return self.total_size };
        let reservations_minimum = self.reservations_offset.saturating_add(RESERVATION_ENTRY_SIZE);
        self.structure_offset
            .saturating_add(structure_size)
            .max(self.strings_offset.saturating_add(self.strings_size))
            .max(reservations_minimum)
    }
}

/// A blob that passed [`validate`]: its blocks, each trimmed to its true extent.
pub(super) struct Tree<'a> {
    /// The structure block, ending just after `FDT_END`.
    structure: &'a [u8],
    /// Where the structure block starts in the blob, so errors can name blob offsets.
    structure_offset: usize,
    strings: &'a [u8],
    /// The reservation entries, without the terminating zero entry.
    reservations: &'a [u8],
}

/// One token of the structure block, with the data it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    BeginNode { name: &'a str },
    EndNode,
    Property { name: &'a str, value: &'a [u8] },
    Nop,
    End,
}

impl<'a> Tree<'a> {
    /// Decodes the token at `offset` in the structure block, returning it and the offset of
    /// the token after it (always larger than `offset`, so every walk terminates).
    pub(super) fn token(&self, offset: usize) -> Result<(Token<'a>, usize), FdtError> {
        let bad = |reason| self.malformed(offset, reason);
        let tag = be_u32(self.structure, offset).ok_or(bad("the structure block ends without FDT_END"))?;
        let body = offset.checked_add(4).ok_or(bad("offset overflow"))?;
        match tag {
            FDT_BEGIN_NODE => {
                let rest = self.structure.get(body..).unwrap_or_default();
                let name = nul_terminated(rest).ok_or(bad("node name is not NUL-terminated"))?;
                let name = str::from_utf8(name).map_err(|_| bad("node name is not UTF-8"))?;
                let next = body.checked_add(name.len() + 1).and_then(align4).ok_or(bad("offset overflow"))?;
                Ok((Token::BeginNode { name }, next))
            }
            FDT_PROP => {
                let length = be_u32(self.structure, body)
                    .ok_or(bad("property header runs past the structure block"))?;
                let name_offset = be_u32(self.structure, body.saturating_add(4))
                    .ok_or(bad("property header runs past the structure block"))?;
                let start = body.checked_add(8).ok_or(bad("offset overflow"))?;
                let end = start
                    .checked_add(length as usize)
                    .ok_or(bad("property value runs past the structure block"))?;
                let value = self
                    .structure
                    .get(start..end)
                    .ok_or(bad("property value runs past the structure block"))?;
                let name = self.property_name(name_offset).map_err(bad)?;
                let next = align4(end).ok_or(bad("offset overflow"))?;
                Ok((Token::Property { name, value }, next))
            }
            FDT_END_NODE => Ok((Token::EndNode, body)),
            FDT_NOP => Ok((Token::Nop, body)),
            FDT_END => Ok((Token::End, body)),
            _ => Err(bad("unknown token")),
        }
    }

    /// The error for a malformed token at `offset` in the structure block, which names the
    /// offset in the blob so the bad byte can be found with a hex dump.
    pub(super) fn malformed(&self, offset: usize, reason: &'static str) -> FdtError {
        FdtError::BadStructure { offset: self.structure_offset.saturating_add(offset), reason }
    }

    /// The property name at `offset` in the strings block.
    fn property_name(&self, offset: u32) -> Result<&'a str, &'static str> {
        let rest = self
            .strings
            .get(offset as usize..)
            .ok_or("property name offset lies outside the strings block")?;
        let name =
            nul_terminated(rest).ok_or("property name is not NUL-terminated inside the strings block")?;
        str::from_utf8(name).map_err(|_| "property name is not UTF-8")
    }

    /// The `/memreserve/` entries as `(address, size)` pairs, in blob order.
    pub(super) fn reservations(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        // Every chunk is exactly one entry long, so both reads succeed.
        self.reservations
            .chunks_exact(RESERVATION_ENTRY_SIZE)
            .filter_map(|entry| Some((be_u64(entry, 0)?, be_u64(entry, 8)?)))
    }
}

/// Checks the whole blob and returns its blocks; see the module documentation for the rules.
///
/// `blob` may be longer than the tree (a loader may hand over a whole page); only the first
/// `totalsize` bytes are looked at. No alignment of `blob` itself is required: every field
/// is read bytewise.
pub(super) fn validate(blob: &[u8]) -> Result<Tree<'_>, FdtError> {
    let header = read_header(blob)?;
    let needed = header.content_end();
    if blob.len() < needed {
        return Err(FdtError::Truncated { needed, available: blob.len() });
    }
    let blob = &blob[..header.total_size.min(blob.len())];

    if !header.reservations_offset.is_multiple_of(8) {
        return Err(FdtError::BadHeader { reason: "memory reservation block is not 8-byte aligned" });
    }
    if !header.structure_offset.is_multiple_of(4) {
        return Err(FdtError::BadHeader { reason: "structure block is not 4-byte aligned" });
    }
    let reservations = reservation_entries(blob, &header)?;
    let strings =
        block(blob, &header, header.strings_offset, header.strings_size).ok_or(STRINGS_OUT_OF_BOUNDS)?;
    // A version 16 header does not give the structure block's size; it runs until FDT_END,
    // which must then lie inside the blob.
    let structure_size = match header.structure_size {
        Some(size) => size,
        None => header.total_size.saturating_sub(header.structure_offset),
    };
    let structure =
        block(blob, &header, header.structure_offset, structure_size).ok_or(STRUCTURE_OUT_OF_BOUNDS)?;

    let tree = Tree { structure, structure_offset: header.structure_offset, strings, reservations };
    let end = check_structure(&tree)?;
    if header.structure_size.is_some() && end != structure.len() {
        return Err(FdtError::BadStructure {
            offset: header.structure_offset.saturating_add(end),
            reason: "data follows FDT_END in the structure block",
        });
    }
    Ok(Tree { structure: structure.get(..end).unwrap_or(structure), ..tree })
}

/// The block `[offset, offset + size)` of `blob`, if it lies after the header and inside
/// the blob.
fn block<'a>(blob: &'a [u8], header: &Header, offset: usize, size: usize) -> Option<&'a [u8]> {
    if offset < header.size {
        return None;
    }
    blob.get(offset..offset.checked_add(size)?)
}

/// The reservation entries before the terminating zero-sized one, which must exist.
fn reservation_entries<'a>(blob: &'a [u8], header: &Header) -> Result<&'a [u8], FdtError> {
    let start = header.reservations_offset;
    if start < header.size || start > blob.len() {
        return Err(RESERVATIONS_OUT_OF_BOUNDS);
    }
    let mut entry = start;
    // libfdt and Linux end the list at the first zero size (§5.3 asks for address and size
    // both zero, but a zero-sized reservation reserves nothing anyway).
    while let Some(size) = be_u64(blob, entry.saturating_add(8)) {
        if size == 0 {
            return blob.get(start..entry).ok_or(RESERVATIONS_OUT_OF_BOUNDS);
        }
        entry = entry.saturating_add(RESERVATION_ENTRY_SIZE);
    }
    Err(FdtError::BadStructure { offset: start, reason: "memory reservation block has no terminating entry" })
}

/// Walks every token once and checks the nesting rules; returns the offset just past
/// `FDT_END`.
fn check_structure(tree: &Tree<'_>) -> Result<usize, FdtError> {
    let mut offset = 0;
    let mut depth = 0usize;
    let mut seen_root = false;
    // Whether the node being read has already had a subnode: properties must come first
    // (§5.4.2), and the reader relies on it to stop a property scan at the first child.
    let mut after_subnode = false;
    loop {
        let (token, next) = tree.token(offset)?;
        let bad = |reason| tree.malformed(offset, reason);
        match token {
            Token::BeginNode { .. } => {
                if depth == 0 {
                    if seen_root {
                        return Err(bad("a second root node follows the first"));
                    }
                    seen_root = true;
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(bad("nodes are nested more than 32 deep"));
                }
                after_subnode = false;
            }
            Token::EndNode => {
                if depth == 0 {
                    return Err(bad("FDT_END_NODE without a matching FDT_BEGIN_NODE"));
                }
                depth -= 1;
                after_subnode = true;
            }
            Token::Property { .. } => {
                if depth == 0 {
                    return Err(bad("property outside any node"));
                }
                if after_subnode {
                    return Err(bad("property follows a subnode"));
                }
            }
            Token::Nop => {}
            Token::End => {
                if depth != 0 {
                    return Err(bad("FDT_END while nodes are still open"));
                }
                if !seen_root {
                    return Err(bad("the structure block has no root node"));
                }
                return Ok(next);
            }
        }
        offset = next;
    }
}

/// The big-endian `u32` at `offset`, if all four bytes are in `bytes`.
pub(super) fn be_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes(word.try_into().ok()?))
}

/// The big-endian `u64` at `offset`, if all eight bytes are in `bytes`.
pub(super) fn be_u64(bytes: &[u8], offset: usize) -> Option<u64> {
    let word = bytes.get(offset..offset.checked_add(8)?)?;
    Some(u64::from_be_bytes(word.try_into().ok()?))
}

/// The bytes of `bytes` before its first NUL, if it has one.
fn nul_terminated(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|&b| b == 0)?;
    bytes.get(..end)
}

/// Rounds up to the next token boundary.
fn align4(offset: usize) -> Option<usize> {
    Some(offset.checked_add(3)? & !3)
}

#[cfg(test)]
mod tests {
    use super::super::writer::FdtWriter;
    use super::*;

    /// A small valid tree: a root with one property and one child with one property.
    fn small_tree() -> Vec<u8> {
        let mut w = FdtWriter::new();
        w.begin_node("").property_u32s("#address-cells", &[2]);
        w.begin_node("child@0").property_str("compatible", "test,child");
        w.end_node();
        w.end_node();
        w.finish()
    }

    fn word(blob: &[u8], field: usize) -> usize {
        be_u32(blob, field).unwrap() as usize
    }

    fn set_word(blob: &mut [u8], offset: usize, value: u32) {
        blob[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Offset in `blob` of the first occurrence of `needle`.
    fn find(blob: &[u8], needle: &[u8]) -> usize {
        blob.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    fn structure_error(result: Result<Tree<'_>, FdtError>) -> &'static str {
        match result {
            Err(FdtError::BadStructure { reason, .. }) => reason,
            Err(other) => panic!("expected a structure error, got {other:?}"),
            Ok(_) => panic!("expected a structure error, the blob was accepted"),
        }
    }

    #[test]
    fn well_formed_blob_is_accepted_and_trimmed_to_fdt_end() {
        let blob = small_tree();
        let tree = validate(&blob).unwrap();
        assert_eq!(tree.structure.len(), word(&blob, SIZE_DT_STRUCT));
        assert_eq!(tree.strings.len(), word(&blob, SIZE_DT_STRINGS));
        assert_eq!(tree.reservations().count(), 0);
    }

    #[test]
    fn every_proper_prefix_of_a_valid_blob_is_truncated() {
        let blob = small_tree();
        assert_eq!(validate(&[]).err(), Some(FdtError::NoDeviceTree));
        for length in 1..blob.len() {
            match validate(&blob[..length]) {
                Err(FdtError::Truncated { available, .. }) => assert_eq!(available, length),
                other => panic!("prefix of {length} bytes gave {:?}", other.err()),
            }
        }
    }

    #[test]
    fn slice_longer_than_totalsize_is_read_only_up_to_totalsize() {
        let mut blob = small_tree();
        blob.extend_from_slice(&[0xff; 64]);
        assert!(validate(&blob).is_ok());
    }

    #[test]
    fn totalsize_beyond_the_slice_is_accepted_when_the_blocks_fit() {
        let mut blob = small_tree();
        let length = blob.len();
        set_word(&mut blob, TOTALSIZE, length as u32 + 8);
        assert!(validate(&blob).is_ok());
    }

    #[test]
    fn blocks_beyond_the_slice_are_truncated() {
        let blob = small_tree();
        let cut = blob.len() - 4;
        assert_eq!(
            validate(&blob[..cut]).err(),
            Some(FdtError::Truncated { needed: blob.len(), available: cut })
        );
    }

    #[test]
    fn free_space_after_the_strings_block_is_accepted() {
        // QEMU and U-Boot hand over trees with room to grow: totalsize covers unused bytes.
        let mut blob = small_tree();
        blob.resize(blob.len() + 4096, 0);
        let length = blob.len();
        set_word(&mut blob, TOTALSIZE, length as u32);
        assert!(validate(&blob).is_ok());
    }

    #[test]
    fn bad_magic_is_reported_with_the_word_found() {
        let mut blob = small_tree();
        set_word(&mut blob, 0, 0x1234_5678);
        assert_eq!(validate(&blob).err(), Some(FdtError::BadMagic(0x1234_5678)));
    }

    #[test]
    fn version_older_than_16_is_unsupported() {
        let mut blob = small_tree();
        set_word(&mut blob, VERSION, 15);
        assert_eq!(
            validate(&blob).err(),
            Some(FdtError::UnsupportedVersion { version: 15, last_compatible: 16 })
        );
    }

    #[test]
    fn version_16_blob_without_structure_size_is_accepted() {
        let mut blob = small_tree();
        set_word(&mut blob, VERSION, 16);
        set_word(&mut blob, SIZE_DT_STRUCT, 0xdead_beef);
        assert!(validate(&blob).is_ok());
    }

    #[test]
    fn totalsize_smaller_than_the_header_is_rejected() {
        let mut blob = small_tree();
        set_word(&mut blob, TOTALSIZE, 39);
        assert!(matches!(validate(&blob), Err(FdtError::BadHeader { .. })));
    }

    #[test]
    fn structure_block_beyond_the_blob_is_rejected() {
        let mut blob = small_tree();
        set_word(&mut blob, OFF_DT_STRUCT, 0x10_0000);
        assert_eq!(validate(&blob).err(), Some(BLOCK_PAST_TOTALSIZE));
    }

    #[test]
    fn structure_size_overrunning_the_blob_is_rejected() {
        let mut blob = small_tree();
        set_word(&mut blob, SIZE_DT_STRUCT, u32::MAX);
        assert_eq!(validate(&blob).err(), Some(BLOCK_PAST_TOTALSIZE));
    }

    #[test]
    fn strings_block_beyond_the_blob_is_rejected() {
        let mut blob = small_tree();
        let strings = word(&blob, OFF_DT_STRINGS) as u32;
        set_word(&mut blob, SIZE_DT_STRINGS, 0x1000 - strings);
        assert_eq!(validate(&blob).err(), Some(BLOCK_PAST_TOTALSIZE));
    }

    #[test]
    fn block_overlapping_the_header_is_rejected() {
        let mut blob = small_tree();
        set_word(&mut blob, OFF_DT_STRINGS, 8);
        assert_eq!(validate(&blob).err(), Some(STRINGS_OUT_OF_BOUNDS));
    }

    #[test]
    fn misaligned_structure_block_is_rejected() {
        let mut blob = small_tree();
        let offset = word(&blob, OFF_DT_STRUCT) as u32;
        set_word(&mut blob, OFF_DT_STRUCT, offset + 2);
        assert_eq!(
            validate(&blob).err(),
            Some(FdtError::BadHeader { reason: "structure block is not 4-byte aligned" })
        );
    }

    #[test]
    fn reservation_map_without_terminator_is_rejected() {
        // Fill everything from the map to the end of the blob with non-zero sizes.
        let mut blob = small_tree();
        let start = word(&blob, OFF_MEM_RSVMAP);
        for byte in &mut blob[start..] {
            *byte = 0x11;
        }
        assert_eq!(structure_error(validate(&blob)), "memory reservation block has no terminating entry");
    }

    #[test]
    fn unterminated_node_name_is_rejected() {
        // End the structure block in the middle of the child's name.
        let mut blob = small_tree();
        let name = find(&blob, b"child@0") - word(&blob, OFF_DT_STRUCT);
        set_word(&mut blob, SIZE_DT_STRUCT, name as u32 + 4);
        assert_eq!(structure_error(validate(&blob)), "node name is not NUL-terminated");
    }

    #[test]
    fn structure_block_cut_before_fdt_end_is_rejected() {
        let mut blob = small_tree();
        let size = word(&blob, SIZE_DT_STRUCT) as u32;
        set_word(&mut blob, SIZE_DT_STRUCT, size - 8);
        assert_eq!(structure_error(validate(&blob)), "the structure block ends without FDT_END");
    }

    #[test]
    fn property_longer_than_the_structure_block_is_rejected() {
        let mut blob = small_tree();
        // The first property header follows the root's BEGIN_NODE and empty name.
        let length = word(&blob, OFF_DT_STRUCT) + 12;
        set_word(&mut blob, length, 0xffff_fff0);
        assert_eq!(structure_error(validate(&blob)), "property value runs past the structure block");
    }

    #[test]
    fn property_name_offset_outside_the_strings_block_is_rejected() {
        let mut blob = small_tree();
        let name_offset = word(&blob, OFF_DT_STRUCT) + 16;
        let strings_size = word(&blob, SIZE_DT_STRINGS) as u32;
        set_word(&mut blob, name_offset, strings_size + 1);
        assert_eq!(structure_error(validate(&blob)), "property name offset lies outside the strings block");
    }

    #[test]
    fn property_name_running_off_the_strings_block_is_rejected() {
        // Shrink the strings block so the last name loses its NUL.
        let mut blob = small_tree();
        let strings_size = word(&blob, SIZE_DT_STRINGS) as u32;
        set_word(&mut blob, SIZE_DT_STRINGS, strings_size - 1);
        assert_eq!(
            structure_error(validate(&blob)),
            "property name is not NUL-terminated inside the strings block"
        );
    }

    #[test]
    fn unclosed_node_is_rejected() {
        let mut w = FdtWriter::new();
        w.begin_node("").begin_node("open");
        w.end_node();
        assert_eq!(structure_error(validate(&w.finish())), "FDT_END while nodes are still open");
    }

    #[test]
    fn extra_end_node_is_rejected() {
        let mut w = FdtWriter::new();
        w.begin_node("");
        w.end_node().end_node();
        assert_eq!(structure_error(validate(&w.finish())), "FDT_END_NODE without a matching FDT_BEGIN_NODE");
    }

    #[test]
    fn missing_fdt_end_is_rejected() {
        let mut blob = small_tree();
        let end = word(&blob, OFF_DT_STRUCT) + word(&blob, SIZE_DT_STRUCT) - 4;
        set_word(&mut blob, end, FDT_NOP);
        assert_eq!(structure_error(validate(&blob)), "the structure block ends without FDT_END");
    }

    #[test]
    fn data_after_fdt_end_is_rejected() {
        let mut blob = small_tree();
        let size = word(&blob, SIZE_DT_STRUCT) as u32;
        set_word(&mut blob, SIZE_DT_STRUCT, size + 4);
        assert_eq!(structure_error(validate(&blob)), "data follows FDT_END in the structure block");
    }

    #[test]
    fn empty_structure_is_rejected_for_lacking_a_root() {
        let blob = FdtWriter::new().finish();
        assert_eq!(structure_error(validate(&blob)), "the structure block has no root node");
    }

    #[test]
    fn second_root_node_is_rejected() {
        let mut w = FdtWriter::new();
        w.begin_node("").end_node();
        w.begin_node("").end_node();
        assert_eq!(structure_error(validate(&w.finish())), "a second root node follows the first");
    }

    #[test]
    fn property_outside_any_node_is_rejected() {
        let mut w = FdtWriter::new();
        w.property_u32s("stray", &[1]);
        w.begin_node("").end_node();
        assert_eq!(structure_error(validate(&w.finish())), "property outside any node");
    }

    #[test]
    fn property_after_a_subnode_is_rejected() {
        let mut w = FdtWriter::new();
        w.begin_node("");
        w.begin_node("child").end_node();
        w.property_u32s("late", &[1]);
        w.end_node();
        assert_eq!(structure_error(validate(&w.finish())), "property follows a subnode");
    }

    #[test]
    fn nesting_is_accepted_up_to_the_depth_limit_and_rejected_beyond() {
        let nested = |depth: usize| {
            let mut w = FdtWriter::new();
            w.begin_node("");
            for _ in 1..depth {
                w.begin_node("n");
            }
            for _ in 0..depth {
                w.end_node();
            }
            w.finish()
        };
        assert!(validate(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(structure_error(validate(&nested(MAX_DEPTH + 1))), "nodes are nested more than 32 deep");
    }

    #[test]
    fn unknown_token_is_rejected() {
        let mut blob = small_tree();
        let end = word(&blob, OFF_DT_STRUCT) + word(&blob, SIZE_DT_STRUCT) - 4;
        set_word(&mut blob, end, 0x7);
        assert_eq!(structure_error(validate(&blob)), "unknown token");
    }

    #[test]
    fn non_utf8_node_name_is_rejected() {
        let mut blob = small_tree();
        let name = find(&blob, b"child@0");
        blob[name] = 0xff;
        assert_eq!(structure_error(validate(&blob)), "node name is not UTF-8");
    }

    #[test]
    fn structure_errors_name_the_blob_offset_of_the_bad_token() {
        let mut blob = small_tree();
        let end = word(&blob, OFF_DT_STRUCT) + word(&blob, SIZE_DT_STRUCT) - 4;
        set_word(&mut blob, end, 0x7);
        assert_eq!(
            validate(&blob).err(),
            Some(FdtError::BadStructure { offset: end, reason: "unknown token" })
        );
    }

    #[test]
    fn reservations_are_listed_without_the_terminator() {
        let mut w = FdtWriter::new();
        w.reserve_memory(0x1000, 0x2000).reserve_memory(0x8000_0000, 0x10);
        w.begin_node("").end_node();
        let blob = w.finish();
        let tree = validate(&blob).unwrap();
        let entries: Vec<_> = tree.reservations().collect();
        assert_eq!(entries, [(0x1000, 0x2000), (0x8000_0000, 0x10)]);
    }
}
