//! The line editor: bytes from the serial console in, a finished line out, and the echo
//! that keeps the terminal showing what is being typed.
//!
//! Keys: printable ASCII inserts at the cursor; Backspace (DEL or BS) and Delete remove;
//! Left and Right move; Home/End (or Ctrl-A/Ctrl-E) jump; Up and Down walk the history;
//! Ctrl-U clears the line; Ctrl-C abandons it; Enter (CR, LF or CR LF) finishes it. Arrows
//! arrive as the escape sequences terminals send (`ESC [ A`, or `ESC O A` in application
//! mode; Delete is `ESC [ 3 ~`, Home and End `ESC [ H`/`F` or `ESC [ 1 ~`/`4 ~`).
//!
//! The echo uses only printable characters, carriage return and backspace, which is all
//! the kernel's console passes through: backspace moves the cursor one to the left, and
//! anything else is redrawn. That works on every terminal, and keeps escape sequences out
//! of the console. The editor is plain state and bytes, so the host tests drive it.

use alloc::string::String;
use alloc::vec::Vec;

/// Lines kept for Up and Down.
pub const HISTORY_LINES: usize = 32;
/// The longest line the editor takes; further characters are refused.
pub const MAX_LINE: usize = 200;

const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const ESCAPE: u8 = 0x1b;
const CTRL_A: u8 = 0x01;
const CTRL_C: u8 = 0x03;
const CTRL_E: u8 = 0x05;
const CTRL_U: u8 = 0x15;

/// What one byte of input did.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing to act on yet.
    Editing,
    /// Enter: the finished line (also put in the history unless empty or a repeat).
    Line(String),
    /// Ctrl-C: the line was abandoned.
    Interrupted,
}

/// Where the editor is in an escape sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Started,
    /// After `ESC [` or `ESC O`, with the number read so far.
    Sequence(u32),
}

/// A line being edited, and the lines entered before.
pub struct Editor {
    line: Vec<u8>,
    cursor: usize,
    history: Vec<String>,
    /// While walking the history: which entry is shown, and the line being typed before.
    browsing: Option<(usize, Vec<u8>)>,
    escape: Escape,
    /// The last byte was CR: an LF right after it is the same Enter.
    after_cr: bool,
}

impl Default for Editor {
    fn default() -> Self {
        Editor::new()
    }
}

impl Editor {
    pub fn new() -> Editor {
        Editor {
            line: Vec::new(),
            cursor: 0,
            history: Vec::new(),
            browsing: None,
            escape: Escape::None,
            after_cr: false,
        }
    }

    /// Takes one byte of input, appending the echo to `echo`.
    pub fn feed(&mut self, byte: u8, echo: &mut String) -> Event {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match self.escape {
            Escape::Started => {
                self.escape = if byte == b'[' || byte == b'O' { Escape::Sequence(0) } else { Escape::None };
                return Event::Editing;
            }
            Escape::Sequence(n) => {
                if byte.is_ascii_digit() {
                    let digit = u32::from(byte - b'0');
                    self.escape = Escape::Sequence(n.saturating_mul(10).saturating_add(digit));
                } else {
                    self.escape = Escape::None;
                    self.sequence(byte, n, echo);
                }
                return Event::Editing;
            }
            Escape::None => {}
        }
        match byte {
            b'\n' if after_cr => Event::Editing,
            b'\r' | b'\n' => {
                echo.push('\n');
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.line.clear();
                self.cursor = 0;
                self.browsing = None;
                if !line.trim().is_empty() && self.history.last() != Some(&line) {
                    if self.history.len() == HISTORY_LINES {
                        self.history.remove(0);
                    }
                    self.history.push(line.clone());
                }
                Event::Line(line)
            }
            CTRL_C => {
                echo.push_str("^C\n");
                self.line.clear();
                self.cursor = 0;
                self.browsing = None;
                Event::Interrupted
            }
            ESCAPE => {
                self.escape = Escape::Started;
                Event::Editing
            }
            BACKSPACE | DELETE if self.cursor > 0 => {
                self.cursor -= 1;
                self.line.remove(self.cursor);
                echo.push(BACKSPACE as char);
                self.redraw_tail(echo, 1);
                Event::Editing
            }
            CTRL_A => {
                self.move_to(0, echo);
                Event::Editing
            }
            CTRL_E => {
                self.move_to(self.line.len(), echo);
                Event::Editing
            }
            CTRL_U => {
                self.replace_line(Vec::new(), echo);
                Event::Editing
            }
            0x20..=0x7e if self.line.len() < MAX_LINE => {
                self.line.insert(self.cursor, byte);
                self.cursor += 1;
                echo.push(byte as char);
                self.redraw_tail(echo, 0);
                Event::Editing
            }
            _ => Event::Editing,
        }
    }

    /// The end of an escape sequence: `final_byte` with its number `n`.
    fn sequence(&mut self, final_byte: u8, n: u32, echo: &mut String) {
        match (final_byte, n) {
            (b'A', _) => self.history_step(true, echo),
            (b'B', _) => self.history_step(false, echo),
            (b'C', _) if self.cursor < self.line.len() => self.move_to(self.cursor + 1, echo),
            (b'D', _) if self.cursor > 0 => self.move_to(self.cursor - 1, echo),
            (b'H', _) | (b'~', 1 | 7) => self.move_to(0, echo),
            (b'F', _) | (b'~', 4 | 8) => self.move_to(self.line.len(), echo),
            (b'~', 3) if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
                self.redraw_tail(echo, 1);
            }
            _ => {}
        }
    }

    /// Prints the line from the cursor on, blanks `erased` cells after it, and moves the
    /// terminal's cursor back to the editor's.
    fn redraw_tail(&self, echo: &mut String, erased: usize) {
        let tail = &self.line[self.cursor..];
        echo.extend(tail.iter().map(|&b| b as char));
        echo.extend(core::iter::repeat_n(' ', erased));
        echo.extend(core::iter::repeat_n(BACKSPACE as char, tail.len() + erased));
    }

    /// Moves the cursor to `to`: backspaces to go left, the characters passed over to go
    /// right.
    fn move_to(&mut self, to: usize, echo: &mut String) {
        if to < self.cursor {
            echo.extend(core::iter::repeat_n(BACKSPACE as char, self.cursor - to));
        } else {
            echo.extend(self.line[self.cursor..to].iter().map(|&b| b as char));
        }
        self.cursor = to;
    }

    /// Shows `line` instead of the current one, with the cursor at its end.
    fn replace_line(&mut self, line: Vec<u8>, echo: &mut String) {
        self.move_to(0, echo);
        let old = core::mem::replace(&mut self.line, line);
        echo.extend(self.line.iter().map(|&b| b as char));
        let erased = old.len().saturating_sub(self.line.len());
        echo.extend(core::iter::repeat_n(' ', erased));
        echo.extend(core::iter::repeat_n(BACKSPACE as char, erased));
        self.cursor = self.line.len();
    }

    /// Up (`older`) or Down through the history.
    fn history_step(&mut self, older: bool, echo: &mut String) {
        let shown = self.browsing.as_ref().map(|(i, _)| *i);
        let next = match (shown, older) {
            (None, true) => self.history.len().checked_sub(1),
            (None, false) => return,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i + 1 < self.history.len() => Some(i + 1),
            (Some(_), false) => None,
        };
        match next {
            Some(i) => {
                if self.browsing.is_none() {
                    self.browsing = Some((i, self.line.clone()));
                }
                if let Some((shown, _)) = self.browsing.as_mut() {
                    *shown = i;
                }
                let entry = self.history[i].as_bytes().to_vec();
                self.replace_line(entry, echo);
            }
            None => {
                // Down past the newest entry: back to what was being typed.
                let typed = self.browsing.take().map(|(_, typed)| typed).unwrap_or_default();
                self.replace_line(typed, echo);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input`; the events that were not `Editing`, and the whole echo.
    fn type_in(editor: &mut Editor, input: &[u8]) -> (Vec<Event>, String) {
        let mut echo = String::new();
        let events = input.iter().map(|&b| editor.feed(b, &mut echo)).filter(|e| *e != Event::Editing);
        (events.collect(), echo)
    }

    fn line(s: &str) -> Event {
        Event::Line(s.into())
    }

    #[test]
    fn typed_text_is_echoed_and_enter_finishes_the_line() {
        let mut e = Editor::new();
        let (events, echo) = type_in(&mut e, b"help\r");
        assert_eq!(events, [line("help")]);
        assert_eq!(echo, "help\n");
    }

    #[test]
    fn cr_lf_is_one_enter_and_lf_alone_is_one_too() {
        let mut e = Editor::new();
        let (events, _) = type_in(&mut e, b"a\r\nb\n\n");
        assert_eq!(events, [line("a"), line("b"), line("")]);
    }

    #[test]
    fn backspace_removes_the_character_before_the_cursor_and_redraws() {
        let mut e = Editor::new();
        let (events, echo) = type_in(&mut e, b"helo\x7f\x7flp\r");
        assert_eq!(events, [line("help")]);
        assert_eq!(echo, "helo\x08 \x08\x08 \x08lp\n");
        let (events, _) = type_in(&mut e, b"\x7f\x08x\r");
        assert_eq!(events, [line("x")], "backspace on an empty line does nothing");
    }

    #[test]
    fn arrows_move_the_cursor_for_inserting_and_deleting_in_the_middle() {
        let mut e = Editor::new();
        // "ecoh", Left twice, Delete ("o" goes), Right, type "o" -> "echo"? Step by step:
        let (events, _) = type_in(&mut e, b"ech\x1b[D\x1b[Dx\x1b[3~\x1b[C\x1b[Co\r");
        // "ech" -> cursor 1 ("e|ch") -> "ex|ch" -> delete "c" -> "ex|h" -> right twice (to end) -> "exho"
        assert_eq!(events, [line("exho")]);
        let (events, echo) = type_in(&mut e, b"bc\x01a\x05d\r");
        assert_eq!(events, [line("abcd")]);
        assert!(echo.starts_with("bc\x08\x08abc\x08\x08"), "{echo:?}");
    }

    #[test]
    fn up_and_down_walk_the_history_and_come_back_to_the_typed_line() {
        let mut e = Editor::new();
        type_in(&mut e, b"first\rsecond\rsecond\r");
        let (events, _) = type_in(&mut e, b"x\x1b[A\x1b[A\x1b[A\r");
        assert_eq!(events, [line("first")], "repeats are kept once; Up stops at the oldest");
        let (events, _) = type_in(&mut e, b"typed\x1b[A\x1b[B\x1b[B\r");
        assert_eq!(events, [line("typed")]);
        let (events, echo) = type_in(&mut e, b"\x1bOA\r");
        assert_eq!(events, [line("typed")], "application-mode arrows work too");
        assert!(echo.starts_with("typed"), "{echo:?}");
    }

    #[test]
    fn ctrl_c_abandons_and_ctrl_u_clears_the_line() {
        let mut e = Editor::new();
        let (events, echo) = type_in(&mut e, b"oops\x03");
        assert_eq!(events, [Event::Interrupted]);
        assert!(echo.ends_with("^C\n"));
        let (events, _) = type_in(&mut e, b"junk\x15ok\r");
        assert_eq!(events, [line("ok")]);
    }

    #[test]
    fn control_bytes_and_overlong_lines_are_refused_not_stored() {
        let mut e = Editor::new();
        let mut input = alloc::vec![b'\t', 0x00, 0xff];
        input.extend(core::iter::repeat_n(b'y', MAX_LINE + 10));
        input.push(b'\r');
        let (events, echo) = type_in(&mut e, &input);
        assert_eq!(events, [line(&"y".repeat(MAX_LINE))]);
        assert!(echo.bytes().all(|b| b == b'\n' || b == b'y'), "only what was taken is echoed");
    }

    #[test]
    fn the_history_keeps_the_newest_lines() {
        let mut e = Editor::new();
        for i in 0..HISTORY_LINES + 5 {
            type_in(&mut e, alloc::format!("cmd{i}\r").as_bytes());
        }
        assert_eq!(e.history.len(), HISTORY_LINES);
        assert_eq!(e.history[0], "cmd5");
    }
}
