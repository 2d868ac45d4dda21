//! A small flattened device tree writer, for the host.
//!
//! The build uses it to produce the tree each board image carries for loaders that pass
//! none ([`super::boards`]), and the tests use it to build trees, valid and deliberately
//! broken, without a device-tree compiler on the machine.
//!
//! It writes exactly what it is told, in order: `begin_node` and `end_node` are not checked
//! for balance and properties are not checked for placement, so a test can write an
//! unclosed node or a property after a subnode and watch the validator reject it. Balanced
//! calls, with each node's properties before its subnodes and one root, produce a blob that
//! [`super::parse`] reads.
//!
//! Output is version 17 (compatible back to 16), laid out the way `dtc` lays it out: header,
//! memory reservation map, structure block, strings block, with no free space. Property names
//! are stored once in the strings block however often they are used.

use super::check::{
    FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_PROP, HEADER_SIZE, MAGIC, NEWEST_VERSION, OLDEST_VERSION,
    RESERVATION_ENTRY_SIZE,
};

/// Builds a blob one token at a time; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct FdtWriter {
    structure: Vec<u8>,
    strings: Vec<u8>,
    reservations: Vec<(u64, u64)>,
}

impl FdtWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `/memreserve/` entry to the header's reservation map.
    pub fn reserve_memory(&mut self, address: u64, size: u64) -> &mut Self {
        self.reservations.push((address, size));
        self
    }

    /// Opens a node; the root's name is "".
    pub fn begin_node(&mut self, name: &str) -> &mut Self {
        self.token(FDT_BEGIN_NODE);
        self.structure.extend_from_slice(name.as_bytes());
        self.structure.push(0);
        self.pad();
        self
    }

    /// Closes the innermost open node.
    pub fn end_node(&mut self) -> &mut Self {
        self.token(FDT_END_NODE);
        self
    }

    /// A property with raw bytes as its value; `&[]` makes an empty (boolean) property.
    pub fn property_bytes(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let name_offset = self.name_offset(name);
        self.token(FDT_PROP);
        self.structure.extend_from_slice(&word(value.len()));
        self.structure.extend_from_slice(&word(name_offset));
        self.structure.extend_from_slice(value);
        self.pad();
        self
    }

    /// A property of 32-bit cells, such as `reg` or `#address-cells`.
    pub fn property_u32s(&mut self, name: &str, cells: &[u32]) -> &mut Self {
        let value: Vec<u8> = cells.iter().flat_map(|cell| cell.to_be_bytes()).collect();
        self.property_bytes(name, &value)
    }

    /// A 64-bit number as two cells, such as `cpu-release-addr`.
    pub fn property_u64(&mut self, name: &str, value: u64) -> &mut Self {
        self.property_bytes(name, &value.to_be_bytes())
    }

    /// A NUL-terminated string, such as `model` or `status`.
    pub fn property_str(&mut self, name: &str, value: &str) -> &mut Self {
        self.property_strs(name, &[value])
    }

    /// A string list, such as `compatible`: each string NUL-terminated, one after another.
    pub fn property_strs(&mut self, name: &str, values: &[&str]) -> &mut Self {
        let mut value = Vec::new();
        for string in values {
            value.extend_from_slice(string.as_bytes());
            value.push(0);
        }
        self.property_bytes(name, &value)
    }

    /// The finished blob: header, reservation map (with its terminator), the structure block
    /// with `FDT_END` appended, and the strings block.
    pub fn finish(&self) -> Vec<u8> {
        // The reservation map must be 8-byte aligned; the 40-byte header keeps it so.
        let reservations_offset = HEADER_SIZE;
        let reservations_size = (self.reservations.len() + 1) * RESERVATION_ENTRY_SIZE;
        let structure_offset = reservations_offset + reservations_size;
        let structure_size = self.structure.len() + 4;
        let strings_offset = structure_offset + structure_size;
        let total_size = strings_offset + self.strings.len();

        let mut blob = Vec::with_capacity(total_size);
        // The header fields in order (Devicetree Specification v0.4, §5.2).
        for field in [
            MAGIC.to_be_bytes(),
            word(total_size),
            word(structure_offset),
            word(strings_offset),
            word(reservations_offset),
            NEWEST_VERSION.to_be_bytes(),
            OLDEST_VERSION.to_be_bytes(),
            word(0), // boot_cpuid_phys
            word(self.strings.len()),
            word(structure_size),
        ] {
            blob.extend_from_slice(&field);
        }
        for &(address, size) in self.reservations.iter().chain(&[(0, 0)]) {
            blob.extend_from_slice(&address.to_be_bytes());
            blob.extend_from_slice(&size.to_be_bytes());
        }
        blob.extend_from_slice(&self.structure);
        blob.extend_from_slice(&FDT_END.to_be_bytes());
        blob.extend_from_slice(&self.strings);
        blob
    }

    fn token(&mut self, token: u32) {
        self.structure.extend_from_slice(&token.to_be_bytes());
    }

    /// Pads the structure block to the next token boundary.
    fn pad(&mut self) {
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
    }

    /// Where `name` starts in the strings block, adding it if it is new.
    fn name_offset(&mut self, name: &str) -> usize {
        let mut offset = 0;
        for existing in self.strings.split(|&byte| byte == 0) {
            if offset < self.strings.len() && existing == name.as_bytes() {
                return offset;
            }
            offset += existing.len() + 1;
        }
        let offset = self.strings.len();
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        offset
    }
}

/// A length or offset as a big-endian format word.
///
/// # Panics
///
/// If `n` does not fit in 32 bits: no device tree is that large.
fn word(n: usize) -> [u8; 4] {
    u32::try_from(n).expect("device tree field exceeds 32 bits").to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::super::check::{be_u32, OFF_DT_STRINGS, OFF_DT_STRUCT, OFF_MEM_RSVMAP, SIZE_DT_STRINGS};
    use super::*;

    #[test]
    fn header_describes_a_version_17_blob_with_blocks_in_dtc_order() {
        let mut w = FdtWriter::new();
        w.reserve_memory(0x1000, 0x1000);
        w.begin_node("").property_str("model", "m").end_node();
        let blob = w.finish();
        let word = |offset| be_u32(&blob, offset).unwrap();
        assert_eq!(word(0), MAGIC);
        assert_eq!(word(4) as usize, blob.len());
        assert_eq!((word(20), word(24)), (17, 16));
        // Header, then two reservation entries (one and the terminator), then structure.
        assert_eq!(word(OFF_MEM_RSVMAP), 40);
        assert_eq!(word(OFF_DT_STRUCT), 40 + 32);
        assert_eq!(word(OFF_DT_STRINGS) + word(SIZE_DT_STRINGS), blob.len() as u32);
        assert_eq!(&blob[blob.len() - 6..], b"model\0");
    }

    #[test]
    fn property_names_are_stored_once() {
        let mut w = FdtWriter::new();
        w.begin_node("").property_u32s("reg", &[1]);
        w.begin_node("a").property_u32s("reg", &[2]).end_node();
        w.begin_node("b").property_u32s("regs", &[3]).end_node();
        w.end_node();
        assert_eq!(w.strings, b"reg\0regs\0");
    }

    #[test]
    fn structure_tokens_stay_four_byte_aligned() {
        let mut w = FdtWriter::new();
        w.begin_node("").begin_node("odd-length-name");
        w.property_bytes("three", &[1, 2, 3]).end_node().end_node();
        assert!(w.structure.len().is_multiple_of(4));
        assert!(super::super::check::validate(&w.finish()).is_ok());
    }
}
