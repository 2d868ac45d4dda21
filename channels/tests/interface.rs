//! The typed layer: an interface described once with `interface!`, used through its
//! generated client and server, and its decoding checked against malformed requests.

use channels::rpc::{self, BadMessage, Bytes, Connection, Envelope, Kind, RpcError};
use channels::{Frame, FrameBuffer, Notify, Receiver, Sender, Side, Spin, Wait};
use std::thread::{self, Thread};
use std::time::Duration;

channels::interface! {
    /// A calculator that also keeps a log.
    pub mod calc {
        /// Returns its argument.
        call ping(value: u64) -> u64;
        /// Returns `a + b`, wrapping.
        call add(a: u64, b: u64) -> u64;
        /// Appends `text` to the log: one-way, and as long as a message allows.
        message log(text: Bytes);
        /// Returns the log's last `count` bytes.
        call tail(count: u32) -> Bytes;
        /// Whether anything has been logged yet.
        call anything_logged() -> bool;
    }
}

channels::interface! {
    /// An interface whose calls take no arguments at all.
    pub mod counter {
        call next() -> u64;
    }
}

#[derive(Default)]
struct Calculator {
    log: Vec<u8>,
}

impl calc::Handler for Calculator {
    fn ping(&mut self, value: u64) -> u64 {
        value
    }

    fn add(&mut self, a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }

    fn log(&mut self, text: &[u8]) {
        self.log.extend_from_slice(text);
    }

    fn tail(&mut self, count: u32) -> &[u8] {
        &self.log[self.log.len().saturating_sub(count as usize)..]
    }

    fn anything_logged(&mut self) -> bool {
        !self.log.is_empty()
    }
}

struct Nobody;

impl Notify for Nobody {
    fn notify(&mut self) {}
}

struct Unpark(Thread);

impl Notify for Unpark {
    fn notify(&mut self) {
        self.0.unpark();
    }
}

/// Polls briefly, then parks until the peer's `Unpark`.
struct Park;

impl Wait for Park {
    const POLL_ROUNDS: u32 = 16;

    fn pause(&mut self) {
        thread::yield_now();
    }

    fn sleep(&mut self) {
        // The bound only turns a lost wake-up into a slow test instead of a hung one:
        // the receiver looks at the ring again either way (tests/threads.rs counts them).
        thread::park_timeout(Duration::from_secs(10));
    }
}

/// Side A's client, for a test that plays side B's server by hand.
fn client(frame: Frame<'_>) -> calc::Client<Frame<'_>, Nobody, Spin> {
    let sender = Sender::new(frame, Side::A, Nobody).unwrap();
    calc::Client::new(Connection::new(sender, Receiver::new(frame, Side::A).unwrap(), Spin))
}

/// Encodes `request` as a request of `kind`, for handing to `dispatch` directly.
fn request(request: calc::Request<'_>, kind: Kind, call_id: u32) -> Vec<u64> {
    let mut words = vec![0; 64];
    let len = rpc::encode_request(&request, kind, call_id, &mut words).unwrap();
    words.truncate(len);
    words
}

fn dispatch(handler: &mut Calculator, request: &[u64]) -> Result<Option<Vec<u64>>, RpcError> {
    let mut reply = [0; 64];
    let len = calc::dispatch(handler, request, &mut reply)?;
    Ok(len.map(|len| reply[..len].to_vec()))
}

#[test]
fn a_client_and_a_server_on_two_threads_call_and_log() {
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    let client_thread = thread::current();
    let (calls, long_text) = (1000, vec![b'x'; 3000]);
    let expected_log_len = long_text.len() + calls as usize * 6;
    let server = thread::scope(|scope| {
        let server = scope.spawn(move || {
            let sender = Sender::new(frame, Side::B, Unpark(client_thread)).unwrap();
            let connection = Connection::new(sender, Receiver::new(frame, Side::B).unwrap(), Park);
            let mut server = calc::Server::new(Calculator::default(), connection);
            // Per round: ping, add, log; then the long log and the last two calls.
            for _ in 0..3 * calls + 3 {
                server.serve_one().unwrap();
            }
            server.handler().log.len()
        });
        let sender = Sender::new(frame, Side::A, Unpark(server.thread().clone())).unwrap();
        let connection = Connection::new(sender, Receiver::new(frame, Side::A).unwrap(), Park);
        let mut client = calc::Client::new(connection);
        for i in 0..calls {
            assert_eq!(client.ping(i).unwrap(), i);
            assert_eq!(client.add(i, u64::MAX).unwrap(), i.wrapping_sub(1));
            client.log(b"entry;").unwrap();
        }
        // Longer than the whole ring: it streams through in fragments.
        client.log(&long_text).unwrap();
        assert!(client.anything_logged().unwrap());
        assert_eq!(client.tail(9).unwrap(), b"xxxxxxxxx");
        server.join().unwrap()
    });
    assert_eq!(server, expected_log_len);
}

#[test]
fn dispatch_answers_a_call_with_its_tag_and_call_id() {
    let mut calculator = Calculator::default();
    let words = request(calc::Request::add { a: 2, b: 3 }, Kind::Call, 77);
    let reply = dispatch(&mut calculator, &words).unwrap().unwrap();
    assert_eq!(Envelope::decode(reply[0]), Ok(Envelope { kind: Kind::Reply, tag: 1, call_id: 77 }));
    assert_eq!(reply[1..], [5]);
}

#[test]
fn dispatch_sends_no_reply_to_a_one_way_message() {
    let mut calculator = Calculator::default();
    let words = request(calc::Request::log { text: b"hello" }, Kind::Message, 0);
    assert_eq!(dispatch(&mut calculator, &words), Ok(None));
    assert_eq!(calculator.log, b"hello");
}

#[test]
fn requests_decode_to_the_variant_they_were_encoded_from() {
    let sent = calc::Request::log { text: b"twelve bytes" };
    let words = request(sent, Kind::Message, 0);
    let (envelope, received) = calc::Request::decode(&words).unwrap();
    assert_eq!((envelope.kind, envelope.tag, received), (Kind::Message, 2, sent));
}

#[test]
fn malformed_requests_are_bad_messages() {
    let ping = request(calc::Request::ping { value: 1 }, Kind::Call, 1);
    let with = |change: &dyn Fn(&mut Vec<u64>)| {
        let mut words = ping.clone();
        change(&mut words);
        calc::Request::decode(&words).map(|_| ())
    };
    let envelope = |kind, tag, call_id| Envelope { kind, tag, call_id }.encode();
    assert_eq!(with(&|words| words[0] = envelope(Kind::Call, 9, 1)), Err(BadMessage::UnknownTag));
    assert_eq!(with(&|words| words[0] = envelope(Kind::Message, 0, 0)), Err(BadMessage::WrongKind));
    assert_eq!(with(&|words| words[0] = envelope(Kind::Reply, 0, 1)), Err(BadMessage::WrongKind));
    assert_eq!(with(&|words| words[0] |= 1 << 20), Err(BadMessage::Envelope));
    assert_eq!(with(&|words| words.truncate(1)), Err(BadMessage::Truncated));
    assert_eq!(with(&|words| words.push(0)), Err(BadMessage::TrailingWords));
    assert_eq!(with(&|words| words.clear()), Err(BadMessage::Envelope));
    let log = request(calc::Request::log { text: b"abc" }, Kind::Message, 0);
    let mut noisy_padding = log.clone();
    noisy_padding[2] |= 1 << 60;
    assert_eq!(calc::Request::decode(&noisy_padding).map(|_| ()), Err(BadMessage::Value));
    let mut with_call_id = log;
    with_call_id[0] = envelope(Kind::Message, 2, 5);
    assert_eq!(calc::Request::decode(&with_call_id).map(|_| ()), Err(BadMessage::Envelope));
    let tail = request(calc::Request::tail { count: 1 }, Kind::Call, 1);
    let too_big = [tail[0], 1 << 32];
    assert_eq!(calc::Request::decode(&too_big).map(|_| ()), Err(BadMessage::Value));
}

#[test]
fn a_server_reports_a_bad_request_and_serves_the_next() {
    let buffer = FrameBuffer::new();
    let frame = buffer.frame();
    let connection = Connection::new(
        Sender::new(frame, Side::B, Nobody).unwrap(),
        Receiver::new(frame, Side::B).unwrap(),
        Spin,
    );
    let mut server = calc::Server::new(Calculator::default(), connection);
    // A client that bypasses the stub.
    let mut requests = Sender::new(frame, Side::A, Nobody).unwrap();
    let mut replies = Receiver::new(frame, Side::A).unwrap();
    requests.try_send(&[Envelope { kind: Kind::Call, tag: 42, call_id: 1 }.encode()]).unwrap();
    assert_eq!(server.serve_one(), Err(RpcError::BadMessage(BadMessage::UnknownTag)));
    assert_eq!(replies.try_recv().unwrap(), None, "a bad request gets no reply");
    requests.try_send(&request(calc::Request::ping { value: 7 }, Kind::Call, 2)).unwrap();
    server.serve_one().unwrap();
    let reply = replies.try_recv().unwrap().unwrap();
    assert_eq!(reply, [Envelope { kind: Kind::Reply, tag: 0, call_id: 2 }.encode(), 7]);
}

#[test]
fn a_reply_to_another_call_is_unexpected() {
    let buffer = FrameBuffer::new();
    let mut client = client(buffer.frame());
    // A faulty server replies before being asked, for a call that was never made.
    let mut raw_server = Sender::new(buffer.frame(), Side::B, Nobody).unwrap();
    raw_server.try_send(&[Envelope { kind: Kind::Reply, tag: 0, call_id: 99 }.encode(), 5]).unwrap();
    assert_eq!(client.ping(5), Err(RpcError::BadMessage(BadMessage::UnexpectedReply)));
}

#[test]
fn a_reply_with_the_wrong_shape_is_a_bad_message() {
    let buffer = FrameBuffer::new();
    let mut client = client(buffer.frame());
    let mut raw_server = Sender::new(buffer.frame(), Side::B, Nobody).unwrap();
    // The reply to call 1 (`anything_logged`), holding 2 where a bool belongs.
    raw_server.try_send(&[Envelope { kind: Kind::Reply, tag: 4, call_id: 1 }.encode(), 2]).unwrap();
    assert_eq!(client.anything_logged(), Err(RpcError::BadMessage(BadMessage::Value)));
}

#[test]
fn an_interface_of_calls_without_arguments_works() {
    struct Counter(u64);
    impl counter::Handler for Counter {
        fn next(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
    }
    let mut counter = Counter(0);
    let mut reply = [0; 4];
    let mut words = [0; 4];
    let len = rpc::encode_request(&counter::Request::next {}, Kind::Call, 1, &mut words).unwrap();
    assert_eq!(counter::dispatch(&mut counter, &words[..len], &mut reply), Ok(Some(2)));
    assert_eq!(reply[1], 1);
}
