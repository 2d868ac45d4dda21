//! The heap: `alloc`'s collections on memory libos maps on demand.
//!
//! The heap grows by mapping new memory when an allocation does not fit (libos's
//! `heap`), so a 64 MiB vector is 64 MiB more heap, mapped there and then, every page of
//! it real memory; dropping it keeps the memory mapped for later allocations, which the
//! statistics show. Many small allocations hold their values and, freed, leave the heap
//! as it was.

use super::vspace::pattern;
use crate::framework::{expect_eq, expect_that, Env, Outcome};
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use libos::abi::cap::PAGE_SIZE;
use libos::heap;

/// The size of the large vector.
const LARGE_BYTES: usize = 64 << 20;

pub fn the_heap_grows_to_hold_a_64_mib_vector_written_and_read_page_by_page(env: &Env) -> Outcome {
    env.grows_the_heap();
    let before = heap::stats();
    let mut bytes: Vec<u8> = vec![0; LARGE_BYTES];
    let grown = heap::stats();
    let large = LARGE_BYTES as u64;
    expect_that(
        grown.mapped_bytes >= before.mapped_bytes + large
            && grown.allocated_bytes >= before.allocated_bytes + large,
        format_args!("64 MiB more heap, mapped and allocated: {before:?} before, {grown:?} after"),
    )?;
    let page_bytes = PAGE_SIZE as usize;
    for (page, chunk) in bytes.chunks_exact_mut(page_bytes).enumerate() {
        let word = pattern(page as u64).to_le_bytes();
        chunk[..8].copy_from_slice(&word);
        chunk[page_bytes - 8..].copy_from_slice(&word);
    }
    let first_wrong = bytes.chunks_exact(page_bytes).enumerate().position(|(page, chunk)| {
        let word = pattern(page as u64).to_le_bytes();
        chunk[..8] != word || chunk[page_bytes - 8..] != word
    });
    expect_eq(first_wrong, None)?;
    drop(bytes);
    let after = heap::stats();
    expect_eq(after.allocated_bytes, before.allocated_bytes)?;
    // The heap never shrinks: the memory stays mapped for the next allocations.
    expect_eq(after.mapped_bytes, grown.mapped_bytes)
}

/// How many small objects [`many_small_objects_keep_their_values_and_free_back_to_the_heap`]
/// makes.
const SMALL_OBJECTS: u64 = 20_000;

pub fn many_small_objects_keep_their_values_and_free_back_to_the_heap(_env: &Env) -> Outcome {
    let before = heap::stats();
    let boxes: Vec<Box<[u64; 3]>> = (0..SMALL_OBJECTS).map(|i| Box::new([i, !i, pattern(i)])).collect();
    // A vector grown one element at a time moves itself to ever larger blocks.
    let mut grown = Vec::new();
    for i in 0..SMALL_OBJECTS {
        grown.push(pattern(i));
    }
    let boxes_hold = (0..).zip(&boxes).all(|(i, b)| **b == [i, !i, pattern(i)]);
    let grown_holds = (0..).zip(&grown).all(|(i, value)| *value == pattern(i));
    expect_eq((boxes_hold, grown_holds), (true, true))?;
    drop(boxes);
    drop(grown);
    expect_eq(heap::stats().allocated_bytes, before.allocated_bytes)
}
