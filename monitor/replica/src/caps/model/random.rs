//! Random runs: longer and messier than the exhaustive scenarios, not exhaustive. Programs
//! on three to five cores issue random requests on two capabilities (including ones that
//! must fail: slots they do not hold, destinations that are taken, their own core), copy
//! within their core and drop descendants, while messages are delivered in random order.
//! Every state is checked as in the exhaustive runs; each run ends by delivering everything
//! and checking the system at rest.

use super::{Action, World};
use crate::caps::{ObjectKey, Request, Rights, Slot};
use crate::CoreId;

/// xorshift64*: small, deterministic, and enough to shuffle deliveries.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize])
    }
}

const RUNS: u64 = 1500;
const ACTIONS_PER_RUN: usize = 40;
const RAM: ObjectKey = ObjectKey { type_code: 1, base: 0x4000_0000, size_bytes: 0x10_0000 };
const FRAME: ObjectKey = ObjectKey { type_code: 2, base: 0x4100_0000, size_bytes: 0x1000 };

/// Chooses what a program does next: mostly something sensible with a capability its
/// core holds, sometimes something that must be refused.
fn random_action(world: &World, rng: &mut Rng, fresh: &mut u64, token: u64) -> (u8, Action) {
    *fresh += 1;
    let dest = Slot(*fresh);
    let held: Vec<(u8, ObjectKey, Slot)> = (0..world.cores())
        .flat_map(|core| {
            world.objects.iter().flat_map(move |&obj| {
                world
                    .kernel(core)
                    .local(obj)
                    .into_iter()
                    .flat_map(move |local| local.slots.keys().map(move |&s| (core, obj, s)))
            })
        })
        .collect();
    let (core, obj, slot) = match rng.pick(&held) {
        Some(choice) if rng.below(10) > 0 => choice,
        // A slot the core probably does not hold.
        _ => (
            rng.below(world.cores() as u64) as u8,
            if rng.below(2) == 0 { RAM } else { FRAME },
            Slot(rng.below(8)),
        ),
    };
    let to = match rng.below(20) {
        0 => CoreId(core),
        _ => CoreId(((core as u64 + 1 + rng.below(world.cores() as u64 - 1)) % world.cores() as u64) as u8),
    };
    // Now and then a destination slot the other core already uses (unless a copy of this
    // object to it is already on its way: the checker could not tell the two apart).
    let dest = match held.iter().find(|(c, _, _)| *c == to.0) {
        Some(&(_, _, taken)) if rng.below(10) == 0 && !world.copy_outstanding(to.0, obj, taken) => taken,
        _ => dest,
    };
    let rights = Rights(0b1111);
    let request = match rng.below(100) {
        0..25 => Request::Copy { obj, from: slot, rights, to, dest },
        25..35 => Request::Move { obj, from: slot, rights, to, dest },
        35..55 => Request::Delete { obj, slot },
        // The checker ties a revoke to its commit by (core, object, slot): one at a time.
        55..65 if !world.is_outstanding(core, Request::Revoke { obj, slot }) => Request::Revoke { obj, slot },
        55..80 => Request::Retype { obj, slot },
        80..90 => return (core, Action::LocalCopy { obj, from: slot, dest }),
        _ => return (core, Action::DropDescendants { obj }),
    };
    (core, Action::Ask { token, request })
}

/// One run; on a violation, the error says which run and step, so it can be replayed.
fn run(number: u64) -> Result<(), String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ number.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1);
    let cores = 3 + (number / 3 % 3) as u8;
    // How eagerly messages are delivered between actions: runs differ in how much is in
    // flight at once.
    let patience = 1 + number % 3;
    let first = rng.below(cores as u64) as u8;
    let second = rng.below(cores as u64) as u8;
    let mut world = World::new(cores, &[(first, RAM, Slot(1)), (second, FRAME, Slot(2))]);
    let mut fresh = 100;
    let mut actions = 0;
    let mut log = Vec::new();
    while actions < ACTIONS_PER_RUN || !world.quiet() {
        let busy: Vec<(u8, u8)> = world.busy_channels().collect();
        let outcome = match rng.pick(&busy) {
            Some((from, to)) if actions == ACTIONS_PER_RUN || rng.below(4) >= patience => {
                log.push(format!("{from} -> {to}: {:?}", world.peek(from, to)));
                world.deliver(from, to)
            }
            _ => {
                actions += 1;
                let (core, action) = random_action(&world, &mut rng, &mut fresh, actions as u64);
                log.push(format!("core {core}: {action:?}"));
                world.act(core, action)
            }
        };
        outcome
            .and_then(|()| world.check())
            .and_then(|()| if world.quiet() { world.check_quiet() } else { Ok(()) })
            .map_err(|e| {
                format!("run {number}, step {}: {e}\n  steps:\n    {}", log.len(), log.join("\n    "))
            })?;
    }
    Ok(())
}

#[test]
fn random_operation_sequences_keep_every_invariant() {
    for number in 0..RUNS {
        if let Err(violation) = run(number) {
            panic!("{violation}");
        }
    }
}
