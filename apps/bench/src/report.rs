//! Result lines, in the one shape `cargo xtask bench` reads:
//!
//! ```text
//! bench: NAME key=value key=value ...
//! bench: error NAME: what went wrong
//! ```
//!
//! Names and keys are lower-case words with underscores; values are decimal numbers,
//! either counts or [`Value::Ratio`]s with a fixed number of decimals, or, for a parameter
//! that names a choice (`strategy=atomic`), such a word. By convention the parameters come
//! first (`core`, `words`, `rounds`, ...), then `instructions`, the total measured, and
//! the result last. A ratio is printed from integers (rounded down), not through floating
//! point, so the same counts always print the same text, and two runs can be compared by
//! their lines.

use core::fmt;

/// A value in a result line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A whole number.
    Count(u64),
    /// A name: lower-case letters, digits and underscores.
    Word(&'static str),
    /// `numerator / denominator` with `decimals` decimals, rounded down (the denominator
    /// is never zero: callers check it first).
    Ratio { numerator: u64, denominator: u64, decimals: u32 },
}

impl Value {
    /// A ratio with two decimals: enough for instructions per operation.
    pub fn ratio(numerator: u64, denominator: u64) -> Value {
        Value::Ratio { numerator, denominator, decimals: 2 }
    }

    /// A ratio with four decimals, for rates well below one.
    pub fn small_ratio(numerator: u64, denominator: u64) -> Value {
        Value::Ratio { numerator, denominator, decimals: 4 }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Word(word) => f.write_str(word),
            Value::Ratio { numerator, denominator, decimals } => {
                let unit = 10u128.pow(decimals);
                let scaled = u128::from(numerator) * unit / u128::from(denominator.max(1));
                write!(f, "{}", scaled / unit)?;
                if decimals > 0 {
                    write!(f, ".{:0width$}", scaled % unit, width = decimals as usize)?;
                }
                Ok(())
            }
        }
    }
}

/// One result line: `bench: NAME key=value ...`.
pub struct ResultLine<'a> {
    pub benchmark: &'a str,
    pub fields: &'a [(&'a str, Value)],
}

impl fmt::Display for ResultLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bench: {}", self.benchmark)?;
        for (key, value) in self.fields {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

#[cfg(target_os = "none")]
pub use on_target::*;

#[cfg(target_os = "none")]
mod on_target {
    use super::{ResultLine, Value};
    use alloc::string::String;
    use core::fmt;

    /// Why a measurement gave no result.
    #[derive(Debug)]
    pub enum Failure {
        /// A libos call failed: what was being done, and the error.
        Call(&'static str, libos::Error),
        /// The measurement ran, but what it measured cannot be right.
        Implausible(String),
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Failure::Call(what, e) => write!(f, "{what}: {e}"),
                Failure::Implausible(what) => f.write_str(what),
            }
        }
    }

    /// The `map_err` for a libos call: `.map_err(call("sending a ping"))`.
    pub fn call(what: &'static str) -> impl Fn(libos::Error) -> Failure {
        move |e| Failure::Call(what, e)
    }

    /// `value`, if it is not zero (a count of instructions or messages that is zero means
    /// the measurement did not happen).
    pub fn nonzero(what: &str, value: u64) -> Result<u64, Failure> {
        if value == 0 {
            return Err(Failure::Implausible(alloc::format!("{what} is 0")));
        }
        Ok(value)
    }

    /// Fails unless `got` is `expected`.
    pub fn expect_eq(what: &str, got: u64, expected: u64) -> Result<(), Failure> {
        if got != expected {
            return Err(Failure::Implausible(alloc::format!("{what}: expected {expected}, got {got}")));
        }
        Ok(())
    }

    /// Prints result and error lines, and counts the errors.
    #[derive(Default)]
    pub struct Report {
        errors: u64,
    }

    impl Report {
        pub fn result(&mut self, benchmark: &str, fields: &[(&str, Value)]) {
            libos::println!("{}", ResultLine { benchmark, fields });
        }

        pub fn error(&mut self, benchmark: &str, failure: &Failure) {
            self.errors += 1;
            libos::println!("bench: error {benchmark}: {failure}");
        }

        /// Reports `outcome`'s failure, if it has one (its results are printed already).
        pub fn outcome(&mut self, benchmark: &str, outcome: Result<(), Failure>) {
            if let Err(failure) = outcome {
                self.error(benchmark, &failure);
            }
        }

        pub fn errors(&self) -> u64 {
            self.errors
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_print_two_decimals_rounded_down() {
        assert_eq!(Value::ratio(2_470_123, 1000).to_string(), "2470.12");
        assert_eq!(Value::ratio(1, 3).to_string(), "0.33");
        assert_eq!(Value::ratio(2, 3).to_string(), "0.66");
        assert_eq!(Value::ratio(5, 1).to_string(), "5.00");
        assert_eq!(Value::ratio(u64::MAX, 1).to_string(), format!("{}.00", u64::MAX));
        assert_eq!(Value::small_ratio(1_000_000, 111_471_366).to_string(), "0.0089");
        let whole = Value::Ratio { numerator: 7, denominator: 2, decimals: 0 };
        assert_eq!(whole.to_string(), "3");
    }

    #[test]
    fn a_result_line_is_the_name_then_key_value_pairs() {
        let fields = [("core", Value::Count(1)), ("instructions_per_op", Value::ratio(2470, 1))];
        let line = ResultLine { benchmark: "urpc_rtt", fields: &fields }.to_string();
        assert_eq!(line, "bench: urpc_rtt core=1 instructions_per_op=2470.00");
        let fields = [("strategy", Value::Word("atomic")), ("cores", Value::Count(2))];
        let line = ResultLine { benchmark: "update", fields: &fields }.to_string();
        assert_eq!(line, "bench: update strategy=atomic cores=2");
    }
}
