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
    /// `[]` → `[ticks]`: the counter (`libos::clock::now`) when this core's monitor had
    /// joined the mesh; on the boot core, the moment it printed `all N cores online`.
    /// Under icount that is the instructions every core executed since reset.
    pub const ONLINE_AT: u64 = 14;
}

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
        let monitor = EndpointCap(CapRef(slot::MONITOR));
        monitor.send(request, Some(replies.cap().cap()))?;
        let answer = replies.cap().receive()?;
        let [code, x, y, z] = answer.words;
        if code == status::OK {
            Ok(([x, y, z], answer.cap))
        } else {
            if let Some(cap) = answer.cap {
                let _ = cap.delete();
                crate::cspace::free_slot(cap);
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
        let _ = ram.0.delete();
        crate::cspace::free_slot(ram.0);
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
        EndpointCap(CapRef(slot::MONITOR)).send([op::ATTACH, nonce, 0, 0], Some(cap))
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

    /// The counter when this core's monitor had joined the mesh (see [`op::ONLINE_AT`]).
    pub fn online_at() -> Result<u64, Error> {
        Ok(call([op::ONLINE_AT, 0, 0, 0])?.0[0])
    }

    /// `(owned, free)` bytes of `core`, as this core's replica sees them.
    pub fn mem_info(core: u64) -> Result<(u64, u64), Error> {
        let ([owned, free, _], _) = call([op::MEM_INFO, core, 0, 0])?;
        Ok((owned, free))
    }
}
