//! Why a test failed: a short message formatted into a fixed buffer.
//!
//! A failure does not count on the heap (the heap's own tests may be what broke it), so
//! it cannot carry a `String`. It carries [`MESSAGE_BYTES`] of text instead, enough for a
//! source position and an expected and actual value; longer text is cut, at a character
//! boundary so the message stays valid UTF-8, and ends in `…` so the cut is visible.

use core::fmt;

/// The most bytes of text a failure keeps.
pub const MESSAGE_BYTES: usize = 256;

/// What marks a message that was cut short.
const ELLIPSIS: &str = "…";

/// A test's failure: the reason, as text.
pub struct Failure {
    bytes: [u8; MESSAGE_BYTES],
    len: usize,
    cut: bool,
}

impl Failure {
    /// A failure whose message is `args`, formatted (and cut if too long).
    pub fn new(args: fmt::Arguments<'_>) -> Failure {
        let mut failure = Failure { bytes: [0; MESSAGE_BYTES], len: 0, cut: false };
        // Writing into the buffer never fails; a `Display` impl that does leaves what it
        // wrote so far, which is still the best description there is.
        let _ = fmt::Write::write_fmt(&mut failure, args);
        failure
    }

    /// The message.
    pub fn text(&self) -> &str {
        // The buffer only ever receives whole characters (see `write_str`), so it is UTF-8.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("(unreadable failure message)")
    }
}

impl fmt::Write for Failure {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        let room = MESSAGE_BYTES - self.len;
        if text.len() <= room {
            self.bytes[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
            self.len += text.len();
            return Ok(());
        }
        // Keep as much as fits together with the ellipsis, ending between characters.
        let mut keep = room.saturating_sub(ELLIPSIS.len());
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        for piece in [&text[..keep], ELLIPSIS] {
            self.bytes[self.len..self.len + piece.len()].copy_from_slice(piece.as_bytes());
            self.len += piece.len();
        }
        self.cut = true;
        Ok(())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_message_is_kept_whole() {
        let failure = Failure::new(format_args!("line {}: expected {}", 12, "RangeError"));
        assert_eq!(failure.text(), "line 12: expected RangeError");
    }

    #[test]
    fn a_long_message_is_cut_to_the_buffer_and_marked() {
        let long = "x".repeat(MESSAGE_BYTES * 2);
        let failure = Failure::new(format_args!("{long}"));
        assert_eq!(failure.text().len(), MESSAGE_BYTES);
        assert!(failure.text().ends_with(ELLIPSIS));
    }

    #[test]
    fn a_cut_falls_between_characters_and_later_text_is_dropped() {
        // Two-byte characters after one ASCII byte put a character across every even cut.
        let long = format!("a{}", "é".repeat(MESSAGE_BYTES));
        let failure = Failure::new(format_args!("{long}{}", "tail"));
        let text = failure.text();
        assert!(text.len() <= MESSAGE_BYTES);
        assert!(text.starts_with("aé") && text.ends_with(ELLIPSIS));
        assert!(!text.contains("tail"));
    }
}
