//! How values from every member combine into one.

/// A reduction: an associative and commutative way to combine two values, so that the
/// result does not depend on how the members' values are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Sum, wrapping modulo 2^64.
    Sum,
    Min,
    Max,
    Xor,
}

impl Reduce {
    /// `a` combined with `b`.
    pub fn combine(self, a: u64, b: u64) -> u64 {
        match self {
            Reduce::Sum => a.wrapping_add(b),
            Reduce::Min => a.min(b),
            Reduce::Max => a.max(b),
            Reduce::Xor => a ^ b,
        }
    }

    /// The value that changes nothing when combined: the start of a reduction.
    pub fn identity(self) -> u64 {
        match self {
            Reduce::Sum | Reduce::Max | Reduce::Xor => 0,
            Reduce::Min => u64::MAX,
        }
    }

    /// Every value of `values` combined.
    pub fn all(self, values: impl IntoIterator<Item = u64>) -> u64 {
        values.into_iter().fold(self.identity(), |a, b| self.combine(a, b))
    }

    /// The operation a message carries (its number, [`Reduce::from_word`] reads it back).
    pub fn word(self) -> u64 {
        self as u64
    }

    /// The operation numbered `word`, or `None`.
    pub fn from_word(word: u64) -> Option<Reduce> {
        [Reduce::Sum, Reduce::Min, Reduce::Max, Reduce::Xor].into_iter().find(|r| r.word() == word)
    }
}

/// Element by element: `into[i]` combined with `from[i]`, for the shorter length.
pub fn combine_into(op: Reduce, into: &mut [u64], from: impl IntoIterator<Item = u64>) {
    for (a, b) in into.iter_mut().zip(from) {
        *a = op.combine(*a, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_start_from_their_identity() {
        assert_eq!(Reduce::Sum.all([1, 2, 3]), 6);
        assert_eq!(Reduce::Sum.all([u64::MAX, 2]), 1, "sums wrap");
        assert_eq!(Reduce::Min.all([5, 2, 9]), 2);
        assert_eq!(Reduce::Min.all([]), u64::MAX);
        assert_eq!(Reduce::Max.all([5, 2, 9]), 9);
        assert_eq!(Reduce::Xor.all([0b101, 0b011]), 0b110);
    }

    #[test]
    fn an_operation_survives_its_word_and_nonsense_is_refused() {
        for op in [Reduce::Sum, Reduce::Min, Reduce::Max, Reduce::Xor] {
            assert_eq!(Reduce::from_word(op.word()), Some(op));
        }
        assert_eq!(Reduce::from_word(99), None);
    }

    #[test]
    fn vectors_combine_element_by_element() {
        let mut into = [1, 2, 3];
        combine_into(Reduce::Sum, &mut into, [10, 20, 30, 40]);
        assert_eq!(into, [11, 22, 33]);
    }
}
