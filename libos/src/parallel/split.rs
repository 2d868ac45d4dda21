//! Splitting work: which part of `0..len` each of `parts` members takes.

use core::ops::Range;

/// The share of member `index` of `parts` in `0..len`: contiguous, in member order, and
/// as even as whole items allow (the first `len % parts` members take one more). Every
/// item belongs to exactly one member; a member past the items gets an empty range.
pub fn share(len: usize, parts: usize, index: usize) -> Range<usize> {
    let parts = parts.max(1);
    let (base, extra) = (len / parts, len % parts);
    let start = index * base + index.min(extra);
    let end = start + base + usize::from(index < extra);
    start.min(len)..end.min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_item_once_in_order() {
        for len in [0, 1, 7, 64, 1000, 1001] {
            for parts in 1..=9 {
                let mut next = 0;
                for index in 0..parts {
                    let range = share(len, parts, index);
                    assert_eq!(range.start, next, "len {len}, {parts} parts, member {index}");
                    next = range.end;
                }
                assert_eq!(next, len, "len {len}, {parts} parts");
            }
        }
    }

    #[test]
    fn shares_differ_by_at_most_one_item() {
        let sizes: Vec<usize> = (0..7).map(|i| share(100, 7, i).len()).collect();
        assert_eq!(sizes, [15, 15, 14, 14, 14, 14, 14]);
        assert!(share(3, 5, 4).is_empty(), "more members than items");
        assert_eq!(share(10, 0, 0), 0..10, "no members is taken as one");
    }
}
