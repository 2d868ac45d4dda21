//! Requests to this core's monitor, over LMP: the one way a program reaches the system-wide
//! state the monitors keep (`docs/DESIGN.md` §7).
//!
//! A request is one LMP message to the endpoint in `abi::cap::slot::MONITOR`, `[op, a, b,
//! c]`, carrying a capability to the caller's reply endpoint; the monitor answers on that
//! endpoint with `[status, x, y, z]` and, for RAM, the capability. The monitor may take its
//! time (asking other cores first), and the caller waits.

/// The requests (word 0).
pub mod op {
    /// `[bytes]` → `[base, size]` + a RAM capability: RAM from this core's monitor, which
    /// serves it from memory its core owns, or obtains more from another core first.
    pub const RAM_ALLOC: u64 = 1;
    /// `[base]`: gives back RAM from [`RAM_ALLOC`]; everything made from it is destroyed.
    pub const RAM_FREE: u64 = 2;
    /// `[]` → `[members, divergent, digest]`: compares every monitor's replicas; `divergent`
    /// has a bit for each core whose digest differs from this core's (or did not answer).
    pub const CHECK: u64 = 3;
    /// `[core, rounds]` → `[ticks]`: this monitor pings `core`'s monitor `rounds` times, one
    /// at a time, and reports the counter ticks all of it took.
    pub const PING: u64 = 4;
    /// `[core]` → `[owned bytes, free bytes]`: core `core`'s memory as this core's replica
    /// sees it.
    pub const MEM_INFO: u64 = 5;
    /// `[core, messages, words]` → `[ticks, intact, latency]`: this monitor streams
    /// `messages` messages of `words` words (3 at least: tag, sequence, time sent) to
    /// `core`'s monitor as fast as the channel takes them; that monitor checks each and says
    /// how many arrived intact and in order, and the sum of their one-way latencies (counter
    /// ticks from sending to receiving). `ticks` is the whole stream, as the sender saw it.
    pub const STREAM: u64 = 6;
    /// `[status]`: powers the machine off (QEMU exits with `status` under semihosting).
    pub const POWER_OFF: u64 = 7;
    /// `[nonce]`, carrying a capability instead of a reply endpoint, and not answered: the
    /// monitor keeps the capability for a later request that names the same nonce (a
    /// request carries only one capability, and that is its reply endpoint). The nonce is
    /// the program's secret: whoever knows it may use the capability through the monitor.
    pub const ATTACH: u64 = 8;
    /// `op | core << 8`, `[nonce, entry, arg]` → `[domain, span]`: starts a dispatcher on
    /// `core` in the address space whose root table was attached with `nonce`, at `entry`
    /// with `x0` = `arg` (and no stack: the code at `entry` sets one up). `domain` names the
    /// spanned domain everywhere from then on, `span` this dispatcher of it.
    pub const SPAN: u64 = 9;
    /// `[nonce, vaddr, pages]` → `[cores]`: after this core unmapped pages of the address
    /// space attached with `nonce`, makes every other core the domain spans forget them
    /// (a TLB shootdown by message); answers once all have, with their cores as a mask.
    pub const SHOOTDOWN: u64 = 10;
    /// `op | core << 8`, `[module, arg]` → `[domain]`: starts boot module number `module`
    /// (archive order) as a new domain on `core`, with `x0` = `arg`.
    pub const SPAWN: u64 = 11;
    /// `[domain]`: ends the domain on every core it runs on (its dispatchers spanned to
    /// other cores, and its first one if a monitor started it).
    pub const KILL: u64 = 12;
    /// `[index]` → `[domain, cores, name]`: entry `index` of the list of every domain the
    /// monitors know, on all cores (`cores`: a bit per core it runs on; `name`: up to 8
    /// bytes of its name, little-endian); `NOT_FOUND` past the end.
    pub const LIST: u64 = 13;
    /// `[core]` → `[mpidr, ticks, state << 32 | dispatchers]`: core `core`'s MPIDR, the
    /// timer ticks it has taken and its live dispatchers, as its own monitor says
    /// ([`cores_state`]: whether it could); `BAD_CORE` past the last core.
    pub const CORES: u64 = 14;
    /// `op | core << 8`, `[nonce, mailbox, rights | move << 8]`: sends a copy of the
    /// capability attached with `nonce` (RAM or a frame) with `rights` to `core`, where it
    /// waits in that core's monitor under `mailbox` for [`CAP_RECEIVE`]; answers once it is
    /// there. With `move` the attached copy is deleted once the copy arrived (the program
    /// deletes its own). See `docs/capability-protocol.md`.
    pub const CAP_COPY: u64 = 32;
    /// `[mailbox, now]` → the capability sent to this core under `mailbox`, once it arrives;
    /// with `now` = 1, `NOT_FOUND` at once if it is not there.
    pub const CAP_RECEIVE: u64 = 33;
    /// `[nonce]`: deletes the attached copy, which the program's own was the last of on
    /// this core (it deleted that one after attaching); if it was the last anywhere the
    /// object is reclaimed.
    pub const CAP_DELETE: u64 = 34;
    /// `[nonce]` → the capability again: deletes every other copy and every descendant of
    /// the attached capability's object, on every core, and hands a copy back to keep.
    pub const CAP_REVOKE: u64 = 35;
    /// `[nonce, type | offset << 8, object bytes]` → the new capability: one object retyped
    /// from the attached capability, once its owner core agreed that no descendants exist
    /// anywhere (of concurrent retypes of one object, exactly one is agreed to).
    pub const CAP_RETYPE: u64 = 36;
    /// `[]` → `[reclaimed, records, outstanding]`: this core's monitor's capability books:
    /// objects it reclaimed, objects it keeps a record of, its requests still waiting.
    pub const CAP_INFO: u64 = 37;
    /// `[nonce]` → `[port]`: binds a notify port of this core to the endpoint attached with
    /// `nonce`; notifications of the port arrive there as `[NOTIFIED, port, 0, 0]`.
    pub const PORT: u64 = 38;
    /// `[port]`: gives a port from [`PORT`] back.
    pub const PORT_FREE: u64 = 39;
    /// `[core, port]` → a notify capability that wakes port `port` of core `core`.
    pub const NOTIFY: u64 = 40;
    /// `[nonce, name, name]` → `[service]`: exports the endpoint attached with `nonce` under
    /// the name (up to 16 bytes in two words), in every monitor's registry.
    pub const EXPORT: u64 = 41;
    /// `[name, name]` → `[core, service, this core]`: looks a name up in this monitor's
    /// replica of the registry.
    pub const LOOKUP: u64 = 42;
    /// `op | core << 8`, `[service, mailbox, port]`: asks service `service` on `core` to
    /// accept a channel whose frame was sent to `mailbox` there, waking the client through
    /// `port` of this core; on this core, `[service, nonce, 0]` with the client's endpoint
    /// attached under `nonce` instead. Answers once the service has the notice.
    pub const CONNECT: u64 = 43;
    /// `[service, nonce]`: withdraws this core's `service`, whose endpoint is attached with
    /// `nonce` (only its exporter has it), from every registry.
    pub const UNEXPORT: u64 = 44;
    /// `[]` → `[ticks]`: the counter (`libos::clock::now`) when this core's monitor had
    /// joined the mesh; on the boot core, the moment it printed `all N cores online`.
    /// Under icount that is the instructions every core executed since reset.
    pub const ONLINE_AT: u64 = 15;
    /// `[]` → `[]`: nothing; the cost of a request to the monitor and its answer alone.
    pub const NOP: u64 = 16;
}

/// The state in a [`op::CORES`] answer.
pub mod cores_state {
    /// The core's monitor never joined the mesh: its ticks and dispatchers are unknown.
    pub const SILENT: u64 = 0;
    /// The core's monitor joined and answered.
    pub const JOINED: u64 = 1;
}

/// Word 0 of the notice a service endpoint receives for each connect:
/// `[CONNECT_NOTICE, client core, mailbox, port]` (with the client's endpoint on one core).
pub const CONNECT_NOTICE: u64 = 0x0063_6f6e_6e65_6374;

/// A request's operation and the core it names, for the requests that name one in word 0.
pub fn split_op(word: u64) -> (u64, u64) {
    (word & 0xff, word >> 8)
}

/// The argument the boot core's monitor starts init (or the program named by
/// `flotilla.init=`) with: this bit, the options from `flotilla.init_arg=N` on the kernel
/// command line (a number below 2^32) from [`INIT_OPTIONS_SHIFT`] up, and the number of
/// cores below that.
pub const INIT_ARG: u64 = 1 << 63;

/// Where the options of `flotilla.init_arg=` sit in init's argument (bits 16..48).
pub const INIT_OPTIONS_SHIFT: u32 = 16;

/// Reply status codes (word 0 of a reply).
pub mod status {
    pub const OK: u64 = 0;
    /// Not enough memory on this core or any other.
    pub const OUT_OF_MEMORY: u64 = 1;
    /// The request named a core that does not exist or is not a member.
    pub const BAD_CORE: u64 = 2;
    /// The request is malformed, or names something it does not own.
    pub const BAD_REQUEST: u64 = 3;
    /// Another core's monitor did not answer.
    pub const TIMEOUT: u64 = 4;
    /// The monitor could not carry it out (a capability operation failed).
    pub const FAILED: u64 = 5;
    /// No such domain, attachment or list entry.
    pub const NOT_FOUND: u64 = 6;
    /// A revoke of the capability came first.
    pub const REVOKED: u64 = 16;
    /// Retype refused: objects made from it exist on some core.
    pub const DESCENDANTS_EXIST: u64 = 17;
    /// The destination could not take the capability (mailbox taken).
    pub const REFUSED: u64 = 18;
    /// Never sent: the monitor's own note that a request's answer went already, or will
    /// go later.
    pub const ANSWERED: u64 = u64::MAX;

    pub fn describe(code: u64) -> &'static str {
        match code {
            OUT_OF_MEMORY => "out of memory on every core",
            BAD_CORE => "no such core",
            BAD_REQUEST => "malformed request",
            TIMEOUT => "another core's monitor did not answer",
            FAILED => "the operation failed",
            NOT_FOUND => "no such domain or entry",
            REVOKED => "a revoke of the capability came first",
            DESCENDANTS_EXIST => "objects made from it exist on some core",
            REFUSED => "the destination refused the capability",
            _ => "unknown status",
        }
    }
}

#[cfg(target_os = "none")]
pub use client::*;

#[cfg(target_os = "none")]
mod client {
    use super::{op, status};
    use crate::cap::{CapRef, EndpointCap, RamCap};
    use crate::error::Error;
    use crate::lmp::Endpoint;
    use abi::cap::slot;

    /// This program's endpoint for the monitor's replies, made on first use.
    static REPLIES: spin::Once<Result<Endpoint, Error>> = spin::Once::new();

    /// Sends `request` and waits for the answer: `(words 1..4, capability)`.
    pub fn call(request: [u64; 4]) -> Result<([u64; 3], Option<CapRef>), Error> {
        let replies = REPLIES.call_once(Endpoint::for_self).as_ref().map_err(|e| *e)?;
        send(request, replies.cap().cap())?;
        let answer = replies.cap().receive()?;
        let [code, x, y, z] = answer.words;
        if code == status::OK {
            Ok(([x, y, z], answer.cap))
        } else {
            if let Some(cap) = answer.cap {
                crate::cspace::discard(cap);
            }
            Err(Error::Monitor(code))
        }
    }

    /// RAM from the monitor: `(capability, physical base, size)`.
    pub fn ram_alloc(bytes: u64) -> Result<(RamCap, u64, u64), Error> {
        match call([op::RAM_ALLOC, bytes, 0, 0])? {
            ([base, size, _], Some(cap)) => Ok((RamCap(cap), base, size)),
            _ => Err(Error::Monitor(status::FAILED)),
        }
    }

    /// Gives back RAM from [`ram_alloc`] (by its base) and deletes this program's capability.
    pub fn ram_free(ram: RamCap, base: u64) -> Result<(), Error> {
        call([op::RAM_FREE, base, 0, 0])?;
        crate::cspace::discard(ram.0);
        Ok(())
    }

    /// The replicas' consistency: `(members, divergent cores)`.
    pub fn check() -> Result<(u64, u64), Error> {
        let ([members, divergent, _], _) = call([op::CHECK, 0, 0, 0])?;
        Ok((members, divergent))
    }

    /// Counter ticks for `rounds` ping-pongs between this core's monitor and `core`'s.
    pub fn ping(core: u64, rounds: u64) -> Result<u64, Error> {
        Ok(call([op::PING, core, rounds, 0])?.0[0])
    }

    /// A stream to `core` (see [`op::STREAM`]).
    pub fn stream(core: u64, messages: u64, words: u64) -> Result<StreamResult, Error> {
        let ([ticks, intact, latency_ticks], _) = call([op::STREAM, core, messages, words])?;
        Ok(StreamResult { ticks, intact, latency_ticks })
    }

    /// What a stream measured.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct StreamResult {
        /// Counter ticks for the whole stream, from the first send to the receiver's answer.
        pub ticks: u64,
        /// Messages that arrived intact and in order.
        pub intact: u64,
        /// One-way latencies (sending to receiving), summed, in counter ticks.
        pub latency_ticks: u64,
    }

    /// Powers the machine off with `status`.
    pub fn power_off(status: u64) -> Result<(), Error> {
        call([op::POWER_OFF, status, 0, 0]).map(drop)
    }

    /// Leaves `cap` with the monitor under `nonce` (see [`op::ATTACH`]).
    pub fn attach(nonce: u64, cap: CapRef) -> Result<(), Error> {
        send([op::ATTACH, nonce, 0, 0], cap)
    }

    /// Sends the monitor `words` and `cap`. Its queue is shared by every program on this
    /// core: while it is full (back-pressure), give the core to the monitor to empty it.
    fn send(words: [u64; 4], cap: CapRef) -> Result<(), Error> {
        loop {
            match EndpointCap(CapRef(slot::MONITOR)).send(words, Some(cap)) {
                Err(Error::Sys(abi::SysError::WouldBlock)) => crate::syscall::yield_now(),
                other => return other,
            }
        }
    }

    /// Starts boot module number `module` on `core` (see [`op::SPAWN`]): its domain id.
    pub fn spawn(core: u64, module: u64, arg: u64) -> Result<u64, Error> {
        Ok(call([op::SPAWN | core << 8, module, arg, 0])?.0[0])
    }

    /// Ends `domain` everywhere.
    pub fn kill(domain: u64) -> Result<(), Error> {
        call([op::KILL, domain, 0, 0]).map(drop)
    }

    /// Entry `index` of the list of domains: `(domain, cores, name bytes)`, or `None` past
    /// the end.
    pub fn list(index: u64) -> Result<Option<(u64, u64, [u8; 8])>, Error> {
        match call([op::LIST, index, 0, 0]) {
            Ok(([domain, cores, name], _)) => Ok(Some((domain, cores, name.to_le_bytes()))),
            Err(Error::Monitor(status::NOT_FOUND)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What core `core` is doing (see [`op::CORES`]), or `None` past the last core.
    pub fn core_info(core: u64) -> Result<Option<CoreInfo>, Error> {
        match call([op::CORES, core, 0, 0]) {
            Ok(([mpidr, ticks, state], _)) => Ok(Some(CoreInfo {
                mpidr,
                joined: state >> 32 == super::cores_state::JOINED,
                ticks,
                dispatchers: state & 0xffff_ffff,
            })),
            Err(Error::Monitor(status::BAD_CORE)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One core, as [`core_info`] reports it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CoreInfo {
        pub mpidr: u64,
        /// Its monitor joined the mesh (otherwise `ticks` and `dispatchers` are unknown).
        pub joined: bool,
        pub ticks: u64,
        pub dispatchers: u64,
    }

    /// The counter when this core's monitor had joined the mesh (see [`op::ONLINE_AT`]).
    pub fn online_at() -> Result<u64, Error> {
        Ok(call([op::ONLINE_AT, 0, 0, 0])?.0[0])
    }

    /// A request that the monitor answers without doing anything (see [`op::NOP`]).
    pub fn nop() -> Result<(), Error> {
        call([op::NOP, 0, 0, 0]).map(drop)
    }

    /// `(owned, free)` bytes of `core`, as this core's replica sees them.
    pub fn mem_info(core: u64) -> Result<(u64, u64), Error> {
        let ([owned, free, _], _) = call([op::MEM_INFO, core, 0, 0])?;
        Ok((owned, free))
    }
}
