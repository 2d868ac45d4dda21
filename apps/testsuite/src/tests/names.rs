//! The name service and the channels it sets up (`libos::bind`): the system suite's tests
//! of a server exporting a name and a client binding to it, on every core.
//!
//! The rules pinned down: a name exported on any core can be bound from core 0 once the
//! registry replica here has it; the connection is LMP on one core and a URPC channel
//! across cores; messages of every size arrive whole and in order both ways; a name is
//! exported once in the system; names that are empty, too long or unknown are refused; the
//! replicas agree afterwards.

use crate::child::Role;
use crate::framework::{expect_eq, expect_err, expect_ok, expect_that, Env, Outcome};
use alloc::format;
use alloc::vec::Vec;
use libos::bind;
use libos::monitor::{self, status};
use libos::Error;

/// The message that ends an echo server.
const STOP: u64 = 0x5707;

/// The echo server, on some core: see [`Role::EchoServer`]. It uses no heap (a child of
/// the suite has none to spare): its name and messages live on its stack.
pub fn echo(core: u32) -> Result<u64, Error> {
    let mut name = *b"echo-   ";
    let digits = write_decimal(core, &mut name[5..]);
    let name = core::str::from_utf8(&name[..5 + digits]).map_err(|_| Error::WrongType)?;
    let service = bind::export(name)?;
    let mut connection = service.accept()?;
    let mut message = [0u64; bind::MAX_WORDS];
    let mut answered = 0;
    loop {
        let n = connection.recv(&mut message)?;
        if n == 1 && message[0] == STOP {
            break;
        }
        for word in &mut message[..n] {
            *word = word.wrapping_add(1);
        }
        connection.send(&message[..n])?;
        answered += 1;
    }
    connection.close()?;
    service.withdraw()?;
    // Every message answered, and the last one was the stop: a clean end.
    Ok(u64::from(answered == 0))
}

/// Writes `n` in decimal at the start of `out` (which has room): the digits written.
fn write_decimal(n: u32, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 10];
    let (mut n, mut count) = (n, 0);
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..count].iter().rev().enumerate() {
        out[i] = *d;
    }
    count
}

/// Binds to `name`, waiting for the export to reach this core's replica.
fn bind_when_exported(name: &str) -> Result<bind::Connection, crate::failure::Failure> {
    for _ in 0..20_000 {
        match bind::bind(name) {
            Err(Error::Monitor(status::NOT_FOUND)) => libos::syscall::yield_now(),
            other => return expect_ok(other),
        }
    }
    Err(crate::framework::failure_at(format_args!("{name} was never exported")))
}

pub fn a_client_binds_by_name_to_a_server_on_every_core_and_they_talk(env: &Env) -> Outcome {
    env.grows_the_heap();
    let testsuite = crate::tests::system::module_number("testsuite")?;
    let cores: Vec<u64> = core::iter::once(0).chain(crate::tests::system::peers()?).collect();
    for &core in &cores {
        expect_ok(monitor::spawn(core, testsuite, Role::EchoServer.arg(core as u32)))?;
    }
    let mut message = alloc::vec![0u64; bind::MAX_WORDS];
    let mut answer = alloc::vec![0u64; bind::MAX_WORDS];
    for &core in &cores {
        let mut connection = bind_when_exported(&format!("echo-{core}"))?;
        expect_eq(connection.is_local(), core == 0)?;
        // One word, a slot's worth, a fragment more, many fragments, the most there is.
        for (round, words) in [1, 3, 4, 7, 8, 40, 300, bind::MAX_WORDS].into_iter().enumerate() {
            for (i, word) in message[..words].iter_mut().enumerate() {
                *word = (core << 48) ^ ((round as u64) << 32) ^ i as u64;
            }
            expect_ok(connection.send(&message[..words]))?;
            let n = expect_ok(connection.recv(&mut answer))?;
            expect_eq(n, words)?;
            let whole = (0..words).all(|i| answer[i] == message[i].wrapping_add(1));
            expect_that(whole, format_args!("the echo of {words} words from core {core} differs"))?;
        }
        expect_ok(connection.send(&[STOP]))?;
        expect_ok(connection.close())?;
    }
    expect_eq(expect_ok(monitor::check())?.1, 0)
}

pub fn names_that_cannot_be_exported_or_bound_are_refused(_: &Env) -> Outcome {
    let refused = Error::Monitor(status::BAD_REQUEST);
    expect_err(bind::bind("").map(drop), refused)?;
    expect_err(bind::bind("a name longer than sixteen bytes").map(drop), refused)?;
    expect_err(bind::export("").map(drop), refused)?;
    expect_err(bind::bind("nobody-exports").map(drop), Error::Monitor(status::NOT_FOUND))?;
    // Exported once in the whole system: a name in the registry cannot be taken again.
    let service = expect_ok(bind::export("taken"))?;
    expect_err(bind::export("taken").map(drop), refused)?;
    // Withdrawn, the name is free again.
    expect_ok(service.withdraw())?;
    expect_ok(expect_ok(bind::export("taken"))?.withdraw())?;
    expect_err(bind::bind("taken").map(drop), Error::Monitor(status::NOT_FOUND))?;
    expect_eq(expect_ok(monitor::check())?.1, 0)
}
