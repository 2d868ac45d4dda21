//! The monitor mesh: a URPC channel between every pair of monitors, and the bring-up that
//! builds it.
//!
//! The CPU drivers give each monitor one channel to start from: the *boot channel* to the
//! boot core's monitor, a page the boot core zeroed (`abi::cap::slot::BOOT_CHANNEL`).
//! Over those, the boot core's monitor learns which monitors are alive (each says hello),
//! hands every pair of them a channel frame made from its own RAM (`CONNECT`), and tells
//! each who the members are (`MEMBERS`). Each member maps its frames, says hello on every
//! channel and, once it has heard from every member, tells the boot core (`JOINED`). A
//! monitor that does not answer in time is reported and left out; the rest go on.
//!
//! Every monitor wakes its peers through their notify port [`MONITOR_PORT`], bound to its
//! own endpoint, so a monitor with nothing to do sleeps on that endpoint, where requests
//! from its own core's programs arrive too.

use crate::wire;
use alloc::vec::Vec;
use channels::{Error as RingError, Side};
use libos::abi::cap::{slot, CapType, Rights, PAGE_SIZE};
use libos::cap::CapRef;
use libos::urpc::{map_shared, Channel, NotifyCap, Yield};
use libos::Error;

/// The notify port every monitor's endpoint is bound to.
pub const MONITOR_PORT: u64 = 0;

/// Words in one channel frame.
const FRAME_WORDS: usize = channels::layout::FRAME_BYTES / 8;

/// How long bring-up waits for a monitor, in counter ticks: long enough for emulated cores
/// that are slow to start (many of them on a host with few), short enough that a dead one
/// does not hold up the rest for long. Two seconds, and a quarter of one more per core.
fn bring_up_timeout_ticks(cores: usize) -> u64 {
    libos::clock::frequency_hz() * (8 + cores as u64) / 4
}

/// One monitor's channels to the others.
pub struct Mesh {
    pub me: usize,
    pub cores: usize,
    channels: Vec<Option<Channel>>,
    /// The cores whose monitors joined (a bit each), this one included.
    pub members: u64,
    /// Where the next poll starts, so that no channel starves the others.
    next: usize,
    /// Messages that came during bring-up but are not about it (a monitor that joined
    /// early already speaks the replication protocols): served first, in order, after.
    pub backlog: Vec<(usize, Vec<u64>)>,
}

impl Mesh {
    pub fn new(me: usize, cores: usize) -> Mesh {
        let mut channels = Vec::new();
        channels.resize_with(cores, || None);
        Mesh { me, cores, channels, members: 1 << me, next: 0, backlog: Vec::new() }
    }

    /// True if a channel to `core` is open.
    pub fn connected(&self, core: usize) -> bool {
        self.channels.get(core).is_some_and(Option::is_some)
    }

    /// The member cores other than this one.
    pub fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.cores).filter(|&c| c != self.me && self.members & (1 << c) != 0 && self.connected(c))
    }

    /// Sends `words` to `core`, waiting (yielding) while its ring is full.
    pub fn send(&mut self, core: usize, words: &[u64]) -> Result<(), SendError> {
        let Some(Some(channel)) = self.channels.get_mut(core) else {
            return Err(SendError::NoChannel);
        };
        channel.sender.send(words, &mut Yield).map_err(SendError::Ring)
    }

    /// The next message from any channel, copied into `into` (its one copy out of the
    /// ring): the core it came from. A channel whose peer broke the protocol is reported
    /// and closed.
    pub fn poll(&mut self, into: &mut Vec<u64>) -> Option<usize> {
        for i in 0..self.cores {
            let core = (self.next + i) % self.cores;
            let Some(channel) = self.channels[core].as_mut() else { continue };
            match channel.receiver.try_recv() {
                Ok(Some(words)) => {
                    into.clear();
                    into.extend_from_slice(words);
                    self.next = core + 1;
                    return Some(core);
                }
                Ok(None) => {}
                Err(e) => {
                    libos::println!("monitor: core {}: channel from core {core} closed: {e:?}", self.me);
                    self.channels[core] = None;
                }
            }
        }
        None
    }

    /// Announces on every channel that this monitor sleeps; true if all are still empty
    /// (then sleep, and call [`Mesh::end_sleep`] on waking), false if a message came.
    pub fn announce_sleep(&mut self) -> bool {
        let mut empty = true;
        for channel in self.channels.iter_mut().flatten() {
            empty &= channel.receiver.announce_sleep().unwrap_or(false);
        }
        empty
    }

    pub fn end_sleep(&mut self) {
        for channel in self.channels.iter_mut().flatten() {
            channel.receiver.end_sleep();
        }
    }

    /// Waits a little for a message while a request is outstanding: lets this core's
    /// other dispatchers run, or if there are none sleeps until an interrupt (a peer's
    /// notification, or the tick that lets the caller check its deadline).
    pub fn pause(&mut self) {
        if self.announce_sleep() {
            libos::syscall::wait_for_interrupt();
        }
        self.end_sleep();
    }

    /// Opens the channel to `peer` in `words`; the lower core id takes side A.
    fn open(&mut self, peer: usize, words: &'static [core::sync::atomic::AtomicU64]) -> Result<(), Error> {
        let side = if self.me < peer { Side::A } else { Side::B };
        let notify = notify_cap(peer)?;
        self.channels[peer] = Some(Channel::open(words, side, notify)?);
        Ok(())
    }
}

/// Why a message could not be sent.
#[derive(Debug)]
pub enum SendError {
    /// There is no channel to that core (its monitor never joined, or broke the protocol).
    NoChannel,
    /// The channel refused it.
    Ring(RingError),
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::NoChannel => f.write_str("no channel"),
            SendError::Ring(e) => write!(f, "channel closed: {e:?}"),
        }
    }
}

/// A notify capability for `core`'s monitor port.
fn notify_cap(core: usize) -> Result<NotifyCap, Error> {
    let dest = libos::cspace::alloc_slot()?;
    libos::kernel::notify_create(core as u64, MONITOR_PORT, dest)?;
    Ok(NotifyCap(dest))
}

/// What bring-up ended with, on the boot core.
pub struct BringUp {
    /// Cores whose monitors never said hello, or hello but never joined.
    pub silent: u64,
    pub joined: u64,
}

/// Builds the mesh. On the boot core: returns once every member joined or the time is up.
/// Elsewhere: returns once this monitor has heard from every member.
pub fn bring_up(
    mesh: &mut Mesh,
    ram: &mut dyn FnMut(u64) -> Result<CapRef, Error>,
) -> Result<BringUp, Error> {
    let cores = mesh.cores;
    if cores == 1 {
        return Ok(BringUp { silent: 0, joined: 1 });
    }
    let boot = CapRef(slot::BOOT_CHANNEL);
    if mesh.me == 0 {
        let words = map_shared(boot, 0, cores as u64 - 1)?;
        for k in 1..cores {
            mesh.open(k, &words[(k - 1) * FRAME_WORDS..k * FRAME_WORDS])?;
        }
        let mut heard = 1u64;
        let timeout = bring_up_timeout_ticks(cores);
        wait_until(mesh, Some(timeout), |_, from, words| {
            if words.first() == Some(&wire::HELLO) {
                heard |= 1 << from;
            }
            heard.count_ones() as usize == cores
        });
        // Channel frames for every pair of members but the boot core, from the boot
        // core's RAM: the frames stay the boot core's, lent to the pair.
        for i in (1..cores).filter(|&i| heard & (1 << i) != 0) {
            for j in (i + 1..cores).filter(|&j| heard & (1 << j) != 0) {
                let frame = ram(PAGE_SIZE)?;
                let base = frame.identify()?.base;
                send_or_report(mesh, i, &[wire::CONNECT, j as u64, base]);
                send_or_report(mesh, j, &[wire::CONNECT, i as u64, base]);
            }
        }
        mesh.members = heard;
        for k in mesh.peers().collect::<Vec<_>>() {
            send_or_report(mesh, k, &[wire::MEMBERS, heard]);
        }
        let mut joined = 1u64;
        wait_until(mesh, Some(timeout), |_, from, words| {
            if words.first() == Some(&wire::JOINED) {
                joined |= 1 << from;
            }
            joined == heard
        });
        let all = if cores >= 64 { u64::MAX } else { (1 << cores) - 1 };
        Ok(BringUp { silent: all & !joined, joined })
    } else {
        let words = map_shared(boot, 0, 1)?;
        mesh.open(0, words)?;
        send_or_report(mesh, 0, &[wire::HELLO, mesh.me as u64]);
        let mut heard = 1u64 | (1 << mesh.me);
        let mut members = None;
        let mut failure = None;
        // The boot core's monitor always sends the members, after its own deadline at the
        // latest, and after every CONNECT for this core (one channel, in order): wait for it.
        wait_until(mesh, None, |mesh, from, words| {
            match *words {
                [wire::HELLO, ..] => heard |= 1 << from,
                [wire::CONNECT, peer, base] if from == 0 && (peer as usize) < mesh.cores => {
                    let peer = peer as usize;
                    match connect(mesh, peer, base) {
                        Ok(()) => send_or_report(mesh, peer, &[wire::HELLO, mesh.me as u64]),
                        Err(e) => failure = Some(e),
                    }
                }
                [wire::MEMBERS, mask] if from == 0 => members = Some(mask),
                _ => {}
            }
            members.is_some() || failure.is_some()
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let members = members.unwrap_or(heard);
        mesh.members = members;
        // Every channel is open now; hear from every member before saying so (most have
        // said hello already).
        if heard & members != members {
            let timeout = bring_up_timeout_ticks(cores);
            wait_until(mesh, Some(timeout), |_, from, words| {
                if words.first() == Some(&wire::HELLO) {
                    heard |= 1 << from;
                }
                heard & members == members
            });
        }
        send_or_report(mesh, 0, &[wire::JOINED]);
        Ok(BringUp { silent: 0, joined: mesh.members })
    }
}

/// Maps the channel frame at physical `base` (the boot core's) and opens the channel to
/// `peer` on it.
pub fn connect(mesh: &mut Mesh, peer: usize, base: u64) -> Result<(), Error> {
    let frame = libos::cspace::alloc_slot()?;
    let rights = Rights::READ.union(Rights::WRITE);
    libos::kernel::create_cap(CapType::UrpcFrame, base, PAGE_SIZE, rights, 0, frame)?;
    let words = map_shared(frame, 0, 1)?;
    mesh.open(peer, words)
}

fn send_or_report(mesh: &mut Mesh, core: usize, words: &[u64]) {
    if let Err(e) = mesh.send(core, words) {
        libos::println!("monitor: core {}: cannot send to the monitor of core {core} ({e})", mesh.me);
    }
}

/// Handles bring-up messages with `handle` until it returns true or `timeout` ticks have
/// passed (never, for `None`), sleeping between polls. Other messages wait in the backlog.
fn wait_until(
    mesh: &mut Mesh,
    timeout: Option<u64>,
    mut handle: impl FnMut(&mut Mesh, usize, &[u64]) -> bool,
) {
    let deadline = timeout.map(|t| libos::clock::now().saturating_add(t));
    loop {
        let mut message = Vec::new();
        while let Some(from) = mesh.poll(&mut message) {
            let bring_up = matches!(
                message.first(),
                Some(&(wire::HELLO | wire::CONNECT | wire::MEMBERS | wire::JOINED))
            );
            if !bring_up {
                mesh.backlog.push((from, core::mem::take(&mut message)));
            } else if handle(mesh, from, &message) {
                return;
            }
        }
        if deadline.is_some_and(|d| libos::clock::now() > d) {
            return;
        }
        mesh.pause();
    }
}
