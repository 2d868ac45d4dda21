//! The `bench` program's console lines, read back: parsing, and the CSV tables written
//! from them.
//!
//! The program prints (`apps/bench/src/report.rs`)
//!
//! ```text
//! bench: NAME key=value key=value ...
//! bench: error WHAT: what went wrong
//! ```
//!
//! with names and keys of lower-case letters, digits and underscores, and values that are
//! decimal numbers (`12`, `2470.12`) or, for a parameter naming a choice, words of the
//! same letters as names (`strategy=atomic`). Anything else on the console is not ours and is
//! skipped; a line that starts with `bench: ` but breaks the shape is an error, so a
//! change on one side that the other does not follow fails loudly instead of quietly
//! losing a figure. Values are kept as the text printed, so a CSV file holds exactly what
//! the guest said, and two runs are compared by their text.

use std::fmt;

/// One result line: the benchmark's name and its fields in the order printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub benchmark: String,
    pub fields: Vec<(String, String)>,
}

impl Record {
    /// The text of field `key`.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of field `key` as a number.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.text(key)?.parse().ok()
    }

    /// The field printed last: the result, by the program's convention.
    pub fn result(&self) -> Option<(&str, &str)> {
        self.fields.last().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// A line of the `bench` program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Result(Record),
    /// `bench: error ...`: a measurement that failed its checks (the text after `error `).
    Error(String),
}

/// How a `bench: ` line breaks the shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing after `bench: `.
    NoName,
    /// The name has characters other than `a-z`, `0-9` and `_`.
    BadName(String),
    /// A name with no fields after it.
    NoFields(String),
    /// A word after the name that is not `key=value`.
    NotKeyValue(String),
    /// A key with characters other than `a-z`, `0-9` and `_`.
    BadKey(String),
    /// A value that is neither a decimal number nor a word.
    BadValue { key: String, value: String },
    /// The same key twice in one line.
    DuplicateKey(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NoName => f.write_str("no benchmark name"),
            ParseError::BadName(name) => write!(f, "`{name}` is not a benchmark name"),
            ParseError::NoFields(name) => write!(f, "`{name}` has no key=value fields"),
            ParseError::NotKeyValue(word) => write!(f, "`{word}` is not key=value"),
            ParseError::BadKey(key) => write!(f, "`{key}` is not a key"),
            ParseError::BadValue { key, value } => write!(f, "{key}=`{value}` is not a number or a word"),
            ParseError::DuplicateKey(key) => write!(f, "`{key}` appears twice"),
        }
    }
}

/// Reads one console line: `None` if it is not the `bench` program's.
pub fn parse_line(line: &str) -> Option<Result<Line, ParseError>> {
    let rest = line.trim_end_matches(['\r', '\n']).strip_prefix("bench: ")?;
    if let Some(text) = rest.strip_prefix("error ") {
        return Some(Ok(Line::Error(text.trim().to_string())));
    }
    Some(parse_record(rest).map(Line::Result))
}

fn parse_record(text: &str) -> Result<Record, ParseError> {
    let mut words = text.split_whitespace();
    let benchmark = words.next().ok_or(ParseError::NoName)?;
    if !is_identifier(benchmark) {
        return Err(ParseError::BadName(benchmark.to_string()));
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for word in words {
        let (key, value) = word.split_once('=').ok_or_else(|| ParseError::NotKeyValue(word.to_string()))?;
        if !is_identifier(key) {
            return Err(ParseError::BadKey(key.to_string()));
        }
        if !is_decimal(value) && !is_word(value) {
            return Err(ParseError::BadValue { key: key.to_string(), value: value.to_string() });
        }
        if fields.iter().any(|(k, _)| k == key) {
            return Err(ParseError::DuplicateKey(key.to_string()));
        }
        fields.push((key.to_string(), value.to_string()));
    }
    if fields.is_empty() {
        return Err(ParseError::NoFields(benchmark.to_string()));
    }
    Ok(Record { benchmark: benchmark.to_string(), fields })
}

fn is_identifier(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A word value: an identifier that starts with a letter (so never a number).
fn is_word(value: &str) -> bool {
    is_identifier(value) && value.starts_with(|c: char| c.is_ascii_lowercase())
}

/// `123` or `123.45`: digits, and optionally a point and more digits.
fn is_decimal(value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match value.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(value),
    }
}

/// Everything the `bench` program said in one boot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Console {
    pub records: Vec<Record>,
    /// The texts of its `bench: error` lines.
    pub errors: Vec<String>,
    /// Lines that start with `bench: ` but break the shape, with why.
    pub malformed: Vec<(String, ParseError)>,
}

impl Console {
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Console {
        let mut console = Console::default();
        for line in lines {
            match parse_line(line) {
                None => {}
                Some(Ok(Line::Result(record))) => console.records.push(record),
                Some(Ok(Line::Error(text))) => console.errors.push(text),
                Some(Err(e)) => console.malformed.push((line.to_string(), e)),
            }
        }
        console
    }

    /// The benchmarks' names, in the order they first appear.
    pub fn benchmarks(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for record in &self.records {
            if !names.contains(&record.benchmark.as_str()) {
                names.push(&record.benchmark);
            }
        }
        names
    }

    /// The records of `benchmark`, in order.
    pub fn of<'a>(&'a self, benchmark: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.benchmark == benchmark)
    }
}

/// A CSV table of records of one benchmark: a header of their keys, then one row each.
/// Every record must have the same keys in the same order (the program prints each
/// benchmark's lines from one place); the values are numbers or plain words, so nothing
/// needs quoting.
pub fn to_csv<'a>(records: impl IntoIterator<Item = &'a Record>) -> Result<String, String> {
    let mut records = records.into_iter().peekable();
    let Some(first) = records.peek() else { return Err("no records".into()) };
    let keys: Vec<&str> = first.fields.iter().map(|(k, _)| k.as_str()).collect();
    let mut csv = keys.join(",") + "\n";
    for record in records {
        let these: Vec<&str> = record.fields.iter().map(|(k, _)| k.as_str()).collect();
        if these != keys {
            return Err(format!(
                "{}: fields {} differ from the first line's {}",
                record.benchmark,
                these.join(","),
                keys.join(",")
            ));
        }
        let values: Vec<&str> = record.fields.iter().map(|(_, v)| v.as_str()).collect();
        csv += &(values.join(",") + "\n");
    }
    Ok(csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(benchmark: &str, fields: &[(&str, &str)]) -> Record {
        Record {
            benchmark: benchmark.into(),
            fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn a_result_line_gives_its_name_and_fields_in_order() {
        let line = "bench: urpc_rtt core=1 rounds=1000 instructions=12379859 instructions_per_op=12379.85";
        let expected = record(
            "urpc_rtt",
            &[
                ("core", "1"),
                ("rounds", "1000"),
                ("instructions", "12379859"),
                ("instructions_per_op", "12379.85"),
            ],
        );
        assert_eq!(parse_line(line), Some(Ok(Line::Result(expected.clone()))));
        assert_eq!(expected.number("instructions_per_op"), Some(12379.85));
        assert_eq!(expected.result(), Some(("instructions_per_op", "12379.85")));
    }

    #[test]
    fn a_parameter_may_be_a_word() {
        let line = "bench: update strategy=atomic cores=2 instructions_per_op=9.50";
        let Some(Ok(Line::Result(record))) = parse_line(line) else { panic!("{line} is a result") };
        assert_eq!(record.text("strategy"), Some("atomic"));
        assert_eq!(record.number("strategy"), None);
        assert_eq!(record.number("cores"), Some(2.0));
    }

    #[test]
    fn a_carriage_return_at_the_end_is_ignored() {
        let parsed = parse_line("bench: counter frequency_hz=1000000000\r");
        assert_eq!(parsed, Some(Ok(Line::Result(record("counter", &[("frequency_hz", "1000000000")])))));
    }

    #[test]
    fn an_error_line_keeps_its_text() {
        let parsed = parse_line("bench: error urpc_rtt core=2: pinging: the monitor refused: no such core");
        assert_eq!(
            parsed,
            Some(Ok(Line::Error("urpc_rtt core=2: pinging: the monitor refused: no such core".into())))
        );
    }

    #[test]
    fn other_console_lines_are_not_ours() {
        for line in ["all 4 cores online", "monitor: core 0 up", " bench: x a=1", "benchmark: x a=1", ""] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn lines_that_break_the_shape_say_how() {
        let cases = [
            ("bench: ", ParseError::NoName),
            ("bench: Urpc a=1", ParseError::BadName("Urpc".into())),
            ("bench: urpc_rtt", ParseError::NoFields("urpc_rtt".into())),
            ("bench: urpc_rtt core 1", ParseError::NotKeyValue("core".into())),
            ("bench: urpc_rtt =1", ParseError::BadKey("".into())),
            ("bench: urpc_rtt core-id=1", ParseError::BadKey("core-id".into())),
            ("bench: urpc_rtt core=X", ParseError::BadValue { key: "core".into(), value: "X".into() }),
            ("bench: urpc_rtt core=1x", ParseError::BadValue { key: "core".into(), value: "1x".into() }),
            ("bench: urpc_rtt core=", ParseError::BadValue { key: "core".into(), value: "".into() }),
            ("bench: urpc_rtt core=-1", ParseError::BadValue { key: "core".into(), value: "-1".into() }),
            ("bench: urpc_rtt t=1.", ParseError::BadValue { key: "t".into(), value: "1.".into() }),
            ("bench: urpc_rtt t=.5", ParseError::BadValue { key: "t".into(), value: ".5".into() }),
            ("bench: urpc_rtt t=1.2.3", ParseError::BadValue { key: "t".into(), value: "1.2.3".into() }),
            ("bench: urpc_rtt core=1 core=2", ParseError::DuplicateKey("core".into())),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_line(line), Some(Err(expected)), "{line:?}");
        }
    }

    #[test]
    fn a_console_sorts_results_errors_and_malformed_lines() {
        let console = Console::parse([
            "monitor: core 0 up",
            "bench: syscall_nop calls=1000 instructions=500002 instructions_per_op=500.00",
            "bench: error urpc_rtt core=1: pinging: timed out",
            "bench: urpc_rtt core=2 instructions_per_op=12847.20",
            "bench: urpc_rtt core=3 instructions_per_op=0ops",
            "bench: urpc_rtt core=3 instructions_per_op=14844.90",
        ]);
        assert_eq!(console.benchmarks(), ["syscall_nop", "urpc_rtt"]);
        assert_eq!(console.of("urpc_rtt").count(), 2);
        assert_eq!(console.errors, ["urpc_rtt core=1: pinging: timed out"]);
        assert_eq!(console.malformed.len(), 1);
    }

    #[test]
    fn csv_has_a_header_of_keys_and_a_row_per_record() {
        let rows = [
            record("urpc_rtt", &[("core", "1"), ("instructions_per_op", "12379.85")]),
            record("urpc_rtt", &[("core", "2"), ("instructions_per_op", "12847.20")]),
        ];
        assert_eq!(to_csv(&rows).unwrap(), "core,instructions_per_op\n1,12379.85\n2,12847.20\n");
    }

    #[test]
    fn csv_refuses_records_whose_fields_differ() {
        let rows = [
            record("urpc_rtt", &[("core", "1"), ("instructions_per_op", "1")]),
            record("urpc_rtt", &[("words", "3"), ("instructions_per_op", "1")]),
        ];
        assert!(to_csv(&rows).is_err());
        assert!(to_csv(&[]).is_err());
    }
}
