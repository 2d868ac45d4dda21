//! URPC between monitors: the round trip to every other core, and streams of messages of
//! several sizes.
//!
//! Both are measured by the boot core's monitor at its end of the channel
//! (`libos::monitor::ping`, `libos::monitor::stream`), with this program only asking for
//! them, so the LMP request and answer around each are not in the figures (see
//! `monitor_call` in [`crate::baseline`] for what they add). Under icount the emulator
//! runs the cores one after another, so a round trip counts the instructions of both
//! monitors, and of any other core that runs meanwhile (an idle core's timer tick).
//!
//! Each measurement is preceded by a short one of the same kind that is not reported, so
//! that what happens only the first time (a buffer growing to size) stays out of it.

use crate::report::{call, expect_eq, nonzero, Failure, Report, Value};

/// Ping-pongs per round-trip measurement.
const ROUNDS: u64 = 1000;
/// Messages per stream.
const MESSAGES: u64 = 1000;
/// Message sizes streamed, in words: the least a stream message has (tag, sequence
/// number, time sent), a whole 64-byte slot's worth, and a message that takes ten slots.
const WORDS: [u64; 3] = [3, 8, 64];
/// Rounds, or messages, of the unreported warm-up before each measurement.
const WARM_UP: u64 = 10;

/// `bench: urpc_rtt core=C rounds=N instructions=T instructions_per_op=T/N`, for every
/// core but this one.
pub fn round_trips(report: &mut Report, cores: u64) {
    for core in 1..cores {
        let outcome = round_trip(report, core);
        report.outcome(&alloc::format!("urpc_rtt core={core}"), outcome);
    }
}

fn round_trip(report: &mut Report, core: u64) -> Result<(), Failure> {
    libos::monitor::ping(core, WARM_UP).map_err(call("warming up the pings"))?;
    let ticks = libos::monitor::ping(core, ROUNDS).map_err(call("pinging"))?;
    nonzero("the instructions measured", ticks)?;
    report.result(
        "urpc_rtt",
        &[
            ("core", Value::Count(core)),
            ("rounds", Value::Count(ROUNDS)),
            ("instructions", Value::Count(ticks)),
            ("instructions_per_op", Value::ratio(ticks, ROUNDS)),
        ],
    );
    Ok(())
}

/// For every core but this one and every size in [`WORDS`], one stream, reported twice:
///
/// - `bench: urpc_latency core=C words=W messages=N instructions=L instructions_per_op=L/N`,
///   where `L` is the one-way latencies summed (from each message's sending to its
///   receiving);
/// - `bench: urpc_throughput core=C words=W messages=N instructions=T
///   messages_per_1000_instructions=1000·N/T`, where `T` is the whole stream as the
///   sender saw it, up to the receiver's answer that all arrived.
pub fn streams(report: &mut Report, cores: u64) {
    for core in 1..cores {
        for words in WORDS {
            let outcome = stream(report, core, words);
            report.outcome(&alloc::format!("urpc_stream core={core} words={words}"), outcome);
        }
    }
}

fn stream(report: &mut Report, core: u64, words: u64) -> Result<(), Failure> {
    let warm_up = libos::monitor::stream(core, WARM_UP, words).map_err(call("warming up the stream"))?;
    expect_eq("messages of the warm-up that arrived intact", warm_up.intact, WARM_UP)?;
    let measured = libos::monitor::stream(core, MESSAGES, words).map_err(call("streaming"))?;
    expect_eq("messages that arrived intact", measured.intact, MESSAGES)?;
    let ticks = nonzero("the instructions of the stream", measured.ticks)?;
    let latency = nonzero("the one-way latencies", measured.latency_ticks)?;
    let common =
        [("core", Value::Count(core)), ("words", Value::Count(words)), ("messages", Value::Count(MESSAGES))];
    report.result(
        "urpc_latency",
        &[
            common[0],
            common[1],
            common[2],
            ("instructions", Value::Count(latency)),
            ("instructions_per_op", Value::ratio(latency, MESSAGES)),
        ],
    );
    report.result(
        "urpc_throughput",
        &[
            common[0],
            common[1],
            common[2],
            ("instructions", Value::Count(ticks)),
            ("messages_per_1000_instructions", Value::small_ratio(MESSAGES * 1000, ticks)),
        ],
    );
    Ok(())
}
