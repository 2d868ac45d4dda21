//! The console contract (docs/DESIGN.md §8) and the bring-up report, checked on a boot's output.

use crate::Boot;

/// What every core reported once the system is up.
#[derive(Debug)]
pub struct Bringup {
    pub lines: Vec<String>,
    /// The level each core says it entered at ("EL1" or "EL2"), by core id.
    pub entry_levels: Vec<String>,
}

/// The number in `core K: ...`, if the line starts that way.
fn core_of(line: &str) -> Option<usize> {
    line.strip_prefix("core ")?.split_once(':')?.0.parse().ok()
}

/// True if `text` contains `core K:` somewhere (a second core's line prefix).
fn has_core_prefix(text: &str) -> bool {
    text.match_indices("core ").any(|(at, _)| core_of(&text[at..]).is_some())
}

/// True if `line` is one whole line of one of the shapes the kernel prints. Two cores'
/// output mixed inside a line breaks every shape.
pub fn is_whole_line(line: &str) -> bool {
    let known_prefix = ["Flotilla ", "boot: ", "all ", "flotilla: "].iter().any(|p| line.starts_with(p));
    let core_line =
        core_of(line).is_some() && line.split_once(':').is_some_and(|(_, rest)| !has_core_prefix(rest));
    (known_prefix || core_line) && !line.contains('\u{fffd}')
}

/// Waits for `all N cores online` (printed by the boot core's monitor once every core's
/// monitor joined the mesh) and checks the bring-up of each of the `cores` cores:
/// one `cpu driver online` line each, a timer tick, an answered IPI, and the same kernel
/// static holding each core's own id. Also checks every line is whole and nothing faulted.
pub fn expect_all_online(boot: &Boot, cores: usize) -> Bringup {
    boot.wait_for(&format!("all {cores} cores online"));
    boot.wait_for_count("IPI received", cores);
    let lines = boot.lines();
    let fail = |what: String| -> ! {
        panic!("{what}\ncommand: {}\nconsole:\n{}", boot.description(), lines.join("\n"))
    };

    let mut entry_levels = Vec::new();
    let mut probe_address = None;
    for core in 0..cores {
        let prefix = format!("core {core}: ");
        let mine: Vec<&String> = lines.iter().filter(|l| l.starts_with(&prefix)).collect();
        let online: Vec<&&String> = mine.iter().filter(|l| l.contains("cpu driver online")).collect();
        if online.len() != 1 {
            fail(format!("core {core} printed `cpu driver online` {} times", online.len()));
        }
        let level = online[0].split("entered at ").nth(1).map(|s| s.trim_end_matches(')').to_string());
        entry_levels.push(level.unwrap_or_default());
        if !mine.iter().any(|l| l.contains("timer tick")) {
            fail(format!("core {core} never reported its timer ticking"));
        }
        let Some(ipi) = mine.iter().find(|l| l.contains("IPI received")) else {
            fail(format!("core {core} never received the boot core's IPI"));
        };
        // "core K: IPI received; per-core static PROBE at 0x... holds K"
        let (address, value) = ipi
            .split_once(" at ")
            .and_then(|(_, rest)| rest.split_once(" holds "))
            .unwrap_or_else(|| fail(format!("core {core}: unexpected IPI line `{ipi}`")));
        if value.trim() != core.to_string() {
            fail(format!("core {core} reads {value} from its private static: state is shared"));
        }
        match probe_address {
            None => probe_address = Some(address.to_string()),
            Some(ref a) if a != address => {
                fail(format!("core {core} has the probe at {address}, core 0 at {a}"))
            }
            Some(_) => {}
        }
    }
    if lines.iter().any(|l| l.contains(&format!("core {cores}: "))) {
        fail(format!("a core numbered {cores} or above came up"));
    }
    // The kernel's own lines come first; user programs may print after `all N cpu drivers
    // online`, and their lines must not carry a second core's kernel prefix either.
    let online =
        lines.iter().position(|l| l.starts_with("all ") && l.contains("cpu drivers online")).unwrap_or(0);
    if let Some(bad) = lines[..=online].iter().find(|l| !is_whole_line(l)) {
        fail(format!("console line is not one whole line: `{bad}`"));
    }
    if let Some(bad) = lines[online..].iter().find(|l| core_of(l).is_none() && has_core_prefix(l)) {
        fail(format!("a user line has a kernel line inside it: `{bad}`"));
    }
    if let Some(bad) =
        lines.iter().find(|l| l.contains("panic") || l.contains("fault") || l.contains("not started"))
    {
        fail(format!("unexpected error on the console: `{bad}`"));
    }
    Bringup { lines, entry_levels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_lines_are_not_whole() {
        assert!(is_whole_line("core 3: cpu driver online (mpidr 0x3, entered at EL1)"));
        assert!(is_whole_line("all 4 cpu drivers online (4 in the device tree)"));
        assert!(!is_whole_line("core 3: cpu drivcore 2: cpu driver online"));
        assert!(!is_whole_line("er online (mpidr 0x3)"));
    }
}
