//! The Linux arm64 `Image` header: the 64 bytes that make a raw kernel loadable by QEMU
//! `-kernel`, U-Boot `booti` and the Raspberry Pi firmware.
//!
//! The loader recognises the image by the magic at byte 56, places it at a 2 MiB-aligned
//! base plus `text_offset`, reserves `image_size` bytes for it (so memory the kernel uses
//! beyond the file, such as `.bss`, is not handed to the device tree or an initrd), and jumps
//! to byte 0 with the device tree's physical address in `x0`. The header itself is emitted by
//! the entry assembly (`arch/aarch64/entry.s`); this module describes its layout so the build
//! driver can check the image it produced and tests can pin the format down.
//!
//! Source: Linux `Documentation/arch/arm64/booting.rst`, "Call the kernel image".

/// Total header length in bytes.
pub const HEADER_SIZE: usize = 64;
/// "ARM\x64", little-endian, at byte 56.
pub const MAGIC: u32 = 0x644d_5241;
/// Byte offset of the magic.
pub const MAGIC_OFFSET: usize = 56;

/// `flags` bit 0: kernel endianness (0 = little-endian).
pub const FLAG_BIG_ENDIAN: u64 = 1 << 0;
/// `flags` bits 2:1: kernel page size (1 = 4 KiB).
pub const FLAG_PAGE_SIZE_4K: u64 = 1 << 1;
/// `flags` bit 3: the image may be placed anywhere in physical memory (not only near the
/// start of DRAM). Flotilla's entry code is position independent, so it sets this.
pub const FLAG_PLACE_ANYWHERE: u64 = 1 << 3;

/// The flags Flotilla's header carries.
pub const FLOTILLA_FLAGS: u64 = FLAG_PAGE_SIZE_4K | FLAG_PLACE_ANYWHERE;

/// The fields of a parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// The first instruction (a branch past the header).
    pub code0: u32,
    pub text_offset: u64,
    /// Bytes the loaded image occupies in memory, including what follows the file.
    pub image_size: u64,
    pub flags: u64,
}

/// Why bytes are not a valid arm64 `Image`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Fewer than 64 bytes.
    TooShort { len: usize },
    /// No "ARM\x64" at byte 56.
    BadMagic { found: u32 },
    /// `image_size` is zero: loaders then ignore `text_offset` and guess the size.
    ZeroImageSize,
    /// `image_size` is smaller than the file: the loader would overlap the tail with data.
    ImageSizeBelowFileSize { image_size: u64, file_len: usize },
    /// The flags say big-endian or a page size other than 4 KiB.
    UnsupportedFlags { flags: u64 },
    /// The first word is not an unconditional branch (`B imm26`).
    FirstInstructionNotBranch { code0: u32 },
}

impl core::fmt::Display for ImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ImageError::TooShort { len } => {
                write!(f, "image is {len} bytes, shorter than its 64-byte header")
            }
            ImageError::BadMagic { found } => {
                write!(f, "image magic is {found:#010x}, expected {MAGIC:#010x} (\"ARM\\x64\")")
            }
            ImageError::ZeroImageSize => write!(f, "image header has image_size 0"),
            ImageError::ImageSizeBelowFileSize { image_size, file_len } => {
                write!(f, "image header says image_size {image_size:#x} but the file is {file_len:#x} bytes")
            }
            ImageError::UnsupportedFlags { flags } => {
                write!(f, "image flags {flags:#x} are not little-endian with 4 KiB pages")
            }
            ImageError::FirstInstructionNotBranch { code0 } => {
                write!(f, "image starts with {code0:#010x}, not a branch past the header")
            }
        }
    }
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// `B imm26` is 0b000101 in bits 31:26 (Arm ARM C6.2.33).
const fn is_unconditional_branch(insn: u32) -> bool {
    insn >> 26 == 0b000101
}

impl ImageHeader {
    /// Parses and checks the header of a complete image file.
    pub fn parse(file: &[u8]) -> Result<ImageHeader, ImageError> {
        if file.len() < HEADER_SIZE {
            return Err(ImageError::TooShort { len: file.len() });
        }
        let magic = le_u32(file, MAGIC_OFFSET);
        if magic != MAGIC {
            return Err(ImageError::BadMagic { found: magic });
        }
        let header = ImageHeader {
            code0: le_u32(file, 0),
            text_offset: le_u64(file, 8),
            image_size: le_u64(file, 16),
            flags: le_u64(file, 24),
        };
        if !is_unconditional_branch(header.code0) {
            return Err(ImageError::FirstInstructionNotBranch { code0: header.code0 });
        }
        if header.image_size == 0 {
            return Err(ImageError::ZeroImageSize);
        }
        if header.image_size < file.len() as u64 {
            return Err(ImageError::ImageSizeBelowFileSize {
                image_size: header.image_size,
                file_len: file.len(),
            });
        }
        if header.flags & (FLAG_BIG_ENDIAN | 0b110) != FLAG_PAGE_SIZE_4K {
            return Err(ImageError::UnsupportedFlags { flags: header.flags });
        }
        Ok(header)
    }

    /// The header as it stands at the start of an image.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[0..4].copy_from_slice(&self.code0.to_le_bytes());
        out[8..16].copy_from_slice(&self.text_offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.image_size.to_le_bytes());
        out[24..32].copy_from_slice(&self.flags.to_le_bytes());
        out[MAGIC_OFFSET..MAGIC_OFFSET + 4].copy_from_slice(&MAGIC.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImageHeader {
        // `b #0x40`: imm26 = 16 words.
        ImageHeader { code0: 0x1400_0010, text_offset: 0, image_size: 0x20_0000, flags: FLOTILLA_FLAGS }
    }

    fn file_with(header: &ImageHeader, len: usize) -> Vec<u8> {
        let mut file = vec![0u8; len];
        file[..HEADER_SIZE].copy_from_slice(&header.to_bytes());
        file
    }

    #[test]
    fn header_round_trips_through_bytes() {
        let file = file_with(&sample(), 4096);
        assert_eq!(ImageHeader::parse(&file), Ok(sample()));
    }

    #[test]
    fn magic_sits_at_byte_56_as_arm_x64() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[56..60], b"ARM\x64");
    }

    #[test]
    fn short_file_is_rejected() {
        assert_eq!(ImageHeader::parse(&[0u8; 63]), Err(ImageError::TooShort { len: 63 }));
    }

    #[test]
    fn wrong_magic_is_rejected() {
        let mut file = file_with(&sample(), 4096);
        file[56] = b'X';
        assert!(matches!(ImageHeader::parse(&file), Err(ImageError::BadMagic { .. })));
    }

    #[test]
    fn zero_image_size_is_rejected() {
        let file = file_with(&ImageHeader { image_size: 0, ..sample() }, 4096);
        assert_eq!(ImageHeader::parse(&file), Err(ImageError::ZeroImageSize));
    }

    #[test]
    fn image_size_smaller_than_file_is_rejected() {
        let file = file_with(&ImageHeader { image_size: 100, ..sample() }, 4096);
        assert!(matches!(ImageHeader::parse(&file), Err(ImageError::ImageSizeBelowFileSize { .. })));
    }

    #[test]
    fn big_endian_or_64k_pages_are_rejected() {
        for flags in [FLOTILLA_FLAGS | FLAG_BIG_ENDIAN, FLAG_PLACE_ANYWHERE | (3 << 1)] {
            let file = file_with(&ImageHeader { flags, ..sample() }, 4096);
            assert_eq!(ImageHeader::parse(&file), Err(ImageError::UnsupportedFlags { flags }));
        }
    }

    #[test]
    fn first_word_must_branch_past_the_header() {
        let file = file_with(&ImageHeader { code0: 0xd503_201f, ..sample() }, 4096);
        assert!(matches!(ImageHeader::parse(&file), Err(ImageError::FirstInstructionNotBranch { .. })));
    }
}
