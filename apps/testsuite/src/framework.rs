//! The runner: what each test is given, how its result is judged and reported, and the
//! cleaning up that keeps the tests independent of each other.
//!
//! A test is a plain function from an [`Env`] to an [`Outcome`]. It states what it expects
//! with [`expect_ok`], [`expect_err`] and [`expect_eq`], which return a [`Failure`] naming
//! the source line of the expectation and what happened instead; `?` ends the test there.
//! A panic is not a failure but the end of the suite (libos's handler exits), which is why
//! nothing here unwraps.
//!
//! Before each test the runner retypes [`TEST_RAM_BYTES`] from the very top of the
//! domain's free RAM (`slot::FREE_RAM`) into [`TEST_RAM`]; after it, it revokes that
//! capability, deletes it, and checks every scratch slot (see [`scratch`]) is empty.
//! Revoking RAM deletes every object made from it at any depth, wherever its capabilities
//! are, and unmaps what was mapped; so the next test finds the same memory free, the same
//! slots empty and the address space as the program started. Capabilities a test copied
//! from elsewhere (the Kernel capability, the boot module archive) are not derived from
//! its RAM, so the test deletes those itself, and the final check catches one it forgot.

use crate::failure::Failure;
use crate::sys::{self, SysResult};
use core::fmt::{self, Debug};
use core::panic::Location;
use libos::abi::cap::{slot, CapType, L2_CNODE_SLOTS};
use libos::abi::{CapAddr, SysError};
use libos::println;

/// What a test returns.
pub type Outcome = Result<(), Failure>;

/// One test: its name (the behaviour it pins down) and its code.
pub struct Test {
    pub name: &'static str,
    pub run: fn(&Env) -> Outcome,
}

/// The slot of each test's own RAM capability.
pub const TEST_RAM: CapAddr = CapAddr::new(0, slot::FIRST_FREE);
/// The size of each test's RAM: room for the largest L1 CNode (65536 slots of 64 bytes).
pub const TEST_RAM_BYTES: u64 = 4 << 20;

/// The first task CNode slot after [`TEST_RAM`]: scratch slot 0.
const FIRST_SCRATCH: u32 = slot::FIRST_FREE + 1;
/// Scratch slots run to the end of the task CNode.
pub const SCRATCH_SLOTS: u32 = L2_CNODE_SLOTS as u32 - FIRST_SCRATCH;

/// Scratch slot `index` of the task CNode, free at the start of every test.
pub const fn scratch(index: u32) -> CapAddr {
    assert!(index < SCRATCH_SLOTS, "there are only SCRATCH_SLOTS scratch slots");
    CapAddr::new(0, FIRST_SCRATCH + index)
}

/// What a test is given.
pub struct Env {
    /// [`TEST_RAM`]: a RAM capability of [`TEST_RAM_BYTES`] with every right, nothing made
    /// from it yet.
    pub ram: CapAddr,
    /// Its physical base address (page-aligned).
    pub ram_base: u64,
}

impl Env {
    /// Carves the test's RAM out of the top of the domain's free RAM, the end farthest
    /// from anything else that might allocate from it.
    fn new() -> Result<Env, Failure> {
        let free = expect_ok(sys::identify(slot::FREE_RAM))?;
        let Some(offset) = free.size_bytes.checked_sub(TEST_RAM_BYTES) else {
            return Err(Failure::new(format_args!("free RAM of {} bytes is too small", free.size_bytes)));
        };
        expect_ok(sys::retype(slot::FREE_RAM, CapType::Ram, TEST_RAM_BYTES, offset, 1, TEST_RAM))?;
        Ok(Env { ram: TEST_RAM, ram_base: free.base + offset })
    }

    /// Removes everything the test made and checks it left no other capability behind;
    /// after this every scratch slot is empty, whatever the test did.
    fn clean_up(self) -> Outcome {
        let revoked = expect_ok(sys::revoke(self.ram)).and(expect_ok(sys::delete(self.ram)));
        let mut leftover = None;
        for index in 0..SCRATCH_SLOTS {
            if sys::identify(scratch(index)).is_ok() {
                leftover.get_or_insert(index);
                // Leaves the slot for the next test even if this delete were refused.
                let _ = sys::delete(scratch(index));
            }
        }
        revoked?;
        match leftover {
            None => Ok(()),
            Some(index) => {
                Err(Failure::new(format_args!("left a capability behind in {:?}", scratch(index))))
            }
        }
    }
}

/// Runs `tests` in order, reports each on its own line and the totals on the last, and
/// returns the suite's exit status: 0 if every test passed, 1 otherwise.
pub fn run(tests: &[Test]) -> u64 {
    let mut failed = 0;
    for test in tests {
        match run_one(test) {
            Ok(()) => println!("ok {}", test.name),
            Err(failure) => {
                failed += 1;
                println!("FAILED {}: {}", test.name, failure);
            }
        }
    }
    println!("testsuite: {} passed, {} failed", tests.len() - failed, failed);
    u64::from(failed != 0)
}

/// One test, between setting up its RAM and cleaning up after it. The test's own failure
/// is the one reported; a failed clean-up is reported only when the test passed.
fn run_one(test: &Test) -> Outcome {
    let env = Env::new()?;
    let outcome = (test.run)(&env);
    let cleaned = env.clean_up();
    outcome.and(cleaned)
}

/// Where an expectation is written: its file name (without directories) and line.
struct Position(&'static Location<'static>);

impl Position {
    #[track_caller]
    fn of_caller() -> Position {
        Position(Location::caller())
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.0.file().rsplit('/').next().unwrap_or_default();
        write!(f, "{file}:{}", self.0.line())
    }
}

/// Expects `result` to be a success, and gives its value.
#[track_caller]
pub fn expect_ok<T>(result: SysResult<T>) -> Result<T, Failure> {
    let at = Position::of_caller();
    result.map_err(|e| Failure::new(format_args!("{at}: expected success, got {e}")))
}

/// Expects `result` to be the error `expected`.
#[track_caller]
pub fn expect_err<T: Debug>(result: SysResult<T>, expected: SysError) -> Outcome {
    let at = Position::of_caller();
    match result {
        Err(e) if e == expected => Ok(()),
        Err(e) => Err(Failure::new(format_args!("{at}: expected {expected}, got {e}"))),
        Ok(value) => Err(Failure::new(format_args!("{at}: expected {expected}, got Ok({value:?})"))),
    }
}

/// Expects `actual` to equal `expected`.
#[track_caller]
pub fn expect_eq<T: PartialEq + Debug>(actual: T, expected: T) -> Outcome {
    let at = Position::of_caller();
    if actual == expected {
        Ok(())
    } else {
        Err(Failure::new(format_args!("{at}: expected {expected:?}, got {actual:?}")))
    }
}
