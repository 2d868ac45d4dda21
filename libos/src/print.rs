//! Formatted printing: the `print!` and `println!` macros.
//!
//! The console keeps the text of one `PRINT` call together: another program's output may
//! come before or after it, never inside. Formatting, though, produces text in many small
//! pieces (`"x = "`, then the number, then `"\n"`), and sending each piece as its own call
//! would let two programs' lines interleave word by word. So the macros format into a
//! [`PrintBuffer`] of [`BUFFER_BYTES`] on the stack and hand it to the kernel when it is
//! full and once at the end: a line that fits in the buffer is exactly one call.
//!
//! The buffer lives on the stack, not in a static, because a program has no heap yet and
//! a shared static buffer would need a lock. It flushes only at character boundaries, for
//! the reason [`crate::syscall::print_pieces`] gives.
//!
//! The macros drop errors from `PRINT`: there is nowhere to report them (the panic handler
//! prints through this same path), and a program that must know whether its text arrived
//! calls `syscall::print` itself.

use core::fmt;

/// The size of the buffer a `print!` formats into. A line longer than this reaches the
/// console in several calls.
pub const BUFFER_BYTES: usize = 256;

/// A fixed buffer of formatted text that hands itself to `sink` whenever it fills up, and
/// once more on [`flush`](PrintBuffer::flush).
pub struct PrintBuffer<F: FnMut(&str)> {
    bytes: [u8; BUFFER_BYTES],
    len: usize,
    sink: F,
}

impl<F: FnMut(&str)> PrintBuffer<F> {
    pub fn new(sink: F) -> PrintBuffer<F> {
        PrintBuffer { bytes: [0; BUFFER_BYTES], len: 0, sink }
    }

    /// Passes the buffered text, if any, to the sink and empties the buffer.
    pub fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `write_str` is the only writer, and it copies in the bytes of `&str`s cut
        // at character boundaries, so the buffered bytes are always valid UTF-8.
        let text = unsafe { core::str::from_utf8_unchecked(&self.bytes[..self.len]) };
        (self.sink)(text);
        self.len = 0;
    }
}

impl<F: FnMut(&str)> fmt::Write for PrintBuffer<F> {
    fn write_str(&mut self, mut text: &str) -> fmt::Result {
        while !text.is_empty() {
            let room = BUFFER_BYTES - self.len;
            let mut cut = text.len().min(room);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let (now, later) = text.split_at(cut);
            self.bytes[self.len..self.len + now.len()].copy_from_slice(now.as_bytes());
            self.len += now.len();
            text = later;
            // Full, or the next character does not fit in what room is left.
            if !text.is_empty() {
                self.flush();
            }
        }
        Ok(())
    }
}

/// Formats `args` and writes them to the console; the code behind `print!` and `println!`.
#[cfg(target_os = "none")]
pub fn print_fmt(args: fmt::Arguments<'_>) {
    use fmt::Write;
    let mut buffer = PrintBuffer::new(|text: &str| {
        let _ = crate::syscall::print(text);
    });
    // Writing into the buffer never fails; only a `Display` impl could return an error,
    // and then what was formatted so far is still worth printing.
    let _ = buffer.write_fmt(args);
    buffer.flush();
}

/// Prints to the console, like `std`'s `print!`.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::print::print_fmt(::core::format_args!($($arg)*))
    };
}

/// Prints to the console with a newline, like `std`'s `println!`; the line and its newline
/// go out in one `PRINT` call when they fit in the buffer.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! println {
    () => {
        $crate::print!("\n")
    };
    ($($arg:tt)*) => {
        $crate::print::print_fmt(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use fmt::Write;

    /// Formats `args` through a buffer and returns each piece the sink received.
    fn calls(args: fmt::Arguments<'_>) -> Vec<String> {
        let mut received = Vec::new();
        let mut buffer = PrintBuffer::new(|text: &str| received.push(text.to_string()));
        buffer.write_fmt(args).unwrap();
        buffer.flush();
        received
    }

    #[test]
    fn a_formatted_line_that_fits_is_one_call() {
        assert_eq!(
            calls(format_args!("hello from {} (arg {})\n", "hello", 7)),
            ["hello from hello (arg 7)\n"]
        );
    }

    #[test]
    fn nothing_written_means_no_call() {
        assert!(calls(format_args!("")).is_empty());
    }

    #[test]
    fn a_long_line_is_flushed_whenever_the_buffer_fills() {
        let line = "y".repeat(BUFFER_BYTES * 2 + 10);
        let received = calls(format_args!("{line}"));
        let lengths: Vec<usize> = received.iter().map(String::len).collect();
        assert_eq!(lengths, [BUFFER_BYTES, BUFFER_BYTES, 10]);
        assert_eq!(received.concat(), line);
    }

    #[test]
    fn flushes_fall_between_characters() {
        // Three-byte characters after one ASCII byte never end exactly at the buffer's end.
        let text = format!("a{}", "€".repeat(BUFFER_BYTES));
        let received = calls(format_args!("{text}"));
        assert!(received.len() > 1);
        assert!(received.iter().all(|piece| piece.len() <= BUFFER_BYTES));
        assert_eq!(received.concat(), text);
    }
}
