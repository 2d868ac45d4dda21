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
//! | 47 | measuring time, not instructions ([`WALLCLOCK`]): repeat, with more work |
//! | 16..47 | the benchmarks to run, one bit per entry of [`NAMES`]; none means all |
//! | 0..16 | the number of cores to use |

/// `flotilla.init_arg=` of a normal boot (init, hello, the shell) that measures the boot
/// to the first prompt: init passes it on to the shell (see [`ShellStart`]), which prints
/// `bench: boot_prompt cores=N online_instructions=X prompt_instructions=Y` once its first
/// prompt is out and powers the machine off. `cargo xtask bench boot` boots this way too.
pub const BOOT_PROMPT_OPTION: u64 = 1;

/// What the shell's argument word says: init passes on its own argument without
/// [`crate::monitor::INIT_ARG`], so the number of cores is below
/// [`crate::monitor::INIT_OPTIONS_SHIFT`] and the options of `flotilla.init_arg=` above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellStart {
    /// Cores of the system; 0 when unknown (the shell then counts them).
    pub cores: u64,
    /// Report the boot to this first prompt and power off ([`BOOT_PROMPT_OPTION`]).
    pub boot_prompt: bool,
    /// Option bits the shell does not know (it says so and ignores them).
    pub unknown_options: u64,
}

impl ShellStart {
    pub fn decode(arg: u64) -> ShellStart {
        let options = arg >> SELECTION_SHIFT & SELECTION_BITS;
        ShellStart {
            cores: arg & CORES_BITS,
            boot_prompt: options & BOOT_PROMPT_OPTION != 0,
            unknown_options: options & !BOOT_PROMPT_OPTION,
        }
    }
}

/// The benchmarks by name, in the order of their bits in the argument.
pub const NAMES: [&str; 6] = ["urpc", "unmap", "update", "revoke", "compute", "boot"];

/// The selection is what `flotilla.init_arg=` passes to init (`cargo xtask bench NAME`
/// puts [`Request::selection`] there).
const SELECTION_SHIFT: u32 = crate::monitor::INIT_OPTIONS_SHIFT;
const SELECTION_BITS: u64 = (1 << 32) - 1;
const CORES_BITS: u64 = (1 << SELECTION_SHIFT) - 1;
/// In the selection: the counter is time (`cargo xtask bench --mode wallclock`), so the
/// runtime benchmarks take more work per measurement and report the median of several.
pub const WALLCLOCK: u64 = 1 << 31;

/// What `bench` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Power the machine off when done (started as init).
    pub as_init: bool,
    /// One bit per entry of [`NAMES`]; zero means every benchmark.
    pub selection: u64,
    pub cores: u64,
    /// The counter is time ([`WALLCLOCK`]).
    pub wallclock: bool,
}

impl Request {
    /// The request as the argument word.
    pub fn encode(self) -> u64 {
        let init = if self.as_init { crate::monitor::INIT_ARG } else { 0 };
        let wallclock = if self.wallclock { WALLCLOCK } else { 0 };
        init | (self.selection & SELECTION_BITS & !WALLCLOCK | wallclock) << SELECTION_SHIFT
            | self.cores & CORES_BITS
    }

    /// The request an argument word carries.
    pub fn decode(arg: u64) -> Request {
        let selection = arg >> SELECTION_SHIFT & SELECTION_BITS;
        Request {
            as_init: arg & crate::monitor::INIT_ARG != 0,
            selection: selection & !WALLCLOCK,
            cores: arg & CORES_BITS,
            wallclock: selection & WALLCLOCK != 0,
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
        let request =
            Request { as_init: true, selection: bit("update").unwrap() | 1, cores: 8, wallclock: false };
        assert_eq!(Request::decode(request.encode()), request);
        assert!(request.runs("update") && request.runs("urpc") && !request.runs("boot"));
        let timed = Request { wallclock: true, ..request };
        assert_eq!(Request::decode(timed.encode()), timed);
    }

    #[test]
    fn the_wallclock_bit_alone_still_selects_everything() {
        let request = Request::decode(crate::monitor::INIT_ARG | WALLCLOCK << SELECTION_SHIFT | 4);
        assert!(request.wallclock && request.selection == 0 && request.runs("compute"));
    }

    #[test]
    fn no_selection_runs_everything_and_unknown_names_have_no_bit() {
        let all = Request::decode(5);
        assert_eq!((all.cores, all.selection, all.as_init), (5, 0, false));
        assert!(NAMES.iter().all(|n| all.runs(n)));
        assert_eq!(bit("nonsense"), None);
    }

    #[test]
    fn the_shell_reads_cores_and_the_boot_prompt_option_from_inits_argument() {
        let from_init = |options: u64| {
            let arg = crate::monitor::INIT_ARG | options << crate::monitor::INIT_OPTIONS_SHIFT | 4;
            ShellStart::decode(arg & !crate::monitor::INIT_ARG)
        };
        assert_eq!(from_init(0), ShellStart { cores: 4, boot_prompt: false, unknown_options: 0 });
        assert_eq!(
            from_init(BOOT_PROMPT_OPTION),
            ShellStart { cores: 4, boot_prompt: true, unknown_options: 0 }
        );
        assert_eq!(from_init(0x6), ShellStart { cores: 4, boot_prompt: false, unknown_options: 0x6 });
        assert_eq!(ShellStart::decode(0).cores, 0);
    }

    #[test]
    fn the_init_argument_the_monitor_passes_is_a_request_for_everything() {
        let request = Request::decode(crate::monitor::INIT_ARG | 4);
        assert_eq!(request, Request { as_init: true, selection: 0, cores: 4, wallclock: false });
    }
}
