//! Result lines in the shape `cargo xtask bench` reads (`scripts/xtask/src/bench/lines.rs`),
//! the same as Flotilla's `bench` program prints:
//!
//! ```text
//! bench: NAME key=value key=value ...
//! bench: error NAME: what went wrong
//! ```
//!
//! Values are counts, ratios printed from integers with two decimals (rounded down, so the
//! same counts always give the same text), or lower-case words (`strategy=atomic`). Each
//! line goes to the console in one `write`, so lines of different threads never mix.

use core::fmt::{self, Write};

/// A value in a result line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Count(u64),
    /// `numerator / denominator` with two decimals, rounded down; a zero denominator
    /// counts as one.
    Ratio(u64, u64),
    Word(&'static str),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Ratio(numerator, denominator) => {
                let hundredths = u128::from(numerator) * 100 / u128::from(denominator.max(1));
                write!(f, "{}.{:02}", hundredths / 100, hundredths % 100)
            }
            Value::Word(word) => f.write_str(word),
        }
    }
}

/// A line being built in a fixed buffer; what does not fit is cut off (no result line
/// comes near the size).
pub struct Line {
    bytes: [u8; 512],
    len: usize,
}

impl Line {
    pub fn new() -> Line {
        Line { bytes: [0; 512], len: 0 }
    }

    /// `bench: NAME key=value ...` and a newline.
    pub fn result(benchmark: &str, fields: &[(&str, Value)]) -> Line {
        let mut line = Line::new();
        let _ = write!(line, "bench: {benchmark}");
        for (key, value) in fields {
            let _ = write!(line, " {key}={value}");
        }
        line.push_str("\n");
        line
    }

    /// `bench: error WHAT: WHY` and a newline.
    pub fn error(what: fmt::Arguments<'_>, why: &dyn fmt::Display) -> Line {
        let mut line = Line::new();
        let _ = writeln!(line, "bench: error {what}: {why}");
        line
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push_str(&mut self, text: &str) {
        let room = self.bytes.len() - self.len;
        let n = text.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&text.as_bytes()[..n]);
        self.len += n;
    }
}

impl Write for Line {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push_str(text);
        Ok(())
    }
}

#[cfg(target_os = "none")]
pub use on_linux::*;

#[cfg(target_os = "none")]
mod on_linux {
    use super::{Line, Value};
    use crate::sys::{self, Errno};
    use core::fmt;

    /// Why a measurement gave no result.
    #[derive(Clone, Copy, Debug)]
    pub enum Failure {
        /// A system call failed.
        Call(Errno),
        /// The measurement ran, but what it saw cannot be right: what, expected, got.
        Wrong(&'static str, u64, u64),
    }

    impl From<Errno> for Failure {
        fn from(errno: Errno) -> Failure {
            Failure::Call(errno)
        }
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Failure::Call(errno) => errno.fmt(f),
                Failure::Wrong(what, expected, got) => write!(f, "{what}: expected {expected}, got {got}"),
            }
        }
    }

    /// Fails unless `got` is `expected`.
    pub fn expect_eq(what: &'static str, got: u64, expected: u64) -> Result<(), Failure> {
        if got == expected {
            Ok(())
        } else {
            Err(Failure::Wrong(what, expected, got))
        }
    }

    /// Prints result and error lines on the console, and counts the errors.
    #[derive(Default)]
    pub struct Report {
        errors: u64,
    }

    impl Report {
        pub fn result(&mut self, benchmark: &str, fields: &[(&str, Value)]) {
            print(&Line::result(benchmark, fields));
        }

        pub fn error(&mut self, what: fmt::Arguments<'_>, why: &dyn fmt::Display) {
            self.errors += 1;
            print(&Line::error(what, why));
        }

        pub fn errors(&self) -> u64 {
            self.errors
        }
    }

    /// Writes `line` to standard output, the console; there is nowhere to report failing to.
    pub fn print(line: &Line) {
        let _ = sys::write(1, line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> &str {
        core::str::from_utf8(line.as_bytes()).unwrap()
    }

    #[test]
    fn ratios_have_two_decimals_rounded_down() {
        assert_eq!(Value::Ratio(2_470_129, 1000).to_string(), "2470.12");
        assert_eq!(Value::Ratio(2, 3).to_string(), "0.66");
        assert_eq!(Value::Ratio(5, 0).to_string(), "5.00");
        assert_eq!(Value::Ratio(u64::MAX, 1).to_string(), format!("{}.00", u64::MAX));
    }

    #[test]
    fn a_result_line_is_the_name_then_key_value_pairs() {
        let fields = [
            ("strategy", Value::Word("atomic")),
            ("cores", Value::Count(4)),
            ("instructions_per_op", Value::Ratio(10, 4)),
        ];
        let line = Line::result("update", &fields);
        assert_eq!(text(&line), "bench: update strategy=atomic cores=4 instructions_per_op=2.50\n");
    }

    #[test]
    fn an_error_line_names_what_failed() {
        let line = Line::error(format_args!("urpc_rtt core={}", 2), &"echo 3 came back as 4");
        assert_eq!(text(&line), "bench: error urpc_rtt core=2: echo 3 came back as 4\n");
    }

    #[test]
    fn a_line_too_long_is_cut_not_overflowed() {
        let mut line = Line::new();
        for _ in 0..100 {
            line.push_str("0123456789");
        }
        assert_eq!(line.as_bytes().len(), 512);
    }
}
