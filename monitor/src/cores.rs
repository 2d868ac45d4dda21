//! `CORES`: what each core is doing, for the shell's `cores` command.
//!
//! A core's timer ticks and live dispatchers are known to its own CPU driver only, and only
//! its monitor may ask it (`libos::kernel::core_load`); the MPIDR of every core is in each
//! CPU driver's copy of the boot parameters. So a request about another core becomes a
//! question to that core's monitor, as everything about another core does.

use crate::serve::Monitor;
use crate::wire;
use libos::monitor::{cores_state, status};

impl Monitor {
    /// `CORES`: `[mpidr, ticks, state << 32 | dispatchers]` of core `core`.
    pub(crate) fn core_info(&mut self, core: u64) -> Result<[u64; 3], u64> {
        if core as usize >= self.mesh.cores {
            return Err(status::BAD_CORE);
        }
        let mpidr = libos::kernel::mpidr_of(core).map_err(|_| status::BAD_CORE)?;
        let (ticks, dispatchers) = if core as usize == self.mesh.me {
            libos::kernel::core_load().map_err(|_| status::FAILED)?
        } else if self.is_peer(core) {
            self.ask_load(core as usize)?
        } else {
            return Ok([mpidr, 0, cores_state::SILENT << 32]);
        };
        Ok([mpidr, ticks, cores_state::JOINED << 32 | dispatchers])
    }

    /// Asks `core`'s monitor for its core's `(ticks, dispatchers)`.
    fn ask_load(&mut self, core: usize) -> Result<(u64, u64), u64> {
        let token = self.token();
        self.send(core, &[wire::LOAD_REQUEST, token]);
        let mut answer = None;
        self.wait_for(|from, words| match *words {
            [wire::LOAD_REPLY, t, ticks, dispatchers] if t == token && from == core => {
                answer = Some((ticks, dispatchers));
                true
            }
            _ => false,
        });
        answer.ok_or(status::TIMEOUT)
    }

    /// The messages of `CORES` from other monitors; false if `words` is none.
    pub(crate) fn on_cores_message(&mut self, from: usize, words: &[u64]) -> bool {
        match *words {
            [wire::LOAD_REQUEST, token] => {
                let (ticks, dispatchers) = libos::kernel::core_load().unwrap_or((0, 0));
                self.send(from, &[wire::LOAD_REPLY, token, ticks, dispatchers]);
            }
            // A late answer to a request that timed out.
            [wire::LOAD_REPLY, ..] => {}
            _ => return false,
        }
        true
    }
}
