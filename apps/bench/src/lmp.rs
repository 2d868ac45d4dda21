//! LMP on one core: four words to a child and back, through the kernel's endpoints.
//!
//! The benchmark starts a copy of this program as a child with [`ECHO_CHILD`] as its
//! argument, and gives it an endpoint the parent receives on (its PARENT_ENDPOINT slot).
//! The child makes an endpoint of its own, sends it to the parent with a [`tag::HELLO`],
//! and from then on answers every [`tag::PING`] on it with a [`tag::ECHO`] of the same
//! words, until [`tag::STOP`]; it exits with the number of pings it answered. This is the
//! `Serve` child of the kernel test suite (`apps/testsuite/src/child.rs`).
//!
//! Two kinds of round trip are timed:
//!
//! - **words only** (`reply_capability=0`): both sides hold each other's endpoint from the
//!   start, so a round trip is two sends and two receives and nothing else;
//! - **with a reply capability** (`reply_capability=1`): each ping carries a copy of the
//!   parent's endpoint, and the child answers through that copy and deletes it, as the
//!   monitor answers every request (`libos::monitor`). The difference is what moving one
//!   capability costs, there and gone again.
//!
//! Each is timed for [`MESSAGES`] pings with 1, 2, 4, 8 and 16 in flight: the parent
//! sends a batch, then receives the batch's echoes, checking each is the one it sent.
//! With one in flight that is the round trip; with more, the kernel could let each switch
//! between the two programs carry more messages, up to the 16 an endpoint queues. The
//! figures include what libos adds to each receive (a capability slot taken for a
//! capability that might come, and given back if none did).

use crate::counter;
use crate::report::{call, expect_eq, nonzero, Failure, Report, Value};
use libos::abi::cap::slot;
use libos::cap::{CapRef, EndpointCap};
use libos::lmp::Endpoint;
use libos::spawn::{Child, Exit, SpawnOptions};

/// The argument the echo child is started with: a bit that no core number, and no
/// `libos::monitor::INIT_ARG` argument, has.
pub const ECHO_CHILD: u64 = 1 << 62;

/// Messages timed per batch size (a multiple of every batch size).
const MESSAGES: u64 = 1024;
/// Messages in flight at once: up to the 16 an endpoint queues, so no send is refused.
const BATCHES: [u64; 5] = [1, 2, 4, 8, 16];
/// Round trips of the unreported warm-up.
const WARM_UP: u64 = 16;
/// RAM the echo child gets for its own use: an endpoint and the slots it receives into.
const CHILD_RAM_BYTES: u64 = 1 << 20;

/// The first word of each message between the benchmark and its echo child.
mod tag {
    /// Child to parent, with the child's endpoint.
    pub const HELLO: u64 = 0xbe1;
    /// Parent to child: echo words 1 to 3.
    pub const PING: u64 = 0xbe2;
    /// Child to parent: the echo of a ping.
    pub const ECHO: u64 = 0xbe3;
    /// Parent to child: exit.
    pub const STOP: u64 = 0xbe4;
}

/// What the echo child exits with when something it needs fails (its parent then
/// reports the status as not the number of pings it sent).
const ECHO_BROKEN: u64 = u64::MAX;

/// The echo child's main function; returns its exit status.
pub fn echo() -> u64 {
    match serve_echoes() {
        Ok(answered) => answered,
        Err(e) => {
            libos::println!("bench: error lmp_rtt: echo child: {e}");
            ECHO_BROKEN
        }
    }
}

fn serve_echoes() -> Result<u64, libos::Error> {
    let parent = EndpointCap(CapRef(slot::PARENT_ENDPOINT));
    let own = Endpoint::for_self()?;
    parent.send([tag::HELLO, 0, 0, 0], Some(own.cap().0))?;
    let mut answered = 0;
    loop {
        let message = own.cap().receive()?;
        match message.words {
            [tag::STOP, ..] => {
                release(message.cap);
                return Ok(answered);
            }
            [tag::PING, a, b, c] => {
                // Through the reply capability if the ping brought one.
                let reply = message.cap.map_or(parent, EndpointCap);
                let sent = reply.send([tag::ECHO, a, b, c], None);
                release(message.cap);
                sent?;
                answered += 1;
            }
            // Not a ping: the parent's check of `answered` shows it.
            _ => release(message.cap),
        }
    }
}

/// `bench: lmp_rtt reply_capability=R batch=B messages=N instructions=T
/// instructions_per_op=T/N` for both kinds of round trip and every batch size in
/// [`BATCHES`].
pub fn round_trips(report: &mut Report, _cores: u64) {
    let outcome = match Endpoint::for_self() {
        Ok(replies) => {
            let measured = with_echo_child(&replies, |echo, sent| time_batches(report, echo, &replies, sent));
            let destroyed = replies.destroy().map_err(call("destroying the reply endpoint"));
            measured.and(destroyed)
        }
        Err(e) => Err(call("making an endpoint")(e)),
    };
    report.outcome("lmp_rtt", outcome);
}

/// Starts the echo child with `replies` as its parent endpoint, runs `f` with the
/// child's endpoint and a count of the pings sent, stops the child and checks it answered
/// every ping, and reclaims it, whatever `f` did.
fn with_echo_child(
    replies: &Endpoint,
    f: impl FnOnce(EndpointCap, &mut u64) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let options = SpawnOptions {
        arg: ECHO_CHILD,
        ram_bytes: CHILD_RAM_BYTES,
        parent_endpoint: Some(replies.cap()),
        ..SpawnOptions::default()
    };
    let child = libos::spawn::spawn_with("bench", options).map_err(call("starting the echo child"))?;
    let outcome = talk_to(&child, replies, f);
    // Reclaiming stops the child too, should it still run after a failure.
    let reclaimed = child.reclaim().map_err(call("reclaiming the echo child"));
    outcome.and(reclaimed)
}

/// Receives the child's endpoint, runs `f` with it, and stops the child.
fn talk_to(
    child: &Child,
    replies: &Endpoint,
    f: impl FnOnce(EndpointCap, &mut u64) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let hello = replies.cap().receive().map_err(call("waiting for the echo child's endpoint"))?;
    let Some(echo) = hello.cap.map(EndpointCap) else {
        return Err(Failure::Implausible("the echo child's first message brings no endpoint".into()));
    };
    let mut sent = 0;
    let outcome = expect_eq("the tag of the echo child's first message", hello.words[0], tag::HELLO)
        .and_then(|()| f(echo, &mut sent))
        .and_then(|()| stop(child, echo, sent));
    release(Some(echo.0));
    outcome
}

/// Deletes a capability that came with a message and gives its slot back.
fn release(cap: Option<CapRef>) {
    if let Some(cap) = cap {
        libos::cspace::discard(cap);
    }
}

/// Tells the child to stop and checks that it answered all `sent` pings.
fn stop(child: &Child, echo: EndpointCap, sent: u64) -> Result<(), Failure> {
    echo.send([tag::STOP, 0, 0, 0], None).map_err(call("stopping the echo child"))?;
    match child.wait().map_err(call("waiting for the echo child to exit"))? {
        Exit::Exited(answered) => expect_eq("pings the echo child answered", answered, sent),
        ended => Err(Failure::Implausible(alloc::format!("the echo child ended: {ended:?}"))),
    }
}

/// The warm-up, then one measurement per kind of round trip and batch size.
fn time_batches(
    report: &mut Report,
    echo: EndpointCap,
    replies: &Endpoint,
    sent: &mut u64,
) -> Result<(), Failure> {
    for with_capability in [false, true] {
        let pings = Pings { echo, replies: replies.cap(), with_capability };
        pings.send(1, WARM_UP, sent)?;
        for batch in BATCHES {
            let (ticks, echoed) = counter::measure(|| pings.send(batch, MESSAGES, sent));
            echoed?;
            nonzero("the instructions measured", ticks)?;
            report.result(
                "lmp_rtt",
                &[
                    ("reply_capability", Value::Count(u64::from(with_capability))),
                    ("batch", Value::Count(batch)),
                    ("messages", Value::Count(MESSAGES)),
                    ("instructions", Value::Count(ticks)),
                    ("instructions_per_op", Value::ratio(ticks, MESSAGES)),
                ],
            );
        }
    }
    Ok(())
}

/// One kind of round trip: pings to `echo`, echoes to `replies`.
struct Pings {
    echo: EndpointCap,
    replies: EndpointCap,
    /// Whether each ping carries a copy of `replies` to answer through.
    with_capability: bool,
}

impl Pings {
    /// Sends `messages` pings, `batch` at a time, each batch's echoes received (and
    /// checked) before the next batch; `sent` counts them and numbers them.
    fn send(&self, batch: u64, messages: u64, sent: &mut u64) -> Result<(), Failure> {
        let reply = self.with_capability.then_some(self.replies.0);
        for _ in 0..messages / batch {
            let first = *sent;
            for i in 0..batch {
                let words = [tag::PING, first + i, !(first + i), 0];
                self.echo.send(words, reply).map_err(call("sending a ping"))?;
                *sent += 1;
            }
            for i in 0..batch {
                let answer = self.replies.receive().map_err(call("receiving an echo"))?;
                let expected = [tag::ECHO, first + i, !(first + i), 0];
                let with_capability = answer.cap.is_some();
                release(answer.cap);
                if answer.words != expected || with_capability {
                    return Err(Failure::Implausible(alloc::format!(
                        "echo {}: expected {expected:x?}, got {:x?}",
                        first + i,
                        answer.words
                    )));
                }
            }
        }
        Ok(())
    }
}
