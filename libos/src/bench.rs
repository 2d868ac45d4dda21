//! The argument of the `bench` program: which benchmarks to run, on how many cores, and
//! whether to power the machine off at the end.
//!
//! `bench` is started two ways: by the boot core's monitor in place of init
//! (`flotilla.init=bench`), when it runs what it was asked and powers off, and by the
//! shell's `bench NAME`, when it runs and exits. Both pass one word:
//!
//! | bits | meaning |
//! |---|---|
//! | 63 | started as init ([`crate::monitor::INIT_ARG`]): power off when done |
//! | 16..48 | the benchmarks to run, one bit per entry of [`NAMES`]; none means all |
//! | 0..16 | the number of cores to use |

/// The benchmarks by name, in the order of their bits in the argument.
pub const NAMES: [&str; 6] = ["urpc", "unmap", "update", "revoke", "compute", "boot"];

/// The selection is what `flotilla.init_arg=` passes to init (`cargo xtask bench NAME`
/// puts [`Request::selection`] there).
const SELECTION_SHIFT: u32 = crate::monitor::INIT_OPTIONS_SHIFT;
const SELECTION_BITS: u64 = (1 << 32) - 1;
const CORES_BITS: u64 = (1 << SELECTION_SHIFT) - 1;

/// What `bench` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Power the machine off when done (started as init).
    pub as_init: bool,
    /// One bit per entry of [`NAMES`]; zero means every benchmark.
    pub selection: u64,
    pub cores: u64,
}

impl Request {
    /// The request as the argument word.
    pub fn encode(self) -> u64 {
        let init = if self.as_init { crate::monitor::INIT_ARG } else { 0 };
        init | (self.selection & SELECTION_BITS) << SELECTION_SHIFT | self.cores & CORES_BITS
    }

    /// The request an argument word carries.
    pub fn decode(arg: u64) -> Request {
        Request {
            as_init: arg & crate::monitor::INIT_ARG != 0,
            selection: arg >> SELECTION_SHIFT & SELECTION_BITS,
            cores: arg & CORES_BITS,
        }
    }

    /// Whether the benchmark called `name` is to run.
    pub fn runs(&self, name: &str) -> bool {
        self.selection == 0 || bit(name).is_some_and(|b| self.selection & b != 0)
    }
}

/// The selection bit of the benchmark called `name`, or `None` if there is none.
pub fn bit(name: &str) -> Option<u64> {
    NAMES.iter().position(|&n| n == name).map(|i| 1 << i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_encoding() {
        let request = Request { as_init: true, selection: bit("update").unwrap() | 1, cores: 8 };
        assert_eq!(Request::decode(request.encode()), request);
        assert!(request.runs("update") && request.runs("urpc") && !request.runs("boot"));
    }

    #[test]
    fn no_selection_runs_everything_and_unknown_names_have_no_bit() {
        let all = Request::decode(5);
        assert_eq!((all.cores, all.selection, all.as_init), (5, 0, false));
        assert!(NAMES.iter().all(|n| all.runs(n)));
        assert_eq!(bit("nonsense"), None);
    }

    #[test]
    fn the_init_argument_the_monitor_passes_is_a_request_for_everything() {
        let request = Request::decode(crate::monitor::INIT_ARG | 4);
        assert_eq!(request, Request { as_init: true, selection: 0, cores: 4 });
    }
}
