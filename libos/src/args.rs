//! Program arguments: a vector of strings a program is started with, besides the one word
//! in `x0`.
//!
//! The starter writes the strings into one page of the child's own RAM (a frame made for
//! it by [`crate::spawn`]) and puts the frame capability in the child's
//! `abi::cap::slot::ARGUMENTS` slot. The child maps it read-only the first time it asks
//! for [`args`]. A capability rather than a fixed address: the child decides where in its
//! address space the page goes, and a program started without arguments has an empty slot
//! and an empty vector.
//!
//! The page holds the number of bytes that follow (a little-endian `u64`), then each
//! argument's UTF-8 bytes followed by a zero byte. [`encode`] and [`decode`] are the two
//! halves of that layout, host-tested.

/// Bytes of the page the arguments travel in.
pub const PAGE_BYTES: usize = abi::cap::PAGE_SIZE as usize;
/// The most bytes the arguments may take, their terminating zeros included.
pub const MAX_BYTES: usize = PAGE_BYTES - 8;

/// Why a vector of arguments cannot be passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgsError {
    /// Together they need more than [`MAX_BYTES`].
    TooLong,
    /// An argument contains a zero byte, which ends an argument in the page.
    ContainsZero,
}

impl core::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ArgsError::TooLong => write!(f, "the arguments are longer than {MAX_BYTES} bytes"),
            ArgsError::ContainsZero => write!(f, "an argument contains a zero byte"),
        }
    }
}

/// Writes `args` into `page` in the layout of the module documentation.
pub fn encode(args: &[&str], page: &mut [u8; PAGE_BYTES]) -> Result<(), ArgsError> {
    let total: usize = args.iter().map(|a| a.len() + 1).sum();
    if total > MAX_BYTES {
        return Err(ArgsError::TooLong);
    }
    if args.iter().any(|a| a.bytes().any(|b| b == 0)) {
        return Err(ArgsError::ContainsZero);
    }
    page[..8].copy_from_slice(&(total as u64).to_le_bytes());
    let mut at = 8;
    for arg in args {
        page[at..at + arg.len()].copy_from_slice(arg.as_bytes());
        page[at + arg.len()] = 0;
        at += arg.len() + 1;
    }
    Ok(())
}

/// The arguments in `page`. A length past the page or bytes that are not UTF-8 (a starter
/// that did not use [`encode`]) end the vector early rather than fail.
pub fn decode(page: &[u8]) -> impl Iterator<Item = &str> {
    let length = page.get(..8).map_or(0, |l| u64::from_le_bytes(l.try_into().unwrap_or([0; 8])));
    let end = 8usize.saturating_add(usize::try_from(length).unwrap_or(usize::MAX)).min(page.len());
    let body = page.get(8..end).unwrap_or(&[]);
    body.split(|&b| b == 0)
        .take(body.iter().filter(|&&b| b == 0).count())
        .map_while(|bytes| core::str::from_utf8(bytes).ok())
}

/// This program's arguments (empty if it was started without any).
#[cfg(target_os = "none")]
pub fn args() -> impl Iterator<Item = &'static str> {
    decode(PAGE.call_once(map_page).unwrap_or(&[]))
}

#[cfg(target_os = "none")]
static PAGE: spin::Once<Option<&'static [u8]>> = spin::Once::new();

/// Maps the arguments frame read-only, if there is one.
#[cfg(target_os = "none")]
fn map_page() -> Option<&'static [u8]> {
    use crate::cap::{CapRef, FrameCap};
    use abi::cap::{slot, CapType, Rights};
    let frame = CapRef(slot::ARGUMENTS);
    frame.identify().ok().filter(|i| i.ty == CapType::Frame && i.size >= PAGE_BYTES as u64)?;
    let mapping = crate::paging::with_current(|vspace| {
        let va = vspace.alloc_region(abi::cap::PAGE_SIZE, abi::cap::PAGE_SIZE)?;
        vspace.map_frame_pages(va, FrameCap(frame), 0, 1, Rights::READ)?;
        Ok::<_, crate::Error>(va)
    });
    // SAFETY: one page at `va` is mapped readable for the rest of the program, and the
    // frame is this program's alone (its starter unmapped its own mapping).
    mapping.ok().map(|va| unsafe { core::slice::from_raw_parts(va as *const u8, PAGE_BYTES) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_survive_the_page() {
        let mut page = [0xaa; PAGE_BYTES];
        encode(&["hello", "", "wörld"], &mut page).unwrap();
        assert_eq!(decode(&page).collect::<Vec<_>>(), ["hello", "", "wörld"]);
        encode(&[], &mut page).unwrap();
        assert_eq!(decode(&page).count(), 0);
    }

    #[test]
    fn too_long_or_zero_bytes_are_refused() {
        let mut page = [0; PAGE_BYTES];
        let long = "x".repeat(MAX_BYTES);
        assert_eq!(encode(&[&long], &mut page), Err(ArgsError::TooLong));
        assert_eq!(encode(&["a\0b"], &mut page), Err(ArgsError::ContainsZero));
        let fits = "x".repeat(MAX_BYTES - 1);
        assert_eq!(encode(&[&fits], &mut page), Ok(()));
    }

    #[test]
    fn a_corrupt_page_gives_fewer_arguments_not_a_crash() {
        let mut page = [0u8; PAGE_BYTES];
        page[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        page[8..12].copy_from_slice(b"ab\0c");
        assert_eq!(decode(&page).take(2).collect::<Vec<_>>(), ["ab", "c"]);
        page[8..12].copy_from_slice(&[0xff, 0, b'x', 0]);
        assert_eq!(decode(&page).count(), 0);
        assert_eq!(decode(&[1, 2]).count(), 0);
    }
}
