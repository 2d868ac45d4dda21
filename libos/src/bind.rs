//! Channels between programs, found by name: a server [`export`]s a name and
//! [`Service::accept`]s connections; a client on any core [`bind`]s to the name and gets a
//! [`Connection`]. Across cores the connection is a URPC channel (`channels`' rings on a
//! frame both map, each side waking the other through a notify capability); on one core it
//! is LMP between two endpoints. Both carry messages of 1 to [`MAX_WORDS`] words, in order.
//!
//! The registry of names is replicated in every core's monitor (`monitor/src/names.rs`):
//! a lookup asks only this core's monitor. A name exported on another core reaches this
//! core's replica a message later; [`bind`] says `Error::Monitor(status::NOT_FOUND)` until
//! then.
//!
//! How a client on another core connects: it makes a channel frame from its own RAM, sends
//! a copy to the server's core (`crosscore::send`, to a mailbox it picks), gets a notify
//! port of its own core for waking, and asks its monitor to connect. The server's monitor
//! hands the server a notice `[CONNECT_NOTICE, client core, mailbox, port]`; the server
//! collects the frame, gets a port of its own, and says hello over the channel with its
//! port, which wakes the client; each side then asks its monitor for a notify capability
//! for the other's port. On one core the notice brings the client's endpoint, and the
//! server answers with an endpoint of its own for the connection.

use crate::cap::{CapRef, EndpointCap, FrameCap};
use crate::crosscore::{self, Mode};
use crate::error::Error;
use crate::lmp::Endpoint;
use crate::monitor::{self, op, status, CONNECT_NOTICE};
use crate::urpc::{Channel, NotifyCap, SleepOn};
use abi::cap::{CapType, Rights, PAGE_SIZE};
use channels::{Frame, Receiver, Sender, Side};

/// The longest message a connection carries.
pub const MAX_WORDS: usize = channels::layout::MAX_MESSAGE_WORDS;

/// Word 0 of the first message the server sends on a new connection.
const HELLO: u64 = 0x0068_656c_6c6f;

/// A name as the monitors keep it: up to 16 bytes, zero-padded.
fn pack(name: &str) -> Result<[u64; 2], Error> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 16 || bytes.contains(&0) {
        return Err(Error::Monitor(status::BAD_REQUEST));
    }
    let mut padded = [0u8; 16];
    padded[..bytes.len()].copy_from_slice(bytes);
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&padded[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    Ok([word(0), word(1)])
}

/// An exported name: connections to it arrive on its endpoint.
pub struct Service {
    endpoint: Endpoint,
    id: u64,
}

/// Exports `name` (1 to 16 bytes) on this core. A name is exported once in the whole
/// system; exporting it again is `Error::Monitor(status::BAD_REQUEST)`.
pub fn export(name: &str) -> Result<Service, Error> {
    let name = pack(name)?;
    let endpoint = Endpoint::for_self()?;
    let exported = crosscore::attach(endpoint.cap().cap())
        .and_then(|nonce| monitor::call([op::EXPORT, nonce, name[0], name[1]]));
    match exported {
        Ok(([id, _, _], _)) => Ok(Service { endpoint, id }),
        Err(e) => {
            let _ = endpoint.destroy();
            Err(e)
        }
    }
}

impl Service {
    /// The service's number in the registry.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Takes the name back from every registry, and ends the service's endpoint.
    pub fn withdraw(self) -> Result<(), Error> {
        let withdrawn = crosscore::attach(self.endpoint.cap().cap())
            .and_then(|nonce| monitor::call([op::UNEXPORT, self.id, nonce, 0]).map(drop));
        let destroyed = self.endpoint.destroy();
        withdrawn.and(destroyed)
    }

    /// Waits for the next client and sets up the connection to it.
    pub fn accept(&self) -> Result<Connection, Error> {
        loop {
            let notice = self.endpoint.cap().receive()?;
            let [tag, client_core, mailbox, port] = notice.words;
            if tag != CONNECT_NOTICE {
                discard(notice.cap);
                continue;
            }
            return match notice.cap {
                Some(client) => accept_here(EndpointCap(client)),
                None => accept_remote(client_core, mailbox, port),
            };
        }
    }
}

/// The server's side of a connection on one core: an endpoint for the client to send to.
fn accept_here(client: EndpointCap) -> Result<Connection, Error> {
    let own = Endpoint::for_self()?;
    if let Err(e) = client.send([HELLO, 0, 0, 0], Some(own.cap().cap())) {
        let _ = own.destroy();
        discard(Some(client.cap()));
        return Err(e);
    }
    Ok(Connection { link: Link::Lmp { peer: client, own } })
}

/// The server's side of a connection across cores: the client's frame, side B.
fn accept_remote(client_core: u64, mailbox: u64, client_port: u64) -> Result<Connection, Error> {
    let frame = crosscore::try_receive(mailbox)?;
    let words = crate::urpc::map_shared(frame, 0, 1)?;
    let (own, port) = own_port()?;
    let notify = notify_cap(client_core, client_port)?;
    let mut channel = Channel::open(words, Side::B, notify)?;
    channel.sender.send(&[HELLO, port], &mut SleepOn(own.cap())).map_err(|_| Error::BadChannelFrame)?;
    Ok(Connection { link: Link::Urpc { channel, own, port, notify } })
}

/// Connects to the service exported as `name`, on whichever core it is.
pub fn bind(name: &str) -> Result<Connection, Error> {
    let name = pack(name)?;
    let ([core, service, here], _) = monitor::call([op::LOOKUP, name[0], name[1], 0])?;
    if core == here {
        bind_here(here, service)
    } else {
        bind_remote(core, service)
    }
}

fn bind_here(here: u64, service: u64) -> Result<Connection, Error> {
    let own = Endpoint::for_self()?;
    let connected = crosscore::attach(own.cap().cap())
        .and_then(|nonce| monitor::call([op::CONNECT | here << 8, service, nonce, 0]))
        .and_then(|_| own.cap().receive());
    match connected {
        Ok(hello) if hello.words[0] == HELLO && hello.cap.is_some() => {
            let peer = EndpointCap(hello.cap.ok_or(Error::BadChannelFrame)?);
            Ok(Connection { link: Link::Lmp { peer, own } })
        }
        other => {
            if let Ok(message) = other.as_ref() {
                discard(message.cap);
            }
            let _ = own.destroy();
            Err(other.err().unwrap_or(Error::BadChannelFrame))
        }
    }
}

fn bind_remote(core: u64, service: u64) -> Result<Connection, Error> {
    let ram = crate::ram::alloc_ram(PAGE_SIZE, PAGE_SIZE)?;
    let frame = FrameCap(ram.make(CapType::Frame, PAGE_SIZE, 0)?);
    let words = crate::urpc::map_shared(frame.0, 0, 1)?;
    let (own, port) = own_port()?;
    let mailbox = crosscore::fresh_nonce(frame.0);
    crosscore::send(frame.0, core, mailbox, Rights::READ.union(Rights::WRITE), Mode::Copy)?;
    monitor::call([op::CONNECT | core << 8, service, mailbox, port])?;
    let memory = Frame::new(words).map_err(|_| Error::BadChannelFrame)?;
    let mut receiver = Receiver::new(memory, Side::A).map_err(|_| Error::BadChannelFrame)?;
    let server_port = match receiver.recv(&mut SleepOn(own.cap())) {
        Ok(&[HELLO, server_port]) => server_port,
        _ => return Err(Error::BadChannelFrame),
    };
    let notify = notify_cap(core, server_port)?;
    let sender = Sender::new(memory, Side::A, notify).map_err(|_| Error::BadChannelFrame)?;
    Ok(Connection { link: Link::Urpc { channel: Channel { sender, receiver }, own, port, notify } })
}

/// One side of a connection.
pub struct Connection {
    link: Link,
}

// A connection's channel is the big part, and there are few connections: boxing it would
// need a heap, which libos does not require.
#[allow(clippy::large_enum_variant)]
enum Link {
    Lmp { peer: EndpointCap, own: Endpoint },
    Urpc { channel: Channel, own: Endpoint, port: u64, notify: NotifyCap },
}

impl Connection {
    /// True if both ends are on this core (LMP).
    pub fn is_local(&self) -> bool {
        matches!(self.link, Link::Lmp { .. })
    }

    /// Sends `words` (1 to [`MAX_WORDS`]), waiting while the peer's queue is full.
    pub fn send(&mut self, words: &[u64]) -> Result<(), Error> {
        if words.is_empty() || words.len() > MAX_WORDS {
            return Err(Error::Monitor(status::BAD_REQUEST));
        }
        match &mut self.link {
            Link::Urpc { channel, own, .. } => {
                channel.sender.send(words, &mut SleepOn(own.cap())).map_err(|_| Error::BadChannelFrame)
            }
            Link::Lmp { peer, .. } => {
                // The length, then the words, four to a message.
                let mut first = [words.len() as u64, 0, 0, 0];
                let n = words.len().min(3);
                first[1..1 + n].copy_from_slice(&words[..n]);
                lmp_send(*peer, first)?;
                for chunk in words[n..].chunks(4) {
                    let mut message = [0; 4];
                    message[..chunk.len()].copy_from_slice(chunk);
                    lmp_send(*peer, message)?;
                }
                Ok(())
            }
        }
    }

    /// Waits for the next message and copies it into `out`: its length. A message longer
    /// than `out` is cut to fit (its length is still returned).
    pub fn recv(&mut self, out: &mut [u64]) -> Result<usize, Error> {
        match &mut self.link {
            Link::Urpc { channel, own, .. } => {
                let message =
                    channel.receiver.recv(&mut SleepOn(own.cap())).map_err(|_| Error::BadChannelFrame)?;
                let n = message.len().min(out.len());
                out[..n].copy_from_slice(&message[..n]);
                Ok(message.len())
            }
            Link::Lmp { own, .. } => {
                let first = own.cap().receive()?;
                discard(first.cap);
                let length = first.words[0] as usize;
                if length == 0 || length > MAX_WORDS {
                    return Err(Error::BadChannelFrame);
                }
                let mut got = 0;
                let mut take = |words: &[u64], got: &mut usize| {
                    for &w in words.iter().take(length - *got) {
                        if let Some(slot) = out.get_mut(*got) {
                            *slot = w;
                        }
                        *got += 1;
                    }
                };
                take(&first.words[1..], &mut got);
                while got < length {
                    let more = own.cap().receive()?;
                    discard(more.cap);
                    take(&more.words, &mut got);
                }
                Ok(length)
            }
        }
    }

    /// Ends this side: its endpoint and port go (the peer's next wait for a message that
    /// never comes is its own to bound).
    pub fn close(self) -> Result<(), Error> {
        match self.link {
            Link::Lmp { peer, own } => {
                discard(Some(peer.cap()));
                own.destroy()
            }
            Link::Urpc { own, port, notify, .. } => {
                discard(Some(notify.0));
                release_port(own, port)
            }
        }
    }
}

/// Sends one LMP message, waiting while the receiver's queue is full.
fn lmp_send(peer: EndpointCap, words: [u64; 4]) -> Result<(), Error> {
    loop {
        match peer.send(words, None) {
            Err(Error::Sys(abi::SysError::WouldBlock)) => crate::syscall::yield_now(),
            other => return other,
        }
    }
}

/// An endpoint of this program's and a notify port of this core bound to it.
pub(crate) fn own_port() -> Result<(Endpoint, u64), Error> {
    let own = Endpoint::for_self()?;
    match crosscore::attach(own.cap().cap()).and_then(|nonce| monitor::call([op::PORT, nonce, 0, 0])) {
        Ok(([port, _, _], _)) => Ok((own, port)),
        Err(e) => {
            let _ = own.destroy();
            Err(e)
        }
    }
}

/// Gives back what [`own_port`] made: the port, then the endpoint.
pub(crate) fn release_port(own: Endpoint, port: u64) -> Result<(), Error> {
    let _ = monitor::call([op::PORT_FREE, port, 0, 0]);
    own.destroy()
}

/// A notify capability for port `port` of core `core`.
pub(crate) fn notify_cap(core: u64, port: u64) -> Result<NotifyCap, Error> {
    match monitor::call([op::NOTIFY, core, port, 0])? {
        (_, Some(cap)) => Ok(NotifyCap(cap)),
        (_, None) => Err(Error::Monitor(status::FAILED)),
    }
}

/// Discards a capability that came with a message, if one did.
pub(crate) fn discard(cap: Option<CapRef>) {
    if let Some(cap) = cap {
        crate::cspace::discard(cap);
    }
}
