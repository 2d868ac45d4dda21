//! The monitor's service loop: messages from other monitors and requests from this core's
//! programs, one at a time, sleeping when there are none.
//!
//! Requests that need other cores (a consistency check, a measurement) wait for their
//! answers here, in [`Monitor::wait_for`], which goes on serving every other message
//! meanwhile: two monitors waiting on each other still answer each other.

use crate::caps::CapService;
use crate::domains::{Domains, SPAN_BADGE, STARTED_BADGE};
use crate::memory::RamService;
use crate::mesh::Mesh;
use crate::wire;
use alloc::vec::Vec;
use libos::cap::{CapRef, EndpointCap};
use libos::lmp::Endpoint;
use libos::monitor::{op, status};
use replica::CoreId;

/// How long a request waits for another monitor, in counter ticks.
fn answer_timeout_ticks() -> u64 {
    2 * libos::clock::frequency_hz()
}

/// A stream being received from one core.
#[derive(Clone, Copy, Default)]
struct StreamIn {
    /// Messages that arrived intact and in order.
    intact: u64,
    /// The sequence number the next message should have.
    next: u64,
    /// Counter ticks from each message's sending to its receiving, summed.
    latency_ticks: u64,
}

pub struct Monitor {
    pub(crate) mesh: Mesh,
    pub(crate) endpoint: Endpoint,
    pub(crate) domains: Domains,
    memory: RamService,
    pub(crate) caps: CapService,
    pub(crate) names: crate::names::Names,
    /// Per sending core, the stream being received.
    streams: Vec<StreamIn>,
    next_token: u64,
    /// The counter when this monitor had joined the mesh (`op::ONLINE_AT`).
    online_at: u64,
}

impl Monitor {
    pub fn new(
        mesh: Mesh,
        endpoint: Endpoint,
        memory: RamService,
        domains: Domains,
        online_at: u64,
    ) -> Monitor {
        let cores = mesh.cores;
        let streams = alloc::vec![StreamIn::default(); cores];
        let caps = CapService::new(mesh.me, cores);
        let names = crate::names::Names::new(mesh.me);
        let mut monitor =
            Monitor { mesh, endpoint, domains, memory, caps, names, streams, next_token: 1, online_at };
        let effects = monitor.memory.announce();
        monitor.send_memory(effects);
        monitor
    }

    pub fn run(mut self) -> u64 {
        loop {
            self.serve_monitors();
            if self.mesh.announce_sleep() {
                // Woken by a notification (a peer sent something) or a program's request.
                match self.endpoint.cap().receive() {
                    Ok(request) if request.badge & (STARTED_BADGE | SPAN_BADGE) != 0 => {
                        self.mesh.end_sleep();
                        self.on_exit_notice(request.badge, request.words);
                        continue;
                    }
                    Ok(request) if request.words[0] == libos::abi::method::NOTIFIED => {}
                    Ok(request) => {
                        self.mesh.end_sleep();
                        self.on_program_request(request.words, request.cap);
                        continue;
                    }
                    Err(e) => libos::println!("monitor: core {}: receive failed: {e}", self.mesh.me),
                }
            }
            self.mesh.end_sleep();
        }
    }

    /// Handles every message that has arrived from other monitors.
    fn serve_monitors(&mut self) {
        for (from, message) in core::mem::take(&mut self.mesh.backlog) {
            self.on_monitor_message(from, &message);
        }
        let mut message = Vec::new();
        while let Some(from) = self.mesh.poll(&mut message) {
            self.on_monitor_message(from, &message);
        }
    }

    /// A fresh token, to match answers with requests.
    pub(crate) fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Serves other monitors until `done` accepts a message, or the time is up (false).
    pub(crate) fn wait_for(&mut self, mut done: impl FnMut(usize, &[u64]) -> bool) -> bool {
        let deadline = libos::clock::now().saturating_add(answer_timeout_ticks());
        let mut message = Vec::new();
        loop {
            while let Some(from) = self.mesh.poll(&mut message) {
                if done(from, &message) {
                    return true;
                }
                self.on_monitor_message(from, &message);
            }
            if libos::clock::now() > deadline {
                return false;
            }
            self.mesh.pause();
        }
    }

    fn on_monitor_message(&mut self, from: usize, words: &[u64]) {
        match *words {
            [wire::PING, sequence] => self.send(from, &[wire::PONG, sequence]),
            [wire::STREAM, sequence, sent_at, ref payload @ ..] => {
                let now = libos::clock::now();
                let intact = payload.iter().enumerate().all(|(i, &w)| w == stream_word(sequence, i));
                let stream = &mut self.streams[from];
                if intact && sequence == stream.next {
                    stream.intact += 1;
                }
                stream.next = sequence + 1;
                stream.latency_ticks += now.saturating_sub(sent_at);
            }
            [wire::STREAM_DONE, _] => {
                let stream = core::mem::take(&mut self.streams[from]);
                self.send(from, &[wire::STREAM_DONE, stream.intact, stream.latency_ticks]);
            }
            [wire::DIGEST_REQUEST, token] => {
                let digest = self.digest();
                let links = self.caps.links();
                let settled = u64::from(self.memory.is_settled(self.mesh.members) && links.quiet);
                self.send(from, &[wire::DIGEST, token, digest, settled, links.as_owner, links.as_holder]);
            }
            [wire::MEMORY, ref rest @ ..] => match replica::memory::Msg::decode(rest) {
                Ok(msg) => match self.memory.receive(CoreId(from as u8), &msg) {
                    Ok(effects) => self.send_memory(effects),
                    Err(e) => libos::println!(
                        "monitor: core {}: memory message from core {from}: {e:?}",
                        self.mesh.me
                    ),
                },
                Err(e) => libos::println!(
                    "monitor: core {}: undecodable memory message from core {from}: {e:?}",
                    self.mesh.me
                ),
            },
            [wire::CAPS, ref rest @ ..] => {
                let outcome = self.caps.on_message(from, rest);
                self.after_caps(outcome);
            }
            [wire::RECLAIM, type_code, base, size_bytes, descendants] if type_code <= u64::from(u8::MAX) => {
                let obj = replica::caps::ObjectKey { type_code: type_code as u8, base, size_bytes };
                if let Some(ram) = self.caps.on_reclaimed_elsewhere(obj, descendants != 0) {
                    self.give_back(ram);
                }
            }
            // A pair the boot core introduced after this monitor's bring-up gave up waiting.
            [wire::CONNECT, peer, base] if from == 0 && (peer as usize) < self.mesh.cores => {
                let peer = peer as usize;
                match crate::mesh::connect(&mut self.mesh, peer, base) {
                    Ok(()) => self.send(peer, &[wire::HELLO, self.mesh.me as u64]),
                    Err(e) => libos::println!(
                        "monitor: core {}: cannot open a channel to core {peer}: {e}",
                        self.mesh.me
                    ),
                }
            }
            [wire::MEMBERS, members] if from == 0 => self.mesh.members = members,
            // Late answers to requests that timed out.
            [wire::HELLO, ..] | [wire::JOINED] | [wire::PONG, _] | [wire::DIGEST, ..] => {}
            _ if self.on_domain_message(from, words) => {}
            _ if self.on_name_message(from, words) => {}
            _ if self.on_cores_message(from, words) => {}
            _ => libos::println!(
                "monitor: core {}: unexpected message from core {from}: {:x?}",
                self.mesh.me,
                &words[..words.len().min(4)]
            ),
        }
    }

    pub(crate) fn send(&mut self, to: usize, words: &[u64]) {
        match self.mesh.send(to, words) {
            Ok(()) => {}
            // A core whose monitor never joined hears nothing; the protocols leave it out.
            Err(crate::mesh::SendError::NoChannel) if self.mesh.members & (1 << to) == 0 => {}
            Err(e) => libos::println!(
                "monitor: core {}: cannot send to the monitor of core {to} ({e})",
                self.mesh.me
            ),
        }
    }

    /// Sends the memory protocol's messages and answers the programs whose requests it
    /// finished.
    fn send_memory(&mut self, effects: crate::memory::Outcome) {
        for (to, msg) in effects.messages {
            let mut words = alloc::vec![wire::MEMORY];
            msg.encode(&mut words);
            self.send(usize::from(to.0), &words);
        }
        for (reply, answer, cap) in effects.replies {
            answer_program(reply, answer, cap);
        }
    }

    /// Lets the capability protocol know of copies that went with a program that ended.
    pub(crate) fn sweep_caps(&mut self) {
        let swept = self.caps.sweep();
        self.after_caps(swept);
    }

    /// Sends the capability protocol's messages and reclaims what it says to.
    fn after_caps(&mut self, outcome: crate::caps::Outcome) {
        for (to, msg) in outcome.messages {
            let mut words = alloc::vec![wire::CAPS];
            msg.encode(&mut words);
            self.send(to, &words);
        }
        for (obj, descendants) in outcome.reclaims {
            let mut give_back = None;
            if self.caps.reclaim_here(obj, descendants, &mut give_back) {
                let words = [
                    wire::RECLAIM,
                    u64::from(obj.type_code),
                    obj.base,
                    obj.size_bytes,
                    u64::from(descendants),
                ];
                for peer in self.mesh.peers().collect::<Vec<_>>() {
                    self.send(peer, &words);
                }
            }
            if let Some(ram) = give_back {
                self.give_back(ram);
            }
        }
    }

    /// Gives RAM this core's monitor handed out back to the replicated ownership map: its
    /// last copy anywhere is gone.
    fn give_back(&mut self, ram: replica::caps::ObjectKey) {
        if let Err(code) = self.memory.free(ram.base) {
            libos::println!(
                "monitor: core {}: cannot take back RAM at {:#x}: {}",
                self.mesh.me,
                ram.base,
                status::describe(code)
            );
        }
    }

    fn on_program_request(&mut self, words: [u64; 4], cap: Option<CapRef>) {
        let [request, a, b, c] = words;
        let (op, core) = libos::monitor::split_op(request);
        if request == op::ATTACH {
            if let Some(cap) = cap {
                let is_root_table = cap.identify().is_ok_and(|i| i.ty == libos::abi::cap::CapType::VNodeL0);
                let attached =
                    if is_root_table { self.domains.attach(a, cap) } else { self.caps.attach(a, cap) };
                if let Err(e) = attached {
                    libos::println!("monitor: core {}: attachment refused: {e}", self.mesh.me);
                    libos::cspace::discard(cap);
                }
            }
            return;
        }
        let Some(reply) = cap else {
            // Nowhere to answer: a program that does not follow the protocol.
            return;
        };
        let reply = EndpointCap(reply);
        let core = core as usize;
        let answer: Result<([u64; 3], Option<CapRef>), u64> = match (op, request) {
            (op::SPAN, _) => self.span(core, a, b, c).map(|r| (r, None)),
            (op::SPAWN, _) => self.spawn_on(core, a, b).map(|r| (r, None)),
            (_, op::SHOOTDOWN) => self.shootdown(a, b, c).map(|r| (r, None)),
            (_, op::KILL) => self.kill(a).map(|r| (r, None)),
            (_, op::LIST) => self.list(a).map(|r| (r, None)),
            (op::CAP_COPY, _) | (_, op::CAP_RECEIVE | op::CAP_DELETE | op::CAP_REVOKE | op::CAP_RETYPE) => {
                self.sweep_caps();
                let memory = &self.memory;
                let handed = |obj: replica::caps::ObjectKey| {
                    let ram = obj.type_code == libos::abi::cap::CapType::Ram as u8;
                    ram.then(|| memory.handed_copy(obj.base, obj.size_bytes)).flatten()
                };
                match self.caps.request(op, core as u64, [a, b, c], reply, handed) {
                    Ok(outcome) => {
                        self.after_caps(outcome);
                        Err(status::ANSWERED)
                    }
                    Err(code) => Err(code),
                }
            }
            (op::CONNECT, _)
            | (_, op::PORT | op::PORT_FREE | op::NOTIFY | op::EXPORT | op::UNEXPORT | op::LOOKUP) => {
                self.name_request(op, core as u64, [a, b, c]).unwrap_or(Err(status::BAD_REQUEST))
            }
            (_, op::CAP_INFO) => {
                self.sweep_caps();
                Ok((self.caps.info(), None))
            }
            (_, op::CORES) => self.core_info(a).map(|r| (r, None)),
            _ => self.basic_request(request, [a, b, c], reply),
        };
        match answer {
            Ok((values, cap)) => answer_program(reply, [status::OK, values[0], values[1], values[2]], cap),
            Err(status::ANSWERED) => {}
            Err(code) => answer_program(reply, [code, 0, 0, 0], None),
        }
    }

    /// The requests about memory, consistency and the channels themselves.
    fn basic_request(
        &mut self,
        request: u64,
        [a, b, c]: [u64; 3],
        reply: EndpointCap,
    ) -> Result<([u64; 3], Option<CapRef>), u64> {
        match request {
            op::RAM_ALLOC => {
                let token = self.token();
                let outcome = self.memory.alloc(a, reply, token);
                self.send_memory(outcome);
                // Answered by `send_memory`, now or when another core has given memory.
                Err(status::ANSWERED)
            }
            op::RAM_FREE if self.memory.handed_size(a).is_some_and(|size| self.caps.is_shared(a, size)) => {
                // Copies live on other cores: only deleting them all gives the RAM back.
                Err(status::BAD_REQUEST)
            }
            op::RAM_FREE => self.memory.free(a).map(|()| ([0; 3], None)),
            op::NOP => Ok(([0; 3], None)),
            op::CHECK => Ok((self.check(), None)),
            op::MEM_INFO => self.memory.info(a).map(|(owned, free)| ([owned, free, 0], None)),
            op::ONLINE_AT => Ok(([self.online_at, 0, 0], None)),
            op::PING if self.is_peer(a) => self.ping(a as usize, b).map(|ticks| ([ticks, 0, 0], None)),
            op::STREAM if self.is_peer(a) => self.stream(a as usize, b, c as usize).map(|r| (r, None)),
            op::PING | op::STREAM => Err(status::BAD_CORE),
            op::POWER_OFF => libos::kernel::power_off(a).map(|()| ([0; 3], None)).map_err(|_| status::FAILED),
            _ => Err(status::BAD_REQUEST),
        }
    }

    /// The digest of this monitor's replicas: memory ownership and the name registry.
    fn digest(&self) -> u64 {
        self.memory.digest() ^ self.names.digest().rotate_left(32)
    }

    pub(crate) fn is_peer(&self, core: u64) -> bool {
        (core as usize) < self.mesh.cores && self.mesh.peers().any(|p| p == core as usize)
    }

    /// Compares every member's replicas with this one's, and checks the capability books
    /// across cores (every owner lists exactly the holders that name it):
    /// `[members, divergent, digest]`.
    ///
    /// Replicas agree only once the messages that change them have arrived everywhere, so
    /// each member says whether it is *settled* (every member's announcement applied, no
    /// transfer of its own in progress) along with its digest; the check repeats until all
    /// are settled and agree, or the time is up (then the unsettled and the different count
    /// as divergent).
    fn check(&mut self) -> [u64; 3] {
        let deadline = libos::clock::now().saturating_add(answer_timeout_ticks());
        let peers: Vec<usize> = self.mesh.peers().collect();
        let expected = peers.iter().fold(0u64, |m, &p| m | 1 << p);
        loop {
            let token = self.token();
            // Serve what has arrived first: this core's own replica may be behind too.
            self.serve_monitors();
            let digest = self.digest();
            let own = self.caps.links();
            let me = self.mesh.me;
            let mut settled = u64::from(self.memory.is_settled(self.mesh.members) && own.quiet) << me;
            // The capability books: every owner's list of holders against the owner every
            // holder names, summed over all cores (see `CapService::links`).
            let (mut as_owner, mut as_holder) = (own.as_owner, own.as_holder);
            let mut linked = u64::from(own.as_owner | own.as_holder != 0) << me;
            for &peer in &peers {
                self.send(peer, &[wire::DIGEST_REQUEST, token]);
            }
            let (mut answered, mut differ) = (0u64, 0u64);
            self.wait_for(|from, words| {
                if let [wire::DIGEST, t, theirs, their_settled, owner_terms, holder_terms] = *words {
                    if t == token {
                        answered |= 1 << from;
                        differ |= u64::from(theirs != digest) << from;
                        settled |= u64::from(their_settled == 1) << from;
                        as_owner = as_owner.wrapping_add(owner_terms);
                        as_holder = as_holder.wrapping_add(holder_terms);
                        linked |= u64::from(owner_terms | holder_terms != 0) << from;
                    }
                }
                answered == expected
            });
            let all = expected | 1 << me;
            let books_differ = as_owner != as_holder;
            // A difference while every replica says it is settled can still be a change on
            // its way (a name exported or withdrawn a moment ago): ask again until the
            // replicas agree or the time is up.
            if settled == all && differ == 0 && !books_differ || libos::clock::now() > deadline {
                let books = if books_differ { linked } else { 0 };
                let divergent = differ | (expected & !answered) | (all & !settled) | books;
                return [self.mesh.members, divergent, digest];
            }
            self.mesh.pause();
        }
    }

    /// `rounds` ping-pongs with `core`, one at a time: the counter ticks they took.
    fn ping(&mut self, core: usize, rounds: u64) -> Result<u64, u64> {
        let start = libos::clock::now();
        for sequence in 0..rounds {
            self.send(core, &[wire::PING, sequence]);
            let answered = self.wait_for(|from, words| from == core && *words == [wire::PONG, sequence]);
            if !answered {
                return Err(status::TIMEOUT);
            }
        }
        Ok(libos::clock::now() - start)
    }

    /// Streams `messages` messages of `words` words (at least the tag, sequence number and
    /// sending time) to `core`, as fast as the ring takes them, and asks how many arrived
    /// intact: `[ticks for all of it, intact, summed one-way latency in ticks]`.
    fn stream(&mut self, core: usize, messages: u64, words: usize) -> Result<[u64; 3], u64> {
        let words = words.clamp(3, channels::layout::MAX_MESSAGE_WORDS);
        let start = libos::clock::now();
        let mut message = Vec::with_capacity(words);
        for sequence in 0..messages {
            message.clear();
            message.extend_from_slice(&[wire::STREAM, sequence, libos::clock::now()]);
            message.extend((0..words - 3).map(|i| stream_word(sequence, i)));
            self.send(core, &message);
        }
        self.send(core, &[wire::STREAM_DONE, messages]);
        let mut answer = None;
        self.wait_for(|from, words| match *words {
            [wire::STREAM_DONE, intact, latency] if from == core => {
                answer = Some((intact, latency));
                true
            }
            _ => false,
        });
        let ticks = libos::clock::now() - start;
        answer.map(|(intact, latency)| [ticks, intact, latency]).ok_or(status::TIMEOUT)
    }
}

/// Word `i` of stream message `sequence`'s payload: different in every message and place,
/// so a lost, repeated, reordered or torn message shows.
fn stream_word(sequence: u64, i: usize) -> u64 {
    sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).wrapping_mul(0xff51_afd7_ed55_8ccd)
}

/// Sends a program its answer (and the capability, which the monitor then deletes: the
/// program has its copy), and drops the reply endpoint capability.
pub fn answer_program(reply: EndpointCap, answer: [u64; 4], cap: Option<CapRef>) {
    if let Err(e) = reply.send(answer, cap) {
        libos::println!("monitor: cannot answer a program: {e}");
    }
    libos::cspace::discard(reply.cap());
}
