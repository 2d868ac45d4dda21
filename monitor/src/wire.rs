//! What monitors say to each other: the first word of every message between monitors is a
//! tag saying which protocol it belongs to; the rest is that protocol's.
//!
//! The mesh's own messages (bring-up, liveness, measurements) are defined here; the
//! replicated-state protocols encode their messages themselves (`replica`), after their tag.

/// Bring-up: "I am core `from`" (the first message on every channel, both ways).
pub const HELLO: u64 = 1;
/// Bring-up, boot core to member: `[peer, frame base]`: open a channel to `peer` on the URPC
/// frame at `frame base` (side A if this core's id is the lower).
pub const CONNECT: u64 = 2;
/// Bring-up, boot core to member: `[members]`: the cores whose monitors answered (a bit
/// each); expect a hello from every one of them.
pub const MEMBERS: u64 = 3;
/// Bring-up, member to boot core: "I have heard from every member".
pub const JOINED: u64 = 4;
/// `[sequence]`: answer with [`PONG`] (liveness and channel latency).
pub const PING: u64 = 5;
/// `[sequence]`: the answer to [`PING`].
pub const PONG: u64 = 6;
/// `[sequence, sent at, words...]`: a one-way message of a stream, stamped with the
/// counter when sent, with a payload the receiver checks (channel latency, throughput and
/// integrity).
pub const STREAM: u64 = 7;
/// Sender to receiver `[messages]`: the stream is over; receiver to sender `[intact,
/// summed latency]`: what it got.
pub const STREAM_DONE: u64 = 8;
/// `[token]`: send your replicas' digest.
pub const DIGEST_REQUEST: u64 = 9;
/// `[token, digest, settled, owner terms, holder terms]`: the answer to [`DIGEST_REQUEST`]:
/// the digest of the replicas (memory, names), whether they and the capability books are
/// at rest, and this core's terms of the owner–holder links (`caps.rs`).
pub const DIGEST: u64 = 10;
/// A replicated memory ownership message (`replica::memory::Msg`) follows.
pub const MEMORY: u64 = 16;
/// A capability protocol message (`replica::caps::Msg`) follows.
pub const CAPS: u64 = 17;
/// `[type, base, size, descendants may remain]`: the last copy of this object anywhere is
/// gone; its origin core destroys it (see `caps.rs`).
pub const RECLAIM: u64 = 18;
/// `[token, domain, root table base, entry, arg]`: start a dispatcher of `domain` here.
pub const SPAN_REQUEST: u64 = 20;
/// `[token, status, span]`: the answer to [`SPAN_REQUEST`].
pub const SPAN_REPLY: u64 = 21;
/// `[token, domain, vaddr, pages]`: forget this core's translations of those pages in
/// `domain`'s address space.
pub const SHOOTDOWN_REQUEST: u64 = 22;
/// `[token]`: done.
pub const SHOOTDOWN_DONE: u64 = 23;
/// `[domain]`: end every dispatcher of `domain` on this core.
pub const SPAN_KILL: u64 = 24;
/// `[domain, span]`: a dispatcher of `domain` here has ended and is gone.
pub const SPAN_ENDED: u64 = 25;
/// `[token, module, arg]`: start boot module number `module` here as a new domain.
pub const SPAWN_REQUEST: u64 = 26;
/// `[token, status, domain]`: the answer to [`SPAWN_REQUEST`].
pub const SPAWN_REPLY: u64 = 27;
/// `[token, domain]`: end `domain` (at home here) everywhere.
pub const KILL_REQUEST: u64 = 28;
/// `[token, status, 0]`: the answer to [`KILL_REQUEST`].
pub const KILL_REPLY: u64 = 29;
/// `[token]`: list the domains you know.
pub const LIST_REQUEST: u64 = 30;
/// `[token, (domain, cores, name)...]`: the answer to [`LIST_REQUEST`].
pub const LIST_REPLY: u64 = 31;
/// `[name, name, core, service]`: a name was exported (the name service's replicas).
pub const NAME_ADD: u64 = 40;
/// `[service]`: the service is gone.
pub const NAME_REMOVE: u64 = 41;
/// `[token, service, mailbox, port]`: a client on the sending core connects to `service`.
pub const CONNECT_REQUEST: u64 = 42;
/// `[token, status]`: the answer to [`CONNECT_REQUEST`].
pub const CONNECT_REPLY: u64 = 43;
/// `[token]`: send your core's load.
pub const LOAD_REQUEST: u64 = 32;
/// `[token, timer ticks, live dispatchers]`: the answer to [`LOAD_REQUEST`].
pub const LOAD_REPLY: u64 = 33;
