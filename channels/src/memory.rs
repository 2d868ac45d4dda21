//! The memory a channel lives in, and the one seam between the ring and the hardware.
//!
//! The ring code never touches memory directly. It asks a [`Memory`] for a slice of
//! [`AtomicWord`]s and loads, stores and fences through that trait, with the ordering each
//! access needs. On a machine the words are `core::sync::atomic::AtomicU64`, laid over a
//! shared frame by [`Frame`]; under the loom model checker they are loom's atomics, which
//! record every access and fence so loom can try each interleaving and each value a load
//! may legally return (`tests/loom.rs` plugs them in). Because the seam is an ordinary
//! type parameter and not a `cfg` switch, the loom models are plain `#[test]`s that run
//! with every `cargo test`, against exactly the code that runs on Flotilla.
//!
//! Every word of the frame is accessed atomically, payload included, even where the
//! protocol orders the accesses and a plain load would do. The peer is another core's
//! code and may be wrong: if it rewrote a slot while this core read it, plain accesses
//! would be a data race, which Rust leaves undefined. Relaxed atomic loads and stores of
//! aligned words compile to the same `ldr`/`str` on AArch64, so this safety costs nothing.

use crate::error::FrameError;
use crate::layout::{Ring, Side, FRAME_BYTES, LINE_BYTES, WORD_BYTES};
use core::sync::atomic::{AtomicU64, Ordering};

/// A 64-bit word that can be loaded and stored atomically, and the fences of the memory
/// model it belongs to.
pub trait AtomicWord: Sync {
    fn load(&self, order: Ordering) -> u64;
    fn store(&self, value: u64, order: Ordering);
    /// A fence that orders accesses to words of this type.
    fn fence(order: Ordering);
}

impl AtomicWord for AtomicU64 {
    fn load(&self, order: Ordering) -> u64 {
        AtomicU64::load(self, order)
    }

    fn store(&self, value: u64, order: Ordering) {
        AtomicU64::store(self, value, order);
    }

    fn fence(order: Ordering) {
        core::sync::atomic::fence(order);
    }
}

/// Where a channel's words are. `words` must return the same slice on every call.
pub trait Memory {
    type Word: AtomicWord;
    fn words(&self) -> &[Self::Word];
}

/// A channel frame in memory the two cores share.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    words: &'a [AtomicU64],
}

impl<'a> Frame<'a> {
    /// The frame made of `words`, which must be aligned to a cache line and form a frame
    /// of a valid size (see [`crate::layout`]). It is safe: every access to the words is
    /// atomic, so whatever else uses them can break the channel but not memory safety.
    pub fn new(words: &'a [AtomicU64]) -> Result<Frame<'a>, FrameError> {
        if words.as_ptr().align_offset(LINE_BYTES) != 0 {
            return Err(FrameError::Misaligned);
        }
        // Either ring's geometry checks the size; they agree on it.
        Ring::new(words.len(), Side::A)?;
        Ok(Frame { words })
    }

    /// The frame of `size_bytes` bytes at `base`, typically a shared frame mapped into
    /// this address space.
    ///
    /// # Safety
    ///
    /// For all of `'a`, the `size_bytes` bytes at `base` must be mapped, readable and
    /// writable, and accessed only through channel endpoints (this core's and the peer
    /// core's), never by plain loads and stores; the region must be all zeros before
    /// either endpoint is first used (a frame fresh from retype is). Alignment and size
    /// are checked here.
    pub unsafe fn from_raw(base: *mut u8, size_bytes: usize) -> Result<Frame<'a>, FrameError> {
        if base.align_offset(LINE_BYTES) != 0 {
            return Err(FrameError::Misaligned);
        }
        if !size_bytes.is_multiple_of(WORD_BYTES) {
            return Err(FrameError::BadSize);
        }
        // SAFETY: the caller promises the bytes are valid for reads and writes for 'a and
        // only accessed atomically meanwhile; `base` is aligned for AtomicU64 (checked
        // above), and AtomicU64 has the size and bit validity of u64.
        let words = unsafe { core::slice::from_raw_parts(base.cast::<AtomicU64>(), size_bytes / WORD_BYTES) };
        Frame::new(words)
    }
}

impl Memory for Frame<'_> {
    type Word = AtomicU64;

    fn words(&self) -> &[AtomicU64] {
        self.words
    }
}

/// A zeroed, line-aligned [`FRAME_BYTES`] frame in ordinary memory: for the dispatchers of
/// one domain, which share an address space, on different cores, and for tests. It can be
/// a `static`.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct FrameBuffer {
    words: [AtomicU64; FRAME_BYTES / WORD_BYTES],
}

impl FrameBuffer {
    pub const fn new() -> FrameBuffer {
        FrameBuffer { words: [const { AtomicU64::new(0) }; FRAME_BYTES / WORD_BYTES] }
    }

    /// The frame in this buffer.
    pub fn frame(&self) -> Frame<'_> {
        Frame { words: &self.words }
    }

    /// The frame's words, for whoever plays the peer by writing them directly (tests) or
    /// sets up smaller frames within the buffer.
    pub fn words(&self) -> &[AtomicU64] {
        &self.words
    }
}

impl Default for FrameBuffer {
    fn default() -> FrameBuffer {
        FrameBuffer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_buffer_is_line_aligned_and_one_page() {
        let buffer = FrameBuffer::new();
        assert_eq!(core::mem::size_of_val(&buffer), FRAME_BYTES);
        assert_eq!(Frame::new(buffer.words()).unwrap().words().len(), FRAME_BYTES / WORD_BYTES);
    }

    #[test]
    fn frames_off_a_cache_line_are_refused() {
        let buffer = FrameBuffer::new();
        let words = &buffer.words()[1..1 + 256];
        assert_eq!(Frame::new(words).unwrap_err(), FrameError::Misaligned);
    }

    #[test]
    fn raw_frames_are_checked_for_alignment_and_size() {
        let buffer = FrameBuffer::new();
        let base = buffer.words.as_ptr().cast::<u8>().cast_mut();
        // SAFETY: every call below covers only bytes of `buffer`, which outlives the
        // frames and is accessed atomically only.
        unsafe {
            assert_eq!(Frame::from_raw(base.add(8), 1024).unwrap_err(), FrameError::Misaligned);
            assert_eq!(Frame::from_raw(base, 1020).unwrap_err(), FrameError::BadSize);
            assert_eq!(Frame::from_raw(base, 192).unwrap_err(), FrameError::BadSize);
            assert_eq!(Frame::from_raw(base, FRAME_BYTES).unwrap().words().len(), 512);
        }
    }
}
