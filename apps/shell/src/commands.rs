//! What each command does. Most are one or a few requests to the monitor of the shell's
//! core, which asks the others where the answer lives on other cores:
//!
//! | command | how |
//! |---|---|
//! | `cores` | `CORES` for each core: its MPIDR, and its ticks and dispatchers from its own monitor |
//! | `ps` | `LIST`: every monitor's domains, merged |
//! | `run` | on this core, `libos::spawn` with the arguments, waiting for the end; elsewhere `SPAWN` |
//! | `span` | `libos::span`: a worker of the shell's own domain on each core named |
//! | `kill` | `KILL`: the domain's home monitor ends it everywhere |
//! | `caps` | IDENTIFY on every slot of the shell's own CSpace: no monitor involved |
//! | `mem` | `MEM_INFO` per core: this core's replica of who owns which memory |
//! | `check` | `CHECK`: every monitor's replica digest compared |
//! | `bench` | the `bench` program, on this core, with a `libos::bench::Request` |
//! | `poweroff` | `POWER_OFF` |

use crate::editor::{Editor, Event};
use crate::parse::{Command, HELP};
use crate::uart::ConsoleInput;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use libos::abi::cap::{slot, CapType, Rights, L2_CNODE_SLOTS, PAGE_SIZE, SLOT_BYTES};
use libos::abi::CapAddr;
use libos::cap::{CapRef, EndpointCap};
use libos::lmp::Endpoint;
use libos::spawn::{Child, Exit, SpawnOptions};
use libos::{monitor, println, Error};

/// The core the shell runs on: init starts it on the boot core.
const SHELL_CORE: u64 = 0;
/// Badges on the shell's endpoint: console input, and the end of a program it started.
const INPUT_BADGE: u64 = 1;
const CHILD_BADGE: u64 = 2;
const CTRL_C: u8 = 0x03;
/// A program run on this core gets this share of the shell's free RAM.
const CHILD_RAM_SHARE: u64 = 2;
/// The span workers' task: count the primes below this.
const PRIMES_BELOW: u64 = 200_000;

/// Bumped by `span stop`: workers started under an older value end.
static SPAN_GENERATION: AtomicU64 = AtomicU64::new(0);

pub struct Shell {
    /// Receives console interrupts and exit notices (told apart by badge).
    endpoint: Endpoint,
    /// The badged copy given to programs as their exit endpoint (kept, so the badge lives).
    child_exit: EndpointCap,
    input: ConsoleInput,
    editor: Editor,
    pub cores: u64,
    /// Typed while a program ran: read before anything new.
    typed_ahead: Vec<u8>,
    /// The shell's own domain id, once `span` made it one the monitors know.
    own_domain: Option<u64>,
}

impl Shell {
    pub fn new(cores: u64) -> Result<Shell, String> {
        let cores = if cores == 0 { count_cores() } else { cores };
        let endpoint = Endpoint::for_self().map_err(|e| alloc::format!("no endpoint: {e}"))?;
        let badged = |badge| {
            let copy = libos::cspace::alloc_slot()?;
            endpoint.cap().cap().mint_to(copy, Rights::ALL, badge)?;
            Ok::<_, Error>(EndpointCap(copy))
        };
        let input_cap = badged(INPUT_BADGE).map_err(|e| alloc::format!("no endpoint copy: {e}"))?;
        let child_exit = badged(CHILD_BADGE).map_err(|e| alloc::format!("no endpoint copy: {e}"))?;
        let input = ConsoleInput::open(input_cap).map_err(|e| alloc::format!("no console input: {e}"))?;
        Ok(Shell {
            endpoint,
            child_exit,
            input,
            editor: Editor::new(),
            cores,
            typed_ahead: Vec::new(),
            own_domain: None,
        })
    }

    /// Waits for a whole line, echoing as it is typed. Ctrl-C gives an empty line.
    pub fn read_line(&mut self) -> String {
        let mut echo = String::new();
        let mut pending = core::mem::take(&mut self.typed_ahead);
        loop {
            let mut used = 0;
            let mut finished = None;
            for &byte in &pending {
                used += 1;
                match self.editor.feed(byte, &mut echo) {
                    Event::Editing => {}
                    Event::Line(line) => finished = Some(line),
                    Event::Interrupted => finished = Some(String::new()),
                }
                if finished.is_some() {
                    break;
                }
            }
            pending.drain(..used);
            if let Some(line) = finished {
                libos::print!("{echo}");
                self.typed_ahead = pending;
                return line;
            }
            if !echo.is_empty() {
                libos::print!("{echo}");
                echo.clear();
            }
            match self.endpoint.cap().receive() {
                Ok(message) if message.badge == INPUT_BADGE => {
                    if let Err(e) = self.input.take(|b| pending.push(b)) {
                        println!("shell: console input: {e}");
                    }
                }
                // The end of a program no one waits for any more: nothing to do.
                Ok(_) => {}
                Err(e) => println!("shell: receive failed: {e}"),
            }
        }
    }

    pub fn execute(&mut self, command: Command<'_>) {
        match command {
            Command::Help => help(),
            Command::Cores => cores(self.cores),
            Command::Ps => self.ps(),
            Command::Run { program, args, core } => self.run(program, &args, core),
            Command::Span(cores) => self.span(&cores),
            Command::SpanStop => {
                SPAN_GENERATION.fetch_add(1, Ordering::AcqRel);
                println!("span: workers told to stop");
            }
            Command::Kill(domain) => self.kill(domain),
            Command::Caps => caps(),
            Command::Mem => mem(self.cores),
            Command::Check => check(),
            Command::Bench { name, cores } => self.bench(name, cores.unwrap_or(self.cores)),
            Command::Echo(words) => println!("{}", words.join(" ")),
            Command::Poweroff => {
                println!("powering off");
                if let Err(e) = monitor::power_off(0) {
                    println!("poweroff: {e}");
                }
            }
        }
    }

    fn run(&mut self, program: &str, args: &[&str], core: Option<u64>) {
        let Some(module) = module_index(program) else {
            println!("run: no program `{program}` (programs: {})", program_names().join(", "));
            return;
        };
        match core {
            Some(core) if core != SHELL_CORE => {
                if !args.is_empty() {
                    println!(
                        "run: arguments reach programs on core {SHELL_CORE} only; on core {core} a program \
                         gets its core number"
                    );
                    return;
                }
                match monitor::spawn(core, module, core) {
                    Ok(domain) => println!("{program} started on core {core} as domain {domain:#x}"),
                    Err(e) => println!("run: {program} on core {core}: {e}"),
                }
            }
            _ => {
                let options = SpawnOptions { arg: SHELL_CORE, args, ..SpawnOptions::default() };
                self.run_here(program, options);
            }
        }
    }

    /// Starts `program` on this core and waits for its end (Ctrl-C kills it).
    fn run_here(&mut self, program: &str, options: SpawnOptions<'_>) {
        // Half the shell's free RAM, or less while that is not free in one piece.
        let mut ram_bytes = (libos::ram::free_bytes() / CHILD_RAM_SHARE) & !(PAGE_SIZE - 1);
        let child = loop {
            let options = SpawnOptions { ram_bytes, exit_endpoint: Some(self.child_exit), ..options };
            match libos::spawn::spawn_with(program, options) {
                Ok(child) => break child,
                Err(Error::OutOfRam) if ram_bytes > libos::spawn::DEFAULT_CHILD_RAM => {
                    ram_bytes = (ram_bytes / 2) & !(PAGE_SIZE - 1);
                }
                Err(e) => {
                    println!("run: cannot start {program}: {e}");
                    return;
                }
            }
        };
        let ended = self.wait_for(&child);
        println!("{program} {}", describe(ended));
        if let Err(e) = child.reclaim() {
            println!("run: cannot reclaim {program}: {e}");
        }
    }

    /// Waits for `child`'s exit notice, reading the keyboard meanwhile.
    fn wait_for(&mut self, child: &Child) -> Option<Exit> {
        loop {
            let message = match self.endpoint.cap().receive() {
                Ok(message) => message,
                Err(e) => {
                    println!("shell: receive failed: {e}");
                    return None;
                }
            };
            match message.badge {
                CHILD_BADGE => return Exit::from_notice(message.words),
                INPUT_BADGE => {
                    let mut interrupted = false;
                    let typed = &mut self.typed_ahead;
                    let taken = self.input.take(|b| {
                        if b == CTRL_C {
                            interrupted = true;
                        } else {
                            typed.push(b);
                        }
                    });
                    if let Err(e) = taken {
                        println!("shell: console input: {e}");
                    }
                    if interrupted {
                        println!("^C");
                        if let Err(e) = child.kill() {
                            println!("shell: cannot kill it: {e}");
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn ps(&self) {
        println!("{:<20} {:<12} name", "domain", "cores");
        for index in 0.. {
            match monitor::list(index) {
                Ok(Some((domain, cores, name))) => {
                    let name = if Some(domain) == self.own_domain {
                        "shell (this one)".into()
                    } else {
                        name_of(name)
                    };
                    println!("{domain:<#20x} {:<12} {name}", core_list(cores));
                }
                Ok(None) => break,
                Err(e) => {
                    println!("ps: {e}");
                    break;
                }
            }
        }
    }

    fn kill(&mut self, domain: u64) {
        if Some(domain) == self.own_domain {
            println!("kill: domain {domain:#x} is this shell (`span stop` ends its workers)");
            return;
        }
        if domain_name(domain).as_deref() == Some("init") {
            println!("kill: domain {domain:#x} is init, which holds this shell: it would end the shell too");
            return;
        }
        match monitor::kill(domain) {
            Ok(()) => println!("killed domain {domain:#x}"),
            Err(e) => println!("kill: domain {domain:#x}: {e}"),
        }
    }

    fn span(&mut self, cores: &[u64]) {
        let generation = SPAN_GENERATION.load(Ordering::Acquire);
        for &core in cores {
            match libos::span::span(core, worker, generation << 16 | core, 4 * PAGE_SIZE) {
                Ok(spanned) => {
                    self.own_domain = Some(spanned.domain);
                    println!(
                        "span: worker on core {core} (domain {:#x}, dispatcher {})",
                        spanned.domain, spanned.span
                    );
                }
                Err(e) => println!("span: core {core}: {e}"),
            }
        }
    }

    fn bench(&mut self, name: &str, cores: u64) {
        let selection = libos::bench::bit(name).unwrap_or(0);
        let request = libos::bench::Request { as_init: false, selection, cores, wallclock: false };
        let options = SpawnOptions { arg: request.encode(), ..SpawnOptions::default() };
        self.run_here("bench", options);
    }
}

/// A span worker: counts primes, says so, and sleeps (in `wfi`, so its core still idles)
/// until `span stop`.
fn worker(data: u64) {
    let (generation, core) = (data >> 16, data & 0xffff);
    let (ticks, primes) = libos::clock::measure(|| (2..PRIMES_BELOW).filter(|&n| is_prime(n)).count());
    println!("span: worker on core {core} counted {primes} primes below {PRIMES_BELOW} in {ticks} ticks");
    while SPAN_GENERATION.load(Ordering::Acquire) == generation {
        libos::syscall::wait_for_interrupt();
    }
}

fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d))
}

fn help() {
    for (usage, what) in HELP {
        println!("  {usage:<30} {what}");
    }
}

fn cores(count: u64) {
    for core in 0..count {
        match monitor::core_info(core) {
            Ok(Some(info)) if info.joined => println!(
                "core {core}: mpidr {:#x}, online, {} ticks, {} dispatcher{}",
                info.mpidr,
                info.ticks,
                info.dispatchers,
                if info.dispatchers == 1 { "" } else { "s" }
            ),
            Ok(Some(info)) => println!("core {core}: mpidr {:#x}, its monitor never joined", info.mpidr),
            Ok(None) => break,
            Err(e) => println!("core {core}: {e}"),
        }
    }
}

fn mem(cores: u64) {
    let mib = |bytes: u64| bytes >> 20;
    for core in 0..cores {
        match monitor::mem_info(core) {
            Ok((owned, free)) => println!("core {core}: owns {} MiB, {} MiB free", mib(owned), mib(free)),
            Err(e) => println!("core {core}: {e}"),
        }
    }
}

fn check() {
    match monitor::check() {
        Ok((members, 0)) => println!("replicas agree on cores {}", core_list(members)),
        Ok((_, divergent)) => println!("replicas differ on cores {}", core_list(divergent)),
        Err(e) => println!("check: {e}"),
    }
}

/// Every non-empty slot of the shell's CSpace.
fn caps() {
    let root_slots = CapRef(slot::ROOT_CNODE).identify().map_or(0, |i| i.size / SLOT_BYTES) as u32;
    let mut count = 0;
    for l1 in 0..root_slots {
        // An L1 slot without an L2 CNode fails the lookup. (Probe slot 1 of L1 slot 0:
        // address 0 never names a capability.)
        let probe = CapRef(CapAddr::new(l1, u32::from(l1 == 0)));
        if probe.identify() == Err(Error::Sys(libos::abi::SysError::FailedLookup)) {
            continue;
        }
        for l2 in 0..L2_CNODE_SLOTS as u32 {
            let Ok(info) = CapRef(CapAddr::new(l1, l2)).identify() else { continue };
            if info.ty == CapType::Null {
                continue;
            }
            count += 1;
            let mut line =
                alloc::format!("{l1}:{l2:<4} {:<10} {:?}", alloc::format!("{:?}", info.ty), info.rights);
            if info.size != 0 {
                line.push_str(&alloc::format!(" base {:#x} size {}", info.base, size(info.size)));
            }
            if info.badge != 0 {
                line.push_str(&alloc::format!(" badge {}", info.badge));
            }
            println!("{line}");
        }
    }
    println!("{count} capabilities");
}

/// `bytes` in the largest unit that divides it.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => alloc::format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => alloc::format!("{} KiB", b >> 10),
        b => alloc::format!("{b} bytes"),
    }
}

/// How a program ended, for `NAME ...`.
fn describe(ended: Option<Exit>) -> String {
    match ended {
        Some(Exit::Exited(status)) => alloc::format!("exited with status {status}"),
        Some(Exit::Killed) => "was killed".into(),
        Some(Exit::Faulted { syndrome, address, pc }) => {
            let (class, has_address) = exception_class(syndrome);
            let at = if has_address { alloc::format!(" at address {address:#x}") } else { String::new() };
            alloc::format!("faulted: {class}{at} (pc {pc:#x}, ESR {syndrome:#x}); it is gone")
        }
        None => "ended, but the notice could not be read".into(),
    }
}

/// The exception class of an ESR (Arm ARM, ESR_EL1.EC, bits 31:26), for the classes a
/// program can cause, and whether FAR holds the faulting address for it (aborts only).
fn exception_class(syndrome: u64) -> (&'static str, bool) {
    match (syndrome >> 26) & 0x3f {
        0x00 => ("undefined instruction", false),
        0x20 => ("instruction abort", true),
        0x22 => ("misaligned pc", true),
        0x24 => ("data abort", true),
        0x26 => ("misaligned stack pointer", false),
        0x3c => ("breakpoint", false),
        _ => ("exception", false),
    }
}

/// The boot modules a program can be started from.
fn program_names() -> Vec<&'static str> {
    (0..).map_while(libos::spawn::module_name).collect()
}

fn module_index(program: &str) -> Option<u64> {
    program_names().iter().position(|&p| p == program).map(|i| i as u64)
}

/// The cores of a mask, as `0,2,3`.
fn core_list(mask: u64) -> String {
    let cores: Vec<String> =
        (0..64).filter(|c| mask & (1 << c) != 0).map(|c| alloc::format!("{c}")).collect();
    cores.join(",")
}

/// A `LIST` name word as text.
fn name_of(name: [u8; 8]) -> String {
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..end]).into_owned()
}

/// The name `ps` shows for `domain`, if it is listed.
fn domain_name(domain: u64) -> Option<String> {
    (0..).map_while(|i| monitor::list(i).ok().flatten()).find(|e| e.0 == domain).map(|e| name_of(e.2))
}

/// The number of cores, asked of the monitors (when no one said).
fn count_cores() -> u64 {
    (0..).take_while(|&c| matches!(monitor::core_info(c), Ok(Some(_)))).count() as u64
}
