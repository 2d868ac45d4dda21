//! The monitor's requests and messages for the name service and channel binding (see
//! `names.rs` for the design).

use crate::names::Entry;
use crate::serve::Monitor;
use crate::wire;
use libos::cap::{CapRef, EndpointCap};
use libos::monitor::{op, status, CONNECT_NOTICE};

type Answer = Result<([u64; 3], Option<CapRef>), u64>;

impl Monitor {
    /// A program's request about names, ports and connections; `None` if `op` is none.
    pub(crate) fn name_request(&mut self, op: u64, core: u64, [a, b, c]: [u64; 3]) -> Option<Answer> {
        let answer = match op {
            op::PORT => {
                let endpoint = self.caps.take_attached(a).ok_or(status::NOT_FOUND);
                endpoint.and_then(|endpoint| {
                    let port = self.names.bind_port(endpoint);
                    // The port keeps its own reference to the endpoint.
                    libos::cspace::discard(endpoint);
                    port.map(|port| ([port, 0, 0], None))
                })
            }
            op::PORT_FREE => self.names.free_port(a).map(|()| ([0; 3], None)),
            op::NOTIFY if (a as usize) < self.mesh.cores && b < libos::abi::method::NOTIFY_PORTS => {
                let made = libos::cspace::alloc_slot()
                    .and_then(|slot| libos::kernel::notify_create(a, b, slot).map(|()| slot));
                made.map(|slot| ([0; 3], Some(slot))).map_err(|_| status::FAILED)
            }
            op::NOTIFY => Err(status::BAD_REQUEST),
            op::EXPORT => self.export(a, [b, c]),
            op::UNEXPORT => self.unexport(a, b),
            op::LOOKUP => match self.names.lookup([a, b]) {
                Some(entry) => Ok(([entry.core, entry.service, self.mesh.me as u64], None)),
                None => Err(status::NOT_FOUND),
            },
            op::CONNECT if core as usize == self.mesh.me => self.connect_here(a, b),
            op::CONNECT if self.is_peer(core) => self.connect_remote(core as usize, [a, b, c]),
            op::CONNECT => Err(status::BAD_CORE),
            _ => return None,
        };
        Some(answer)
    }

    fn export(&mut self, nonce: u64, name: [u64; 2]) -> Answer {
        let endpoint = self.caps.take_attached(nonce).ok_or(status::NOT_FOUND)?;
        let is_endpoint = endpoint.identify().is_ok_and(|i| i.ty == libos::abi::cap::CapType::Endpoint);
        if !is_endpoint {
            libos::cspace::discard(endpoint);
            return Err(status::BAD_REQUEST);
        }
        match self.names.export(name, EndpointCap(endpoint)) {
            Ok(entry) => {
                let words = [wire::NAME_ADD, entry.name[0], entry.name[1], entry.core, entry.service];
                for peer in self.mesh.peers().collect::<alloc::vec::Vec<_>>() {
                    self.send(peer, &words);
                }
                Ok(([entry.service, 0, 0], None))
            }
            Err(code) => {
                libos::cspace::discard(endpoint);
                Err(code)
            }
        }
    }

    fn unexport(&mut self, service: u64, nonce: u64) -> Answer {
        let proof = self.caps.take_attached(nonce).ok_or(status::NOT_FOUND)?;
        let theirs = proof.identify().map(|i| i.base);
        libos::cspace::discard(proof);
        let ours = self.names.endpoint(service).ok_or(status::NOT_FOUND)?;
        if ours.cap().identify().map(|i| i.base) != theirs {
            return Err(status::BAD_REQUEST);
        }
        self.withdraw(service);
        Ok(([0; 3], None))
    }

    /// Drops `service` from every registry.
    fn withdraw(&mut self, service: u64) {
        self.names.remove(service);
        for peer in self.mesh.peers().collect::<alloc::vec::Vec<_>>() {
            self.send(peer, &[wire::NAME_REMOVE, service]);
        }
    }

    /// A client on this core connects to a service on this core: the service gets the
    /// client's endpoint, and they talk LMP.
    fn connect_here(&mut self, service: u64, nonce: u64) -> Answer {
        let client = self.caps.take_attached(nonce).ok_or(status::NOT_FOUND)?;
        let notice = [CONNECT_NOTICE, self.mesh.me as u64, 0, 0];
        let delivered = self.deliver_notice(service, notice, Some(client));
        libos::cspace::discard(client);
        delivered.map(|()| ([0; 3], None))
    }

    /// A client on this core connects to a service on `core`: that core's monitor hands the
    /// service the notice.
    fn connect_remote(&mut self, core: usize, [service, mailbox, port]: [u64; 3]) -> Answer {
        let token = self.token();
        self.send(core, &[wire::CONNECT_REQUEST, token, service, mailbox, port]);
        let mut answer = None;
        self.wait_for(|from, words| match *words {
            [wire::CONNECT_REPLY, t, code] if from == core && t == token => {
                answer = Some(code);
                true
            }
            _ => false,
        });
        match answer {
            Some(status::OK) => Ok(([0; 3], None)),
            Some(code) => Err(code),
            None => Err(status::TIMEOUT),
        }
    }

    /// Sends `notice` to this core's `service`; a dead service leaves every registry.
    fn deliver_notice(&mut self, service: u64, notice: [u64; 4], cap: Option<CapRef>) -> Result<(), u64> {
        let endpoint = self.names.endpoint(service).ok_or(status::NOT_FOUND)?;
        match endpoint.send(notice, cap) {
            Ok(()) => Ok(()),
            Err(libos::Error::Sys(libos::abi::SysError::DeadEndpoint)) => {
                self.withdraw(service);
                Err(status::NOT_FOUND)
            }
            Err(_) => Err(status::FAILED),
        }
    }

    /// A name service message from another monitor; false if `words` is none.
    pub(crate) fn on_name_message(&mut self, from: usize, words: &[u64]) -> bool {
        match *words {
            [wire::NAME_ADD, name0, name1, core, service] if core == from as u64 && service >> 32 == core => {
                self.names.add(Entry { name: [name0, name1], core, service });
            }
            [wire::NAME_REMOVE, service] => self.names.remove(service),
            [wire::CONNECT_REQUEST, token, service, mailbox, port] => {
                let notice = [CONNECT_NOTICE, from as u64, mailbox, port];
                let code = match self.deliver_notice(service, notice, None) {
                    Ok(()) => status::OK,
                    Err(code) => code,
                };
                self.send(from, &[wire::CONNECT_REPLY, token, code]);
            }
            // A late answer to a connect that timed out.
            [wire::CONNECT_REPLY, _, _] => {}
            _ => return false,
        }
        true
    }
}
