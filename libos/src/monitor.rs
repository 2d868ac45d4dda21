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
}

/// The argument the boot core's monitor starts init (or the program named by
/// `flotilla.init=`) with: this bit, and the number of cores below it.
pub const INIT_ARG: u64 = 1 << 63;

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

    pub fn describe(code: u64) -> &'static str {
        match code {
            OUT_OF_MEMORY => "out of memory on every core",
            BAD_CORE => "no such core",
            BAD_REQUEST => "malformed request",
            TIMEOUT => "another core's monitor did not answer",
            FAILED => "the operation failed",
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

    /// `(owned, free)` bytes of `core`, as this core's replica sees them.
    pub fn mem_info(core: u64) -> Result<(u64, u64), Error> {
        let ([owned, free, _], _) = call([op::MEM_INFO, core, 0, 0])?;
        Ok((owned, free))
    }
}
