//! The monitor's half of domains across cores: requests from programs (`SPAN`, `SHOOTDOWN`,
//! `SPAWN`, `KILL`, `LIST`), the messages monitors exchange for them, and the exit notices
//! of the dispatchers it started.

use crate::domains::{home_of, SPAN_BADGE, STARTED_BADGE};
use crate::serve::Monitor;
use crate::wire;
use alloc::vec::Vec;
use libos::monitor::status;
use libos::spawn::Exit;

/// RAM a domain started by `SPAWN` gets for its own allocations.
const SPAWNED_RAM_BYTES: u64 = 4 << 20;

/// One line of the domain list: (domain, cores, name).
type Entry = (u64, u64, u64);

impl Monitor {
    /// `SPAN`: a dispatcher of the domain attached under `nonce` on `core`.
    pub(crate) fn span(&mut self, core: usize, nonce: u64, entry: u64, arg: u64) -> Result<[u64; 3], u64> {
        let me = self.mesh.me;
        let home = self.domains.home_by_nonce(nonce).ok_or(status::NOT_FOUND)?;
        let (domain, root_base) = (home.domain, home.root_base);
        let span = if core == me {
            self.span_here(me, domain, root_base, entry, arg)?
        } else {
            if !self.is_peer(core as u64) {
                return Err(status::BAD_CORE);
            }
            self.ask(core, wire::SPAN_REQUEST, &[domain, root_base, entry, arg], wire::SPAN_REPLY)?
        };
        if let Some(home) = self.domains.home_by_nonce(nonce) {
            home.spans.push((core, span));
        }
        Ok([domain, span, 0])
    }

    /// Starts a dispatcher of `domain` (at home on `home`) on this core: its span number.
    fn span_here(
        &mut self,
        home: usize,
        domain: u64,
        root_base: u64,
        entry: u64,
        arg: u64,
    ) -> Result<u64, u64> {
        let endpoint = self.endpoint.cap();
        self.domains.start_span(home, domain, root_base, entry, arg, endpoint).map_err(|e| {
            libos::println!("monitor: core {}: cannot span domain {domain:#x} here: {e}", self.mesh.me);
            status::FAILED
        })
    }

    /// Sends `[request, token, args...]` to `core`'s monitor and waits for its answer,
    /// `[reply, token, status, value]`: the value, or the status if it is not OK.
    fn ask(&mut self, core: usize, request: u64, args: &[u64], reply: u64) -> Result<u64, u64> {
        let token = self.token();
        let mut message = alloc::vec![request, token];
        message.extend_from_slice(args);
        self.send(core, &message);
        let mut answer = None;
        self.wait_for(|from, words| match *words {
            [tag, t, code, value] if tag == reply && t == token && from == core => {
                answer = Some((code, value));
                true
            }
            _ => false,
        });
        match answer {
            Some((status::OK, value)) => Ok(value),
            Some((code, _)) => Err(code),
            None => Err(status::TIMEOUT),
        }
    }

    /// `SHOOTDOWN`: every core the domain spans forgets the pages; the cores, as a mask.
    pub(crate) fn shootdown(&mut self, nonce: u64, vaddr: u64, pages: u64) -> Result<[u64; 3], u64> {
        let me = self.mesh.me;
        let home = self.domains.home_by_nonce(nonce).ok_or(status::NOT_FOUND)?;
        let domain = home.domain;
        let cores = home.spans.iter().fold(0u64, |mask, &(core, _)| mask | 1 << core);
        // Dispatchers of the domain on this core have address-space ids of their own.
        if cores & (1 << me) != 0 {
            self.invalidate_here(domain, vaddr, pages);
        }
        let remote: Vec<usize> = (0..self.mesh.cores).filter(|&c| c != me && cores & (1 << c) != 0).collect();
        let token = self.token();
        for &core in &remote {
            self.send(core, &[wire::SHOOTDOWN_REQUEST, token, domain, vaddr, pages]);
        }
        let mut done = 0u64;
        let expected = remote.iter().fold(0u64, |m, &c| m | 1 << c);
        let answered = expected == 0
            || self.wait_for(|from, words| {
                if *words == [wire::SHOOTDOWN_DONE, token] {
                    done |= 1 << from;
                }
                done == expected
            });
        if answered {
            Ok([cores, 0, 0])
        } else {
            Err(status::TIMEOUT)
        }
    }

    /// Forgets this core's translations of the pages for every dispatcher of `domain` here.
    fn invalidate_here(&mut self, domain: u64, vaddr: u64, pages: u64) {
        for span in self.domains.spans.iter().filter(|s| s.domain == domain) {
            if let Err(e) = libos::kernel::tlb_invalidate(span.root, vaddr, pages) {
                libos::println!("monitor: core {}: TLB invalidation failed: {e}", self.mesh.me);
            }
        }
    }

    /// `SPAWN`: boot module number `module` as a new domain on `core`.
    pub(crate) fn spawn_on(&mut self, core: usize, module: u64, arg: u64) -> Result<[u64; 3], u64> {
        if core == self.mesh.me {
            return self.spawn_here(module, arg).map(|domain| [domain, 0, 0]);
        }
        if !self.is_peer(core as u64) {
            return Err(status::BAD_CORE);
        }
        let domain = self.ask(core, wire::SPAWN_REQUEST, &[module, arg], wire::SPAWN_REPLY)?;
        Ok([domain, 0, 0])
    }

    fn spawn_here(&mut self, module: u64, arg: u64) -> Result<u64, u64> {
        let name =
            usize::try_from(module).ok().and_then(libos::spawn::module_name).ok_or(status::NOT_FOUND)?;
        let endpoint = self.endpoint.cap();
        self.domains.start(name, arg, endpoint, SPAWNED_RAM_BYTES, false).map_err(|e| {
            libos::println!("monitor: core {}: cannot start {name}: {e}", self.mesh.me);
            match e {
                libos::Error::OutOfRam => status::OUT_OF_MEMORY,
                _ => status::FAILED,
            }
        })
    }

    /// `KILL`: ends `domain` everywhere, through its home monitor.
    pub(crate) fn kill(&mut self, domain: u64) -> Result<[u64; 3], u64> {
        let home = home_of(domain);
        if home == self.mesh.me {
            return self.kill_here(domain).map(|()| [0; 3]);
        }
        if home >= self.mesh.cores || !self.is_peer(home as u64) {
            return Err(status::NOT_FOUND);
        }
        self.ask(home, wire::KILL_REQUEST, &[domain], wire::KILL_REPLY)?;
        Ok([0; 3])
    }

    /// Ends every dispatcher of `domain` (at home here), waiting until those on other cores
    /// are gone.
    fn kill_here(&mut self, domain: u64) -> Result<(), u64> {
        let me = self.mesh.me;
        let known_here = self.domains.homes.iter().any(|h| h.domain == domain)
            || self.domains.started.iter().any(|s| s.domain == domain);
        if !known_here {
            return Err(status::NOT_FOUND);
        }
        let spans: Vec<(usize, u64)> = self
            .domains
            .homes
            .iter()
            .filter(|h| h.domain == domain)
            .flat_map(|h| h.spans.iter().copied())
            .collect();
        let mut remote = 0u64;
        for &(core, _) in &spans {
            if core != me && remote & (1 << core) == 0 {
                remote |= 1 << core;
                self.send(core, &[wire::SPAN_KILL, domain]);
            }
        }
        self.kill_spans_here(domain);
        if let Some(started) = self.domains.started.iter().find(|s| s.domain == domain) {
            // Its exit notice comes back to this monitor, which then reclaims it.
            let _ = started.child.kill();
        }
        // Wait until the other cores' dispatchers of it are gone.
        let mut pending: Vec<(usize, u64)> = spans.into_iter().filter(|&(c, _)| c != me).collect();
        while !pending.is_empty() {
            let mut ended = None;
            let answered = self.wait_for(|from, words| match *words {
                [wire::SPAN_ENDED, d, span] if d == domain => {
                    ended = Some((from, span));
                    true
                }
                _ => false,
            });
            match ended {
                Some(gone) => {
                    self.span_ended(gone.0, domain, gone.1);
                    pending.retain(|&p| p != gone);
                }
                None if !answered => return Err(status::TIMEOUT),
                None => {}
            }
        }
        Ok(())
    }

    /// Ends this core's dispatchers of `domain` and tells their home. Done here and now, not
    /// when their exit notices arrive: the monitor may be waiting for another monitor's
    /// answer meanwhile, and only reads its endpoint when it is not (the notices that come
    /// later find nothing left to do).
    fn kill_spans_here(&mut self, domain: u64) {
        while let Some(index) = self.domains.spans.iter().position(|s| s.domain == domain) {
            let span = self.domains.spans.swap_remove(index);
            let _ = span.dispatcher().kill();
            self.span_gone(span);
        }
    }

    /// Destroys `span` (ended) and tells its domain's home.
    fn span_gone(&mut self, span: crate::domains::Span) {
        let (domain, home, number) = (span.domain, span.home, span.number);
        span.destroy();
        if home == self.mesh.me {
            self.span_ended(home, domain, number);
        } else {
            self.send(home, &[wire::SPAN_ENDED, domain, number]);
        }
    }

    /// A dispatcher of `domain` (at home here) on `core` is gone.
    fn span_ended(&mut self, core: usize, domain: u64, span: u64) {
        for home in self.domains.homes.iter_mut().filter(|h| h.domain == domain) {
            home.spans.retain(|&s| s != (core, span));
        }
    }

    /// `LIST`: entry `index` of every monitor's domains, merged.
    pub(crate) fn list(&mut self, index: u64) -> Result<[u64; 3], u64> {
        self.domains.forget_ended_homes();
        let mut entries = self.own_entries();
        let peers: Vec<usize> = self.mesh.peers().collect();
        let token = self.token();
        for &peer in &peers {
            self.send(peer, &[wire::LIST_REQUEST, token]);
        }
        let mut answered = 0u64;
        let expected = peers.iter().fold(0u64, |m, &p| m | 1 << p);
        let mut theirs: Vec<Entry> = Vec::new();
        let complete = expected == 0
            || self.wait_for(|from, words| {
                if let [wire::LIST_REPLY, t, ref rest @ ..] = *words {
                    if t == token {
                        answered |= 1 << from;
                        theirs.extend(rest.chunks_exact(3).map(|e| (e[0], e[1], e[2])));
                    }
                }
                answered == expected
            });
        if !complete {
            return Err(status::TIMEOUT);
        }
        entries.extend(theirs);
        let merged = merge(entries);
        let (domain, cores, name) = *merged.get(index as usize).ok_or(status::NOT_FOUND)?;
        Ok([domain, cores, name])
    }

    /// This core's domains: those it started, those at home here, and the dispatchers it
    /// runs for others.
    fn own_entries(&self) -> Vec<Entry> {
        let me = 1u64 << self.mesh.me;
        let d = &self.domains;
        let started = d.started.iter().map(|s| (s.domain, me, s.name));
        let homes =
            d.homes.iter().map(|h| (h.domain, h.spans.iter().fold(me, |m, &(c, _)| m | 1 << c), h.name));
        let spans = d.spans.iter().map(|s| (s.domain, me, 0));
        started.chain(homes).chain(spans).collect()
    }

    /// Messages of the domain protocols from other monitors; false if `words` is none.
    pub(crate) fn on_domain_message(&mut self, from: usize, words: &[u64]) -> bool {
        match *words {
            [wire::SPAN_REQUEST, token, domain, root_base, entry, arg] => {
                let answer = match self.span_here(from, domain, root_base, entry, arg) {
                    Ok(span) => [status::OK, span],
                    Err(code) => [code, 0],
                };
                self.send(from, &[wire::SPAN_REPLY, token, answer[0], answer[1]]);
            }
            [wire::SHOOTDOWN_REQUEST, token, domain, vaddr, pages] => {
                self.invalidate_here(domain, vaddr, pages);
                self.send(from, &[wire::SHOOTDOWN_DONE, token]);
            }
            [wire::SPAN_KILL, domain] => self.kill_spans_here(domain),
            [wire::SPAN_ENDED, domain, span] => self.span_ended(from, domain, span),
            [wire::SPAWN_REQUEST, token, module, arg] => {
                let answer = match self.spawn_here(module, arg) {
                    Ok(domain) => [status::OK, domain],
                    Err(code) => [code, 0],
                };
                self.send(from, &[wire::SPAWN_REPLY, token, answer[0], answer[1]]);
            }
            [wire::KILL_REQUEST, token, domain] => {
                let code = match self.kill_here(domain) {
                    Ok(()) => status::OK,
                    Err(code) => code,
                };
                self.send(from, &[wire::KILL_REPLY, token, code, 0]);
            }
            [wire::LIST_REQUEST, token] => {
                self.domains.forget_ended_homes();
                let mut reply = alloc::vec![wire::LIST_REPLY, token];
                for (domain, cores, name) in self.own_entries().into_iter().take(300) {
                    reply.extend_from_slice(&[domain, cores, name]);
                }
                self.send(from, &reply);
            }
            // Late answers to requests that timed out.
            [wire::SPAN_REPLY, ..]
            | [wire::SHOOTDOWN_DONE, _]
            | [wire::SPAWN_REPLY, ..]
            | [wire::KILL_REPLY, ..] => {}
            [wire::LIST_REPLY, ..] => {}
            _ => return false,
        }
        true
    }

    /// An exit notice from a dispatcher this monitor started (`badge` says which).
    pub(crate) fn on_exit_notice(&mut self, badge: u64, words: [u64; 4]) {
        let me = self.mesh.me;
        let how = Exit::from_notice(words);
        if badge & STARTED_BADGE != 0 {
            let Some(started) = self.domains.take_started(badge) else { return };
            let domain = started.domain;
            if !matches!(how, Some(Exit::Exited(0))) {
                libos::println!("monitor: core {me}: domain {domain:#x} ended: {how:?}");
            }
            // Its dispatchers on other cores run in its address space: they go first.
            let _ = self.kill_here_spans_only(domain);
            self.domains.forget_homes(domain);
            if let Err(e) = started.child.reclaim() {
                libos::println!("monitor: core {me}: cannot reclaim domain {domain:#x}: {e}");
            }
            self.sweep_caps();
        } else if badge & SPAN_BADGE != 0 {
            let Some(span) = self.domains.take_span(badge) else { return };
            if let Some(Exit::Faulted { .. }) = how {
                libos::println!(
                    "monitor: core {me}: dispatcher {} of domain {:#x} faulted; it is gone",
                    span.number,
                    span.domain
                );
            }
            self.span_gone(span);
        }
    }

    /// Kills and waits for the dispatchers of `domain` on other cores (its first one is
    /// gone already).
    fn kill_here_spans_only(&mut self, domain: u64) -> Result<(), u64> {
        if self.domains.homes.iter().any(|h| h.domain == domain && !h.spans.is_empty()) {
            self.kill_here(domain)
        } else {
            Ok(())
        }
    }
}

/// Entries with the same domain merged (cores together, the first name that is not empty),
/// sorted by domain.
fn merge(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by_key(|e| e.0);
    let mut merged: Vec<Entry> = Vec::new();
    for (domain, cores, name) in entries {
        match merged.last_mut() {
            Some(last) if last.0 == domain => {
                last.1 |= cores;
                if last.2 == 0 {
                    last.2 = name;
                }
            }
            _ => merged.push((domain, cores, name)),
        }
    }
    merged
}
