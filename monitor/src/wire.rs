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
/// `[token, memory digest]`: the answer to [`DIGEST_REQUEST`].
pub const DIGEST: u64 = 10;
/// A replicated memory ownership message (`replica::memory::Msg`) follows.
pub const MEMORY: u64 = 16;
