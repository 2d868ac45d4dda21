//! # URPC channels: how Flotilla's cores talk to each other
//!
//! In a multikernel no data structure is shared between cores; cores cooperate by sending
//! each other messages (`docs/DESIGN.md` §1, §6). This crate is that message system, after
//! Barrelfish's user-level RPC (URPC, Baumann et al., SOSP 2009): a *channel* is one frame
//! of memory mapped on two cores, holding two one-way rings of cache-line-sized slots.
//! Sending a short message costs one cache line moving from the sender's core to the
//! receiver's, and no kernel entry; a receiver that has nothing to do sleeps and is woken
//! by an inter-processor interrupt that the sender raises only when needed.
//!
//! ## The pieces
//!
//! - [`layout`]: the frame word by word (ring offsets, slot format, header and sleep-word
//!   bits). Read it first: it is the whole contract between the two cores.
//! - [`Sender`] and [`Receiver`]: the two ends of one ring. Each core of a channel holds a
//!   sender on one ring and a receiver on the other, chosen by its [`Side`].
//! - [`Wait`] and [`Notify`]: how an endpoint waits and how a sender wakes a sleeping
//!   receiver; the sleep/notify handshake is explained at [`Receiver::recv`].
//! - [`Memory`], [`AtomicWord`], [`Frame`]: where the words are (below).
//! - [`rpc`] and [`interface!`]: typed messages and calls, an interface described once in
//!   Rust (our Flounder).
//!
//! Messages are up to [`layout::MAX_MESSAGE_WORDS`] words; longer than a slot's seven
//! payload words, they travel in fragments and are reassembled by the receiver.
//!
//! ## Principles
//!
//! - **One writer per word, one writer per cache line.** A ring's slots are written only by
//!   its sender, its control line only by its receiver. Nothing is ever read-modify-written
//!   by both cores; there are no locks and no atomic read-modify-write instructions.
//! - **Each core keeps its own books.** A sender counts what it published, a receiver where
//!   it is in the stream, in their own memory. The frame only tells each what the other
//!   did, and every word read from it is checked against those books.
//! - **The peer may be wrong.** It is another core's code. A header, sequence number,
//!   fragment, counter or sleep word that no correct peer writes is detected and closes the
//!   endpoint with [`Error::Corrupt`]; it never causes an out-of-bounds access or a panic.
//!   All shared words are accessed atomically, so even a peer scribbling on the frame while
//!   this core reads it is not a data race.
//! - **Back-pressure, never loss.** A full ring refuses ([`Error::Full`]) or waits; a slot
//!   is reused only after the receiver has released it. Delivery is FIFO, exactly once.
//! - **Every ordering is argued.** Each atomic access says why it has the ordering it has.
//!   In short: the sender stores payload, then the header with `Release`; the receiver
//!   loads the header with `Acquire`, then the payload, then releases the slot with a
//!   `Release` store that the sender `Acquire`-loads before reusing it; and the sleep
//!   handshake puts a sequentially consistent fence between each side's store and its load.
//!
//! ## Testing, and the seam for the model checker
//!
//! The ring logic is plain Rust over a [`Memory`]: a slice of words that implement
//! [`AtomicWord`]. On Flotilla that is a [`Frame`] of `core::sync::atomic::AtomicU64` over
//! the shared page. The tests use the same code with other words: threads hammer a
//! [`FrameBuffer`] with millions of messages both ways; single-threaded tests play a
//! faulty peer by writing the frame directly; and `tests/loom.rs` implements
//! [`AtomicWord`] with loom's atomics, whose model checker then explores every
//! interleaving and every value the memory model allows a load to return. Since the seam
//! is a type parameter rather than a `--cfg loom` build, those models run in the ordinary
//! `cargo test`. One ordering is beyond loom: it does not explore "load buffering", the
//! reordering that the released count's `Release`/`Acquire` pair rules out, so that pair
//! rests on its argument (in `receiver.rs`) and on the threaded tests.
//!
//! ## What this crate does not do
//!
//! It does not allocate or map frames, nor decide who talks to whom: the monitors set
//! channels up (`docs/DESIGN.md` §7) and hand each side its frame and notify capability.
//! It does not send IPIs or block dispatchers itself: [`Notify`] and [`Wait`] are
//! implemented by `libos` on Flotilla. It does not checksum payloads (the ring delivers
//! what the peer wrote; protecting content from a peer that writes the wrong thing is not
//! possible at this level), and it has no close handshake: an endpoint closes only when
//! the peer breaks the protocol. One sender and one receiver per ring, always.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod arch;
mod error;
mod interface;
pub mod layout;
mod memory;
mod receiver;
pub mod rpc;
mod sender;
mod wait;

pub use error::{Corruption, Error, FrameError};
pub use layout::Side;
pub use memory::{AtomicWord, Frame, FrameBuffer, Memory};
pub use receiver::Receiver;
pub use sender::Sender;
#[cfg(target_arch = "aarch64")]
pub use wait::WaitForEvent;
pub use wait::{Notify, Spin, Wait};
