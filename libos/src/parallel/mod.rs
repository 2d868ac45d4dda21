//! # Parallel: one computation on several cores, with fork/join, barriers and reductions
//!
//! A *team* is this program spanned over several cores ([`crate::span`]): member 0 is
//! the dispatcher that made the team (the *coordinator*), members 1.. are dispatchers of
//! the same domain on other cores (the *workers*), all in one address space. The
//! coordinator runs a *job*, a plain function, on the first `size` members at once
//! ([`Team::run`]: fork), each member with its index and the same arguments, and returns
//! when all have returned (join), with every member's result. Inside a job the members
//! cooperate through a [`Member`]: a [`barrier`](Member::barrier), a reduction of one
//! value per member ([`all_reduce`](Member::all_reduce)), a prefix sum of a vector per
//! member ([`scan`](Member::scan)), and plain messages to and from member 0.
//!
//! Each of these exists in two variants, chosen per run ([`Variant`]), so that the two
//! ways of programming a multicore can be compared on the same job:
//!
//! - **Message**, the multikernel way: every worker has a URPC channel to the coordinator
//!   (the `channels` crate's rings, on a frame in the domain's memory), and that is all
//!   the members share. The coordinator sends the job; a barrier is every worker's
//!   message to the coordinator and its answer; a reduction gathers the values at the
//!   coordinator and sends the result back; a scan streams each member's vector to the
//!   coordinator, which answers each with the sum of the vectors before it. Each ring's
//!   slots are written by one core only.
//! - **Shared**: what a threaded program does. The job is posted on a *board* in shared
//!   memory and a generation counter bumped; the members meet at a sense-reversing
//!   barrier ([`SenseBarrier`]); a reduction writes each member's value in its own cache
//!   line, meets at the barrier and has every member read them all; joining is an atomic
//!   count of members done. Every member writes the barrier's count at every barrier.
//!
//! Members wait without spinning ([`pause`]): between looks they `yield` the emulated
//! core, now and then the dispatcher. Workers idle between jobs sleep: on Flotilla each
//! blocks on a notify port of its own core, and the coordinator notifies it when it posts
//! a job ([`Team::wake`]), so a job starts on every member at once rather than at each
//! core's next timer tick. So a team runs under QEMU's single-threaded `-icount`
//! emulation as well as on many host threads.
//!
//! The protocol and the pieces are plain Rust over [`channels::FrameBuffer`]s and atomics,
//! so the host unit tests run whole teams on threads (`tests` below); on Flotilla,
//! [`Team::span`] starts the workers on other cores.
//!
//! What it does not do: a team has no way to recover from a member that dies (it waits
//! for it for ever), and a job must not leave a member waiting at a barrier or a
//! reduction that another member skips. A protocol violation between members (a message
//! of the wrong kind) is a bug in the program and panics. The frames and the board of a
//! team are never freed: a worker may still be looking at its ring when its last message
//! arrives.

mod barrier;
pub mod pause;
mod reduce;
mod split;

pub use barrier::{LocalSense, SenseBarrier};
pub use reduce::{combine_into, Reduce};
pub use split::share;

use alloc::boxed::Box;
use alloc::vec::Vec;
use channels::layout::MAX_MESSAGE_WORDS;
use channels::{Frame, FrameBuffer, Receiver, Sender, Side};
use core::sync::atomic::{fence, AtomicU64, Ordering};
use pause::{Bed, Bell, NoNotify, Waiter, BED_LOOKS};

/// A job: runs on every member of a run with the run's arguments, and returns the member's
/// result.
pub type Job = fn(&mut Member<'_>, &[u64]) -> u64;

/// Arguments a job takes at most.
pub const MAX_ARGS: usize = 4;
/// Words a member's vector has at most in [`Member::scan`] and [`Member::all_reduce_vec`]
/// (and in a message of [`Member::send`]): a message's words, less its kind.
pub const MAX_VECTOR: usize = MAX_MESSAGE_WORDS - 1;

/// How the members of a run cooperate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Over URPC channels between each worker and the coordinator.
    Message,
    /// Through atomics and arrays in shared memory.
    Shared,
}

/// The first word of every message between members.
mod kind {
    /// Coordinator to worker: `[RUN, job, size, args...]`.
    pub const RUN: u64 = 1;
    /// Worker to coordinator: `[DONE, result]`.
    pub const DONE: u64 = 2;
    /// Worker to coordinator: `[REDUCE, op, values...]`.
    pub const REDUCE: u64 = 3;
    /// Coordinator to worker: `[REDUCED, values...]`.
    pub const REDUCED: u64 = 4;
    /// Worker to coordinator: `[SCAN, values...]`.
    pub const SCAN: u64 = 5;
    /// Coordinator to worker: `[PREFIX, values...]` then `[TOTALS, values...]`.
    pub const PREFIX: u64 = 6;
    pub const TOTALS: u64 = 7;
    /// Between a job's members: `[USER, words...]` ([`super::Member::send`]).
    pub const USER: u64 = 8;
    /// Coordinator to worker: end; the worker answers `STOPPED` and returns.
    pub const STOP: u64 = 9;
    pub const STOPPED: u64 = 10;
}

/// Words of a message put together on the stack without a whole message's buffer.
const SHORT_MESSAGE_WORDS: usize = 8;

/// One end of a worker's channel to the coordinator.
struct Link {
    sender: Sender<Frame<'static>, NoNotify>,
    receiver: Receiver<Frame<'static>>,
    waiter: Waiter,
}

impl Link {
    /// The ends of a new channel, `(coordinator's, worker's)`, on a frame kept for good.
    fn pair() -> (Link, Link) {
        let frame = Box::leak(Box::new(FrameBuffer::new())).frame();
        let end = |side| {
            let sender = Sender::new(frame, side, NoNotify).expect("a FrameBuffer is a valid frame");
            let receiver = Receiver::new(frame, side).expect("a FrameBuffer is a valid frame");
            Link { sender, receiver, waiter: Waiter::default() }
        };
        (end(Side::A), end(Side::B))
    }

    /// Sends `kind` followed by `words`.
    fn send(&mut self, kind: u64, words: &[u64]) {
        // A short message is put together in a short buffer: most are a few words, and
        // clearing a whole message's buffer for each would cost more than sending it.
        let mut short = [0; SHORT_MESSAGE_WORDS];
        let mut long;
        let message = if words.len() < SHORT_MESSAGE_WORDS {
            &mut short[..=words.len()]
        } else {
            long = [0; MAX_MESSAGE_WORDS];
            &mut long[..=words.len()]
        };
        message[0] = kind;
        message[1..].copy_from_slice(words);
        if let Err(e) = self.sender.send(message, &mut self.waiter) {
            panic!("parallel: a member's channel broke: {e:?}");
        }
    }

    /// Waits for the next message, which must be of kind `kind`, and copies its words
    /// (after the kind) into `into`; returns how many there were.
    fn expect(&mut self, kind: u64, into: &mut [u64]) -> usize {
        let message = match self.receiver.recv(&mut self.waiter) {
            Ok(message) => message,
            Err(e) => panic!("parallel: a member's channel broke: {e:?}"),
        };
        if message.first() != Some(&kind) {
            panic!("parallel: expected a message of kind {kind}, got {:?}", message.first());
        }
        let words = &message[1..];
        let n = words.len().min(into.len());
        into[..n].copy_from_slice(&words[..n]);
        words.len()
    }

    /// The next message's kind and words, if one has arrived.
    fn try_take(&mut self, into: &mut [u64]) -> Option<(u64, usize)> {
        let message = match self.receiver.try_recv() {
            Ok(message) => message?,
            Err(e) => panic!("parallel: a member's channel broke: {e:?}"),
        };
        let (&kind, words) = message.split_first()?;
        let n = words.len().min(into.len());
        into[..n].copy_from_slice(&words[..n]);
        Some((kind, words.len()))
    }
}

/// A value alone in its cache line, so that members writing neighbours do not share one.
#[repr(C, align(64))]
#[derive(Debug, Default)]
struct Line(AtomicU64);

/// The shared-memory variant's state: what the members of a team share besides their
/// channels.
struct Board {
    /// Bumped (Release) after a shared run's job, size and arguments are posted.
    generation: AtomicU64,
    job: AtomicU64,
    size: AtomicU64,
    args: [AtomicU64; MAX_ARGS],
    /// Workers finished with the current shared run.
    done: Line,
    barrier: SenseBarrier,
    /// Per member: its result.
    results: Box<[Line]>,
    /// Per member: where it sleeps when idle ([`bed`]).
    beds: Box<[Line]>,
    /// Per member: 1 while it is about to sleep or sleeps in its bed; the coordinator
    /// that finds it so rings (and clears it).
    asleep: Box<[Line]>,
    /// Per member, [`MAX_VECTOR`] words: its vector in a reduction or a scan.
    vectors: Box<[AtomicU64]>,
}

impl Board {
    fn new(members: usize) -> Board {
        let lines = || (0..members).map(|_| Line::default()).collect();
        Board {
            generation: AtomicU64::new(0),
            job: AtomicU64::new(0),
            size: AtomicU64::new(0),
            args: Default::default(),
            done: Line::default(),
            barrier: SenseBarrier::new(members),
            results: lines(),
            beds: lines(),
            asleep: lines(),
            vectors: (0..members * MAX_VECTOR).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn vector(&self, member: usize) -> &[AtomicU64] {
        &self.vectors[member * MAX_VECTOR..(member + 1) * MAX_VECTOR]
    }
}

/// A worker's bed as the board shows it: nothing yet, offered (with the port), ready (the
/// coordinator has a bell for it), or none (the worker sleeps until an interrupt).
mod bed {
    pub const NOT_YET: u64 = 0;
    pub const OFFERED: u64 = 1 << 62;
    pub const READY: u64 = u64::MAX - 1;
    pub const NONE: u64 = u64::MAX;
}

/// The job a word holds.
///
/// # Safety
///
/// `word` must have been made from a [`Job`] by [`job_word`].
unsafe fn job_from(word: u64) -> Job {
    // SAFETY: the caller promises `word` is a `Job` pointer as `job_word` made it; a
    // function pointer and a usize have the same size on every target we build for.
    unsafe { core::mem::transmute::<usize, Job>(word as usize) }
}

fn job_word(job: Job) -> u64 {
    job as usize as u64
}

/// A team of members: this dispatcher (member 0) and the workers it started.
pub struct Team {
    links: Vec<Link>,
    board: &'static Board,
    /// Per worker (index - 1): the bell of its bed, if it has one.
    bells: Vec<Option<Bell>>,
}

/// A worker before it runs: what [`Team::new`] hands to the function that starts it,
/// which must call [`Worker::serve`] on the worker's own core (or thread).
pub struct Worker {
    index: usize,
    link: Link,
    board: &'static Board,
    bed: Option<Bed>,
}

impl Team {
    /// A team of `workers + 1` members; `start(worker)` must start each worker (index 1
    /// to `workers`) serving. A failed start ends the team made so far and is returned.
    pub fn new<E>(workers: usize, mut start: impl FnMut(Worker) -> Result<(), E>) -> Result<Team, E> {
        let board: &'static Board = Box::leak(Box::new(Board::new(workers + 1)));
        let mut team = Team { links: Vec::with_capacity(workers), board, bells: Vec::new() };
        for index in 1..=workers {
            let (coordinator, worker) = Link::pair();
            start(Worker { index, link: worker, board, bed: None })?;
            team.links.push(coordinator);
            team.bells.push(None);
        }
        Ok(team)
    }

    /// Waits until every worker has offered its bed ([`Worker::offer_bed`]) or said it
    /// has none, and makes a bell for each offered one with `bell(worker index, port)`.
    /// A worker whose bell could not be made (`None`) sleeps until an interrupt instead.
    /// Every worker must offer or refuse, or this waits for ever.
    pub fn ring_beds(&mut self, mut bell: impl FnMut(usize, u64) -> Option<Bell>) {
        let mut waiter = Waiter::default();
        for index in 1..self.members() {
            let slot = &self.board.beds[index].0;
            // Acquire pairs with the worker's Release offer: its bed is made.
            let offer = loop {
                match slot.load(Ordering::Acquire) {
                    bed::NOT_YET => waiter.wait(),
                    offer => break offer,
                }
            };
            let made = (offer & bed::OFFERED != 0 && offer != bed::NONE && offer != bed::READY)
                .then(|| bell(index, offer & !bed::OFFERED))
                .flatten();
            slot.store(if made.is_some() { bed::READY } else { bed::NONE }, Ordering::Release);
            self.bells[index - 1] = made;
        }
    }

    /// After posting work for worker `index`: if it sleeps in its bed (or is about to),
    /// rings it. The worker's half of this handshake is in [`Worker::serve`]: it says it
    /// sleeps, then looks for work once more; the coordinator posts work, then looks
    /// whether it sleeps. With a full fence between each side's write and read, one of
    /// them sees the other's write: a worker never sleeps through a posted job.
    fn wake(&mut self, index: usize) {
        fence(Ordering::SeqCst);
        if self.board.asleep[index].0.swap(0, Ordering::Relaxed) != 0 {
            if let Some(bell) = &mut self.bells[index - 1] {
                bell.ring();
            }
        }
    }

    /// Members: the workers and this one.
    pub fn members(&self) -> usize {
        self.links.len() + 1
    }

    /// Runs `job(member, args)` on members `0..size` at once, this one included, the
    /// members cooperating as `variant` says; returns each member's result, by index.
    /// `size` is at least 1 and at most [`Team::members`], `args` at most [`MAX_ARGS`]
    /// words; the other members stay idle.
    pub fn run(&mut self, size: usize, variant: Variant, job: Job, args: &[u64]) -> Vec<u64> {
        let size = size.clamp(1, self.members());
        let args = &args[..args.len().min(MAX_ARGS)];
        let board = self.board;
        match variant {
            Variant::Message => {
                let mut run = [0; 2 + MAX_ARGS];
                run[0] = job_word(job);
                run[1] = size as u64;
                run[2..2 + args.len()].copy_from_slice(args);
                for index in 1..size {
                    self.links[index - 1].send(kind::RUN, &run[..2 + args.len()]);
                    self.wake(index);
                }
            }
            Variant::Shared => {
                board.job.store(job_word(job), Ordering::Relaxed);
                board.size.store(size as u64, Ordering::Relaxed);
                for (slot, &arg) in board.args.iter().zip(args) {
                    slot.store(arg, Ordering::Relaxed);
                }
                board.done.0.store(0, Ordering::Relaxed);
                board.barrier.reset(size);
                // Release: a worker that sees the new generation (Acquire) sees the job.
                board.generation.fetch_add(1, Ordering::Release);
                for index in 1..size {
                    self.wake(index);
                }
            }
        }
        let mut results = Vec::with_capacity(size);
        let (workers, _) = self.links.split_at_mut(size - 1);
        let mut member = Member::new(0, size, variant, Role::Coordinator(workers), board);
        results.push(job(&mut member, args));
        match variant {
            Variant::Message => {
                for link in &mut self.links[..size - 1] {
                    let mut result = [0];
                    link.expect(kind::DONE, &mut result);
                    results.push(result[0]);
                }
            }
            Variant::Shared => {
                let mut waiter = Waiter::default();
                // Acquire pairs with each worker's Release increment: its result is in.
                while board.done.0.load(Ordering::Acquire) < size as u64 - 1 {
                    waiter.wait();
                }
                results.extend(board.results[1..size].iter().map(|r| r.0.load(Ordering::Relaxed)));
            }
        }
        results
    }
}

impl Drop for Team {
    /// Tells every worker to end, and waits until each has.
    fn drop(&mut self) {
        for index in 1..self.members() {
            self.links[index - 1].send(kind::STOP, &[]);
            self.wake(index);
        }
        for link in &mut self.links {
            link.expect(kind::STOPPED, &mut []);
        }
        for bell in self.bells.drain(..).flatten() {
            bell.release();
        }
    }
}

impl Worker {
    /// This worker's index in its team.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Offers `bed` (or, with `None`, no bed) to sleep in when idle: the coordinator makes
    /// a bell for it ([`Team::ring_beds`]). Call before [`Worker::serve`].
    pub fn offer_bed(&mut self, bed: Option<Bed>) {
        let offer = bed.as_ref().map_or(bed::NONE, |b| bed::OFFERED | b.port());
        self.bed = bed;
        // Release: the coordinator that reads the offer (Acquire) may use the port.
        self.board.beds[self.index].0.store(offer, Ordering::Release);
    }

    /// Sleeps in this worker's bed unless work has come for it since it last looked (a
    /// message, or a shared job after generation `seen`). The worker's half of the
    /// handshake of [`Team::wake`].
    fn sleep_in_bed(&mut self, bed: &Bed, seen: u64) {
        let asleep = &self.board.asleep[self.index].0;
        asleep.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let empty = match self.link.receiver.announce_sleep() {
            Ok(empty) => empty,
            Err(e) => panic!("parallel: a member's channel broke: {e:?}"),
        };
        if empty && self.board.generation.load(Ordering::Acquire) == seen {
            bed.sleep();
        }
        self.link.receiver.end_sleep();
        asleep.store(0, Ordering::Relaxed);
    }

    /// Runs the jobs the coordinator posts until it ends the team.
    pub fn serve(mut self) {
        let board = self.board;
        let mut seen = board.generation.load(Ordering::Acquire);
        let mut idle = Waiter::default();
        let mut message = [0; MAX_MESSAGE_WORDS];
        loop {
            if let Some((kind, len)) = self.link.try_take(&mut message) {
                idle.found();
                match kind {
                    kind::RUN if len >= 2 => {
                        // SAFETY: RUN messages carry a job the coordinator made a word of.
                        let job = unsafe { job_from(message[0]) };
                        let size = message[1] as usize;
                        let args = &message[2..len];
                        let role = Role::Worker(&mut self.link);
                        let result =
                            job(&mut Member::new(self.index, size, Variant::Message, role, board), args);
                        self.link.send(kind::DONE, &[result]);
                    }
                    kind::STOP => {
                        if let Some(bed) = self.bed.take() {
                            bed.release();
                        }
                        self.link.send(kind::STOPPED, &[]);
                        return;
                    }
                    other => panic!("parallel: worker {} got a message of kind {other}", self.index),
                }
                continue;
            }
            // Acquire pairs with the coordinator's Release bump: the job is posted.
            let generation = board.generation.load(Ordering::Acquire);
            if generation != seen {
                seen = generation;
                idle.found();
                let size = board.size.load(Ordering::Relaxed) as usize;
                if self.index < size {
                    // SAFETY: the board's job is always one the coordinator made a word of.
                    let job = unsafe { job_from(board.job.load(Ordering::Relaxed)) };
                    let mut args = [0; MAX_ARGS];
                    for (arg, slot) in args.iter_mut().zip(&board.args) {
                        *arg = slot.load(Ordering::Relaxed);
                    }
                    let role = Role::Worker(&mut self.link);
                    let result = job(&mut Member::new(self.index, size, Variant::Shared, role, board), &args);
                    board.results[self.index].0.store(result, Ordering::Relaxed);
                    // Release: the result above is visible to the coordinator that counts
                    // this member done.
                    board.done.0.fetch_add(1, Ordering::Release);
                }
                continue;
            }
            let ready = board.beds[self.index].0.load(Ordering::Acquire) == bed::READY;
            if ready && idle.rested(BED_LOOKS) {
                if let Some(bed) = self.bed.take() {
                    // Still rested afterwards: if the look after waking finds nothing,
                    // the worker goes straight back to sleep.
                    self.sleep_in_bed(&bed, seen);
                    self.bed = Some(bed);
                    continue;
                }
            }
            idle.idle();
        }
    }
}

/// Where a member sits: the coordinator holds every worker's channel, a worker its own.
enum Role<'a> {
    Coordinator(&'a mut [Link]),
    Worker(&'a mut Link),
}

/// A member's view of the run it is in, and its ways to cooperate with the others.
pub struct Member<'a> {
    index: usize,
    size: usize,
    variant: Variant,
    role: Role<'a>,
    board: &'a Board,
    sense: LocalSense,
    waiter: Waiter,
}

impl<'a> Member<'a> {
    fn new(index: usize, size: usize, variant: Variant, role: Role<'a>, board: &'a Board) -> Member<'a> {
        Member { index, size, variant, role, board, sense: LocalSense::default(), waiter: Waiter::default() }
    }

    /// This member's index: 0 (the coordinator) to `size() - 1`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Members in this run.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// Returns once every member of the run has called it.
    pub fn barrier(&mut self) {
        match self.variant {
            // A barrier is a reduction of nothing.
            Variant::Message => drop(self.all_reduce(0, Reduce::Sum)),
            Variant::Shared => self.shared_barrier(),
        }
    }

    /// Shared variant: writes `values` into this member's row of the board, and waits
    /// until every member has written its own.
    fn post_row(&mut self, values: &[u64]) {
        let mine = self.board.vector(self.index);
        for (slot, &value) in mine.iter().zip(values) {
            slot.store(value, Ordering::Relaxed);
        }
        self.shared_barrier();
    }

    fn shared_barrier(&mut self) {
        let waiter = &mut self.waiter;
        self.board.barrier.wait(&mut self.sense, || waiter.wait());
    }

    /// Every member's `value` combined by `op`, returned to every member.
    pub fn all_reduce(&mut self, value: u64, op: Reduce) -> u64 {
        let mut values = [value];
        self.all_reduce_vec(&mut values, op);
        values[0]
    }

    /// Every member's `values` combined by `op` element by element, in place on every
    /// member; all members pass the same length, at most [`MAX_VECTOR`].
    pub fn all_reduce_vec(&mut self, values: &mut [u64], op: Reduce) {
        assert!(values.len() <= MAX_VECTOR, "parallel: a reduction of more than MAX_VECTOR words");
        match (&mut self.role, self.variant) {
            (Role::Coordinator(workers), Variant::Message) => {
                let mut theirs = [0; MAX_VECTOR];
                for link in workers.iter_mut() {
                    let n = link.expect(kind::REDUCE, &mut theirs[..values.len()]);
                    combine_into(op, values, theirs[..n.min(values.len())].iter().copied());
                }
                for link in workers.iter_mut() {
                    link.send(kind::REDUCED, values);
                }
            }
            (Role::Worker(link), Variant::Message) => {
                link.send(kind::REDUCE, values);
                link.expect(kind::REDUCED, values);
            }
            (_, Variant::Shared) => {
                self.post_row(values);
                values.fill(op.identity());
                for member in 0..self.size {
                    let row = self.board.vector(member);
                    combine_into(op, values, row.iter().map(|w| w.load(Ordering::Relaxed)));
                }
                // Nobody may overwrite a row before everyone has read them all.
                self.shared_barrier();
            }
        }
    }

    /// A prefix sum across members, element by element: afterwards `values` holds the sum
    /// of the `values` of the members before this one (zeros on member 0) and `totals`
    /// the sum over all members. All members pass the same length, at most
    /// [`MAX_VECTOR`]; `totals` is as long as `values`. Sums wrap modulo 2^64.
    pub fn scan(&mut self, values: &mut [u64], totals: &mut [u64]) {
        let len = values.len();
        assert!(len <= MAX_VECTOR && totals.len() == len, "parallel: a scan of mismatched lengths");
        match (&mut self.role, self.variant) {
            (Role::Coordinator(workers), Variant::Message) => {
                // `totals` runs ahead: the sum of the members heard from so far, which is
                // the prefix of the next one.
                totals.copy_from_slice(values);
                values.fill(0);
                let mut theirs = [0; MAX_VECTOR];
                for link in workers.iter_mut() {
                    let n = link.expect(kind::SCAN, &mut theirs[..len]);
                    link.send(kind::PREFIX, totals);
                    combine_into(Reduce::Sum, totals, theirs[..n.min(len)].iter().copied());
                }
                for link in workers.iter_mut() {
                    link.send(kind::TOTALS, totals);
                }
            }
            (Role::Worker(link), Variant::Message) => {
                link.send(kind::SCAN, values);
                link.expect(kind::PREFIX, values);
                link.expect(kind::TOTALS, totals);
            }
            (_, Variant::Shared) => {
                self.post_row(values);
                values.fill(0);
                totals.fill(0);
                for member in 0..self.size {
                    let row = self.board.vector(member).iter().map(|w| w.load(Ordering::Relaxed));
                    if member < self.index {
                        combine_into(Reduce::Sum, values, row.clone());
                    }
                    combine_into(Reduce::Sum, totals, row);
                }
                self.shared_barrier();
            }
        }
    }

    /// Sends `words` (at most [`MAX_VECTOR`]) to member `to`: from a worker, only to
    /// member 0; from member 0, to any worker. Over the channels, whatever the variant.
    pub fn send(&mut self, to: usize, words: &[u64]) {
        self.link(to).send(kind::USER, words);
    }

    /// Waits for the next message from member `from` (0 for a worker; any worker for
    /// member 0), copies it into `into` and returns its length.
    pub fn receive(&mut self, from: usize, into: &mut [u64]) -> usize {
        self.link(from).expect(kind::USER, into)
    }

    /// The next message from member `from` if one has arrived, as [`Member::receive`].
    pub fn try_receive(&mut self, from: usize, into: &mut [u64]) -> Option<usize> {
        let (kind, len) = self.link(from).try_take(into)?;
        if kind != kind::USER {
            panic!("parallel: expected a member's message, got one of kind {kind}");
        }
        Some(len)
    }

    /// Waits a moment: for a member polling for messages of several members.
    pub fn pause(&mut self) {
        self.waiter.wait();
    }

    /// The channel to member `other`.
    fn link(&mut self, other: usize) -> &mut Link {
        match &mut self.role {
            Role::Coordinator(workers) if (1..=workers.len()).contains(&other) => &mut workers[other - 1],
            Role::Worker(link) if other == 0 => link,
            _ => panic!("parallel: member {} has no channel to member {other}", self.index),
        }
    }
}

#[cfg(target_os = "none")]
mod on_flotilla {
    use super::{Bed, Bell, Team, Worker};
    use crate::error::Error;
    use alloc::boxed::Box;

    /// Stack of each worker: room for a few message-sized buffers.
    const WORKER_STACK_BYTES: u64 = 64 * 1024;

    fn worker_main(data: u64) {
        // SAFETY: `span_team` passes a worker it leaked with `Box::into_raw`, once.
        let mut worker = unsafe { Box::from_raw(data as *mut Worker) };
        // A worker without a bed still works; it sleeps until its core's next tick.
        worker.offer_bed(Bed::new().ok());
        worker.serve();
    }

    impl Team {
        /// A team of `members` members: this dispatcher, and workers spanned to cores 1,
        /// 2, ... (worker `i` on core `i`).
        pub fn span(members: usize) -> Result<Team, Error> {
            let mut team = Team::new(members.saturating_sub(1), |worker| {
                let core = worker.index() as u64;
                let data = Box::into_raw(Box::new(worker));
                match crate::span::span(core, worker_main, data as u64, WORKER_STACK_BYTES) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // SAFETY: the span failed, so nobody else has the worker.
                        drop(unsafe { Box::from_raw(data) });
                        Err(e)
                    }
                }
            })?;
            // Worker `i` runs on core `i`.
            team.ring_beds(|index, port| Bell::for_port(index as u64, port).ok());
            Ok(team)
        }
    }
}

#[cfg(test)]
mod tests;
