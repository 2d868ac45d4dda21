//! Domains across cores: what one monitor knows of the programs on its core, and the
//! dispatchers it runs there for domains spanned from elsewhere.
//!
//! A *domain* is a program with one address space, running on one or more cores (one
//! dispatcher per core). It is named system-wide by a domain id: its home core in the top
//! byte, a number its home monitor gave it below. Each monitor keeps, for its own core:
//!
//! - the domains it started ([`Started`]: the boot core's init, and every `SPAWN`);
//! - the domains at home here whose root table a program attached ([`Home`]), with the
//!   cores they span: the home monitor is who orders shootdowns and kills for them;
//! - the dispatchers it runs for spanned domains ([`Span`]), each with the small CSpace it
//!   made for it on this core and this core's capability to the shared root table.
//!
//! The lists are this core's alone; `LIST` gathers every monitor's, the way every question
//! about the whole system is answered in a multikernel: by asking.

use alloc::vec::Vec;
use libos::abi::cap::{slot, CapType, Rights, PAGE_SIZE};
use libos::abi::CapAddr;
use libos::cap::{CapRef, DispatcherCap, EndpointCap, L1CNodeCap, RamCap, VNodeCap};
use libos::spawn::Child;
use libos::Error;

/// Badge bits of the exit notices the monitor's endpoint receives: which kind of
/// dispatcher ended, and its number below.
pub const STARTED_BADGE: u64 = 1 << 62;
pub const SPAN_BADGE: u64 = 1 << 61;
const NUMBER_MASK: u64 = (1 << 48) - 1;

/// The home core of a domain id.
pub fn home_of(domain: u64) -> usize {
    (domain >> 56) as usize
}

/// Up to 8 bytes of `name`, as one word (little-endian).
pub fn pack_name(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    for (b, c) in bytes.iter_mut().zip(name.bytes()) {
        *b = c;
    }
    u64::from_le_bytes(bytes)
}

/// A domain this monitor started.
pub struct Started {
    pub domain: u64,
    pub name: u64,
    pub child: Child,
}

/// A domain at home on this core that spans (or may span) other cores.
pub struct Home {
    pub domain: u64,
    pub nonce: u64,
    /// The monitor's copy of the domain's root table capability (attached by the program).
    pub root: CapRef,
    pub root_base: u64,
    pub name: u64,
    /// The dispatchers on other cores: (core, span number there).
    pub spans: Vec<(usize, u64)>,
}

/// A dispatcher this core runs for a spanned domain.
pub struct Span {
    pub number: u64,
    pub domain: u64,
    pub home: usize,
    /// This core's capability to the domain's root table: an L0 table capability made
    /// through the kernel capability, with an address-space id of this core.
    pub root: CapRef,
    /// The RAM its dispatcher and CSpace are made of, and their slots here.
    ram: RamCap,
    objects: [CapRef; 3],
}

#[derive(Default)]
pub struct Domains {
    pub me: usize,
    next_number: u64,
    pub started: Vec<Started>,
    pub homes: Vec<Home>,
    pub spans: Vec<Span>,
}

impl Domains {
    pub fn new(me: usize) -> Domains {
        Domains { me, next_number: 1, ..Domains::default() }
    }

    /// A new domain id (or span number) of this core.
    pub fn fresh_number(&mut self) -> u64 {
        let n = self.next_number;
        self.next_number += 1;
        n & NUMBER_MASK
    }

    pub fn fresh_domain(&mut self) -> u64 {
        (self.me as u64) << 56 | self.fresh_number()
    }

    /// Starts boot module `name` as a new domain on this core, its end reported to
    /// `endpoint` (the monitor's) with a badge; `console`: hand it the console's device
    /// and interrupt capabilities.
    pub fn start(
        &mut self,
        name: &str,
        arg: u64,
        endpoint: EndpointCap,
        ram_bytes: u64,
        console: bool,
    ) -> Result<u64, Error> {
        let domain = self.fresh_domain();
        let badge = STARTED_BADGE | (domain & NUMBER_MASK);
        let exit = badged(endpoint, badge)?;
        let options = libos::spawn::SpawnOptions {
            arg,
            ram_bytes,
            console,
            monitor_endpoint: Some(endpoint),
            exit_endpoint: Some(exit),
            ..Default::default()
        };
        let spawned = libos::spawn::boot_module(name).and_then(|elf| libos::spawn::spawn_elf(elf, options));
        // The child holds its own copy of the badged endpoint.
        libos::cspace::discard(exit.0);
        let child = spawned?;
        self.started.push(Started { domain, name: pack_name(name), child });
        Ok(domain)
    }

    /// The started domain whose exit notice carried `badge`, taken off the list.
    pub fn take_started(&mut self, badge: u64) -> Option<Started> {
        let number = badge & NUMBER_MASK;
        let index = self.started.iter().position(|s| s.domain & NUMBER_MASK == number)?;
        Some(self.started.swap_remove(index))
    }

    /// Records the root table a program attached under `nonce`: the domain at home here it
    /// belongs to (a started domain's id if this monitor started it).
    pub fn attach(&mut self, nonce: u64, root: CapRef) -> Result<(), Error> {
        let info = root.identify()?;
        if info.ty != CapType::VNodeL0 || self.homes.iter().any(|h| h.nonce == nonce) {
            return Err(Error::WrongType);
        }
        let started = self.started.iter().find(|s| s.child.root_table_base() == info.base);
        let (domain, name) = match started {
            Some(s) => (s.domain, s.name),
            None => match self.homes.iter().find(|h| h.root_base == info.base) {
                Some(h) => (h.domain, h.name),
                None => (self.fresh_domain(), pack_name("?")),
            },
        };
        self.homes.push(Home { domain, nonce, root, root_base: info.base, name, spans: Vec::new() });
        Ok(())
    }

    /// Forgets the domains at home here that ended without this monitor hearing of it: a
    /// program started by another program has no exit notice for the monitor, but once it
    /// is reclaimed the monitor's copy of its root table is gone with it (or the only copy
    /// left on this core), and no dispatcher of it runs elsewhere.
    pub fn forget_ended_homes(&mut self) {
        let ended: Vec<u64> = self
            .homes
            .iter()
            .filter(|h| h.spans.is_empty() && !self.started.iter().any(|s| s.domain == h.domain))
            .filter(|h| {
                // Gone altogether (its memory revoked by whoever reclaimed it), or only ours.
                let copies = libos::kernel::cap_op(h.root, libos::abi::method::cap_op::COPIES, [0; 3], None);
                copies.map_or(true, |n| n <= 1)
            })
            .map(|h| h.domain)
            .collect();
        for domain in ended {
            self.forget_homes(domain);
        }
    }

    /// Forgets the domain's attached root tables (it has ended).
    pub fn forget_homes(&mut self, domain: u64) {
        while let Some(index) = self.homes.iter().position(|h| h.domain == domain) {
            let home = self.homes.swap_remove(index);
            libos::cspace::discard(home.root);
        }
    }

    pub fn home_by_nonce(&mut self, nonce: u64) -> Option<&mut Home> {
        self.homes.iter_mut().find(|h| h.nonce == nonce)
    }

    /// Starts a dispatcher of `domain` (at home on core `home`, root table at `root_base`) on
    /// this core, at `entry` with `x0` = `arg`; its span number.
    pub fn start_span(
        &mut self,
        home: usize,
        domain: u64,
        root_base: u64,
        entry: u64,
        arg: u64,
        endpoint: EndpointCap,
    ) -> Result<u64, Error> {
        let number = self.fresh_number();
        let root = libos::cspace::alloc_slot()?;
        if let Err(e) =
            libos::kernel::create_cap(CapType::VNodeL0, root_base, PAGE_SIZE, Rights::ALL, home as u64, root)
        {
            libos::cspace::free_slot(root);
            return Err(e);
        }
        // The task CNode (16 KiB), the dispatcher (4 KiB) and a 16-slot root CNode.
        let ram = match libos::ram::alloc_ram(32 << 10, 16 << 10) {
            Ok(ram) => ram,
            Err(e) => {
                libos::cspace::discard(root);
                return Err(e);
            }
        };
        let made = (|| {
            let task = ram.make(CapType::L2CNode, 0, 0)?;
            let dispatcher = ram.make(CapType::Dispatcher, 0, 16 << 10)?;
            let l1 = ram.make(CapType::L1CNode, 16 * 64, 20 << 10)?;
            Ok::<_, Error>([task, dispatcher, l1])
        })();
        let objects = match made {
            Ok(objects) => objects,
            Err(e) => {
                let _ = libos::ram::free_ram(ram);
                libos::cspace::discard(root);
                return Err(e);
            }
        };
        let span = Span { number, domain, home, root, ram, objects };
        match build_span(&span, entry, arg, endpoint) {
            Ok(()) => {
                self.spans.push(span);
                Ok(number)
            }
            Err(e) => {
                span.destroy();
                Err(e)
            }
        }
    }

    /// The span whose exit notice carried `badge`, taken off the list.
    pub fn take_span(&mut self, badge: u64) -> Option<Span> {
        let number = badge & NUMBER_MASK;
        let index = self.spans.iter().position(|s| s.number == number)?;
        Some(self.spans.swap_remove(index))
    }
}

impl Span {
    pub fn dispatcher(&self) -> DispatcherCap {
        DispatcherCap(self.objects[1])
    }

    /// Destroys the dispatcher and its CSpace and gives their RAM back.
    pub fn destroy(self) {
        let _ = libos::ram::free_ram(self.ram);
        for object in self.objects {
            libos::cspace::free_slot(object);
        }
        libos::cspace::discard(self.root);
    }
}

/// A copy of `endpoint` with `badge`, in a new slot.
fn badged(endpoint: EndpointCap, badge: u64) -> Result<EndpointCap, Error> {
    let slot = libos::cspace::alloc_slot()?;
    match endpoint.0.mint_to(slot, Rights::ALL, badge) {
        Ok(()) => Ok(EndpointCap(slot)),
        Err(e) => {
            libos::cspace::free_slot(slot);
            Err(e)
        }
    }
}

/// Fills the span's task CNode, roots its CSpace, and starts its dispatcher.
fn build_span(span: &Span, entry: u64, arg: u64, endpoint: EndpointCap) -> Result<(), Error> {
    let [task, dispatcher, l1] = span.objects;
    let own_root = L1CNodeCap(CapRef(slot::ROOT_CNODE));
    let index = libos::cspace::reserve_l1_slot()?;
    let filled = own_root.install(index, task).and_then(|()| {
        let at = |s: CapAddr| CapRef(CapAddr::new(index, s.l2_index()));
        dispatcher.copy_to(at(slot::DISPATCHER))?;
        l1.copy_to(at(slot::ROOT_CNODE))?;
        span.root.copy_to(at(slot::ROOT_VNODE))?;
        task.copy_to(at(slot::TASK_CNODE))?;
        endpoint.0.copy_to(at(slot::MONITOR))
    });
    let _ = own_root.remove(index);
    libos::cspace::release_l1_slot(index);
    filled?;
    L1CNodeCap(l1).install(0, task)?;
    let exit = badged(endpoint, SPAN_BADGE | span.number)?;
    let setup =
        DispatcherCap(dispatcher).setup(L1CNodeCap(l1), VNodeCap(span.root), entry, 0, arg, Some(exit));
    libos::cspace::discard(exit.0);
    setup?;
    DispatcherCap(dispatcher).run()
}
