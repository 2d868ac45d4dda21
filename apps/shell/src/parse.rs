//! From a line to a command: words split at spaces, the command name, and its arguments
//! checked (numbers, core ids, benchmark names) before anything runs, so that every
//! mistake is one line saying what is wrong. Plain Rust, host-tested.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A command and its checked arguments.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Help,
    Cores,
    Ps,
    /// `run PROGRAM [ARGS...] [on CORE]`.
    Run {
        program: &'a str,
        args: Vec<&'a str>,
        core: Option<u64>,
    },
    /// `span CORE...`: this shell's workers on those cores.
    Span(Vec<u64>),
    /// `span stop`.
    SpanStop,
    Kill(u64),
    Caps,
    Mem,
    Check,
    /// `bench NAME [cores N]`.
    Bench {
        name: &'a str,
        cores: Option<u64>,
    },
    Echo(Vec<&'a str>),
    Poweroff,
}

/// Every command, with its arguments and what it does: `help` prints this.
pub const HELP: &[(&str, &str)] = &[
    ("help", "this list"),
    ("cores", "each core: MPIDR, state, timer ticks, dispatchers"),
    ("ps", "the domains on every core"),
    ("run PROGRAM [ARGS] [on CORE]", "start a program (on this core: wait for it; Ctrl-C kills it)"),
    ("span CORE... | span stop", "run workers of this shell on more cores; stop them"),
    ("kill DOMAIN", "end a domain on every core (ids as ps shows them)"),
    ("caps", "the capabilities in this shell's CSpace"),
    ("mem", "memory each core owns and has free, from the replicated state"),
    ("check", "compare the monitors' replicas"),
    ("bench NAME [cores N]", "run a benchmark group (counter ticks; instructions under --icount)"),
    ("echo WORDS", "print the words"),
    ("poweroff", "turn the machine off"),
];

/// A number: decimal, or hexadecimal after `0x`.
pub fn number(word: &str) -> Result<u64, String> {
    let parsed = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => word.parse(),
    };
    parsed.map_err(|_| format!("`{word}` is not a number"))
}

/// A core id below `cores`.
pub fn core(word: &str, cores: u64) -> Result<u64, String> {
    let core = number(word)?;
    if core < cores {
        Ok(core)
    } else {
        Err(format!("no core {core} (cores are 0 to {})", cores.saturating_sub(1)))
    }
}

/// Parses `line` for a machine of `cores` cores: `Ok(None)` for an empty line, the error
/// line's text (after the command's name) for a mistake.
pub fn parse(line: &str, cores: u64) -> Result<Option<Command<'_>>, String> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some((&name, rest)) = words.split_first() else { return Ok(None) };
    let none =
        |command| if rest.is_empty() { Ok(command) } else { Err(format!("{name}: takes no arguments")) };
    let command = match name {
        "help" => none(Command::Help)?,
        "cores" => none(Command::Cores)?,
        "ps" => none(Command::Ps)?,
        "caps" => none(Command::Caps)?,
        "mem" => none(Command::Mem)?,
        "check" => none(Command::Check)?,
        "poweroff" => none(Command::Poweroff)?,
        "echo" => Command::Echo(rest.to_vec()),
        "run" => run(rest, cores).map_err(|e| format!("run: {e}"))?,
        "span" => match rest {
            [] => return Err("span: which cores? (span CORE..., or span stop)".into()),
            ["stop"] => Command::SpanStop,
            cores_named => Command::Span(
                cores_named
                    .iter()
                    .map(|w| core(w, cores))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("span: {e}"))?,
            ),
        },
        "kill" => match rest {
            [domain] => Command::Kill(number(domain).map_err(|e| format!("kill: {e}"))?),
            _ => return Err("kill: which domain? (kill DOMAIN, as ps shows it)".into()),
        },
        "bench" => bench(rest, cores).map_err(|e| format!("bench: {e}"))?,
        other => return Err(format!("{other}: unknown command (help lists them)")),
    };
    Ok(Some(command))
}

fn run<'a>(words: &[&'a str], cores: u64) -> Result<Command<'a>, String> {
    let Some((&program, mut args)) = words.split_first() else {
        return Err("which program? (run PROGRAM [ARGS] [on CORE])".into());
    };
    let mut on = None;
    if let [before @ .., "on", last] = args {
        on = Some(core(last, cores)?);
        args = before;
    } else if args.last() == Some(&"on") {
        return Err("on which core?".into());
    }
    Ok(Command::Run { program, args: args.to_vec(), core: on })
}

fn bench<'a>(words: &[&'a str], cores: u64) -> Result<Command<'a>, String> {
    let names = || libos::bench::NAMES.join(", ");
    let (name, options) = match words.split_first() {
        Some((&name, options)) => (name, options),
        None => return Err(format!("which benchmark? ({})", names())),
    };
    if libos::bench::bit(name).is_none() {
        return Err(format!("no benchmark `{name}` ({})", names()));
    }
    let cores = match options {
        [] => None,
        ["cores", n] => match number(n)? {
            n @ 1.. if n <= cores => Some(n),
            n => return Err(format!("cores {n}: between 1 and {cores}")),
        },
        _ => return Err("options: cores N".into()),
    };
    Ok(Command::Bench { name, cores })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command<'_> {
        parse(line, 4).unwrap().unwrap()
    }

    fn err(line: &str) -> String {
        parse(line, 4).unwrap_err()
    }

    #[test]
    fn plain_commands_take_no_arguments() {
        assert_eq!(ok("  cores "), Command::Cores);
        assert_eq!(ok("ps"), Command::Ps);
        assert_eq!(err("ps -a"), "ps: takes no arguments");
        assert_eq!(parse("   ", 4), Ok(None));
        assert_eq!(err("frobnicate now"), "frobnicate: unknown command (help lists them)");
    }

    #[test]
    fn run_takes_arguments_and_a_core_at_the_end() {
        assert_eq!(ok("run hello"), Command::Run { program: "hello", args: alloc::vec![], core: None });
        assert_eq!(
            ok("run hello a b on 3"),
            Command::Run { program: "hello", args: alloc::vec!["a", "b"], core: Some(3) }
        );
        assert_eq!(
            ok("run hello on the hill"),
            Command::Run { program: "hello", args: alloc::vec!["on", "the", "hill"], core: None }
        );
        assert_eq!(err("run hello on 4"), "run: no core 4 (cores are 0 to 3)");
        assert_eq!(err("run hello on x"), "run: `x` is not a number");
        assert_eq!(err("run hello on"), "run: on which core?");
        assert_eq!(err("run"), "run: which program? (run PROGRAM [ARGS] [on CORE])");
    }

    #[test]
    fn numbers_are_decimal_or_hex_and_nothing_else() {
        assert_eq!(number("42"), Ok(42));
        assert_eq!(number("0x2a"), Ok(42));
        assert!(number("-1").is_err() && number("0x").is_err() && number("4x").is_err());
        assert_eq!(ok("kill 0x100000000000002"), Command::Kill(0x100000000000002));
        assert_eq!(err("kill"), "kill: which domain? (kill DOMAIN, as ps shows it)");
        assert_eq!(err("kill twelve"), "kill: `twelve` is not a number");
    }

    #[test]
    fn span_names_existing_cores_or_stop() {
        assert_eq!(ok("span 1 3"), Command::Span(alloc::vec![1, 3]));
        assert_eq!(ok("span stop"), Command::SpanStop);
        assert_eq!(err("span 1 9"), "span: no core 9 (cores are 0 to 3)");
        assert!(err("span").starts_with("span: which cores?"));
    }

    #[test]
    fn bench_knows_its_names_and_options() {
        assert_eq!(ok("bench urpc"), Command::Bench { name: "urpc", cores: None });
        assert_eq!(ok("bench unmap cores 2"), Command::Bench { name: "unmap", cores: Some(2) });
        assert!(err("bench nosuch").starts_with("bench: no benchmark `nosuch` (urpc, unmap"));
        assert_eq!(err("bench urpc cores 9"), "bench: cores 9: between 1 and 4");
        assert_eq!(err("bench urpc fast"), "bench: options: cores N");
    }

    #[test]
    fn help_lists_every_command_the_parser_knows() {
        for (usage, _) in HELP {
            let name = usage.split(' ').next().unwrap();
            let unknown = alloc::format!("{name}: unknown command (help lists them)");
            assert_ne!(parse(name, 4).err(), Some(unknown), "{usage}");
        }
        assert_eq!(HELP.len(), 12);
    }

    #[test]
    fn echo_keeps_its_words() {
        assert_eq!(ok("echo  a   b"), Command::Echo(alloc::vec!["a", "b"]));
    }
}
