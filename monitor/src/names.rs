//! The name service, and what programs need to open channels between themselves.
//!
//! A server *exports* a name with an endpoint of its own (its service endpoint). Every
//! monitor keeps a replica of the registry, name → (core, service), so looking a name up
//! costs no message: the exporting monitor tells every other one ([`wire::NAME_ADD`]). Two
//! exports of one name at once on different cores are settled the same way everywhere:
//! the lower service number keeps the name.
//!
//! A client *connects* to a service through its own monitor, which asks the service's
//! ([`wire::CONNECT_REQUEST`]); that monitor hands the service endpoint a connect notice,
//! `[CONNECT_NOTICE, client core, mailbox, port]`, and answers. On one core the notice
//! carries the client's endpoint instead and the two talk LMP. Across cores the client
//! has sent a channel frame beforehand (`libos::crosscore::send`, to `mailbox` on the
//! server's core) and names the notify port it sleeps on; the server collects the frame,
//! and both sides wake each other through notify capabilities this monitor makes
//! ([`op::NOTIFY`]) for ports it gives out ([`op::PORT`]). `libos::bind` is the program's
//! side.
//!
//! A service whose endpoint has died (its program ended) is dropped from every replica the
//! first time a connect finds it dead ([`wire::NAME_REMOVE`]).
//!
//! [`wire::NAME_ADD`]: crate::wire::NAME_ADD
//! [`wire::NAME_REMOVE`]: crate::wire::NAME_REMOVE
//! [`wire::CONNECT_REQUEST`]: crate::wire::CONNECT_REQUEST
//! [`op::NOTIFY`]: libos::monitor::op::NOTIFY
//! [`op::PORT`]: libos::monitor::op::PORT

use alloc::vec::Vec;
use libos::abi::method::NOTIFY_PORTS;
use libos::cap::{CapRef, EndpointCap};
use libos::monitor::status;

/// A name: up to 16 bytes, little-endian in two words, zero-padded.
pub type Name = [u64; 2];

/// One entry of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: Name,
    pub core: u64,
    pub service: u64,
}

/// The port the monitor's own endpoint is bound to; the rest are for programs.
const MONITOR_PORT: u64 = 0;

pub struct Names {
    me: u64,
    registry: Vec<Entry>,
    /// This core's services: their number and service endpoint.
    local: Vec<(u64, EndpointCap)>,
    next_service: u64,
    /// Notify ports given out (a bit each).
    ports: u64,
}

impl Names {
    pub fn new(me: usize) -> Names {
        Names {
            me: me as u64,
            registry: Vec::new(),
            local: Vec::new(),
            next_service: 1,
            ports: 1 << MONITOR_PORT,
        }
    }

    /// Registers `endpoint` under `name` on this core: the entry to tell every other
    /// monitor.
    pub fn export(&mut self, name: Name, endpoint: EndpointCap) -> Result<Entry, u64> {
        if name == [0, 0] || self.lookup(name).is_some() {
            return Err(status::BAD_REQUEST);
        }
        let service = self.me << 32 | self.next_service;
        self.next_service += 1;
        let entry = Entry { name, core: self.me, service };
        self.local.push((service, endpoint));
        self.add(entry);
        Ok(entry)
    }

    /// Applies an entry another monitor (or this one) added.
    pub fn add(&mut self, entry: Entry) {
        match self.registry.iter_mut().find(|e| e.name == entry.name) {
            // The lower service number keeps the name, wherever the entries arrive first.
            Some(existing) if existing.service <= entry.service => {}
            Some(existing) => *existing = entry,
            None => self.registry.push(entry),
        }
    }

    /// Drops `service` from the registry (and, if it is this core's, its endpoint).
    pub fn remove(&mut self, service: u64) {
        self.registry.retain(|e| e.service != service);
        if let Some(index) = self.local.iter().position(|(s, _)| *s == service) {
            let (_, endpoint) = self.local.swap_remove(index);
            libos::cspace::discard(endpoint.cap());
        }
    }

    pub fn lookup(&self, name: Name) -> Option<Entry> {
        self.registry.iter().find(|e| e.name == name).copied()
    }

    /// The service endpoint of this core's `service`.
    pub fn endpoint(&self, service: u64) -> Option<EndpointCap> {
        self.local.iter().find(|(s, _)| *s == service).map(|(_, e)| *e)
    }

    /// A digest of the registry, the same on every monitor once all entries arrived.
    pub fn digest(&self) -> u64 {
        // Order-independent: a sum of mixed entries.
        self.registry.iter().fold(0u64, |sum, e| {
            let mixed = (e.name[0] ^ e.name[1].rotate_left(17) ^ e.core.rotate_left(40) ^ e.service)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            sum.wrapping_add(mixed ^ mixed >> 29)
        })
    }

    /// A notify port on this core, bound to `endpoint`.
    pub fn bind_port(&mut self, endpoint: CapRef) -> Result<u64, u64> {
        let port = (!self.ports).trailing_zeros() as u64;
        if port >= NOTIFY_PORTS {
            return Err(status::OUT_OF_MEMORY);
        }
        libos::kernel::notify_bind(port, Some(endpoint)).map_err(|_| status::BAD_REQUEST)?;
        self.ports |= 1 << port;
        Ok(port)
    }

    /// Gives a port back.
    pub fn free_port(&mut self, port: u64) -> Result<(), u64> {
        if port == MONITOR_PORT || port >= NOTIFY_PORTS || self.ports & 1 << port == 0 {
            return Err(status::BAD_REQUEST);
        }
        libos::kernel::notify_bind(port, None).map_err(|_| status::FAILED)?;
        self.ports &= !(1 << port);
        Ok(())
    }
}
