//! The runner: what each test is given, how its result is judged and reported, and the
//! cleaning up that keeps the tests independent of each other.
//!
//! A test is a plain function from an [`Env`] to an [`Outcome`]. It states what it expects
//! with [`expect_ok`], [`expect_err`], [`expect_eq`] and [`expect_that`], which return a
//! [`Failure`] naming the source line of the expectation and what happened instead; `?`
//! ends the test there. A panic is not a failure but the end of the suite (libos's handler
//! exits), which is why nothing here unwraps.
//!
//! ## Two kinds of test, in two groups
//!
//! The [`Suite`] holds the *bare* tests first: they make every system call by hand and
//! use nothing of libos but the trap, so that what they check is the kernel alone. The
//! tests *with libos* come after them: they spawn children, send messages, grow the heap,
//! all through libos, whose allocators hand out slots and RAM of the very CSpace and RAM
//! the bare tests carve up by hand. Before the first of them the runner therefore hands
//! libos its share, once ([`prepare_libos`]): every task CNode slot from [`TEST_RAM`] on
//! stays the runner's (libos grows the CSpace into root CNode slot 3 onwards, which some
//! bare tests expect to be empty, hence the order), and libos makes what it keeps for
//! good (a first heap block, the archive's mapping, the tables of its spawn window) before
//! any test counts its RAM.
//!
//! ## What every test gets, and must leave behind
//!
//! Before each test the runner makes [`TEST_RAM_BYTES`] of RAM the test's own: for a bare
//! test retyped from the very top of the domain's free RAM (`slot::FREE_RAM`) into
//! [`TEST_RAM`], for a test with libos taken from libos's RAM allocator. After it, the
//! runner revokes that RAM, deletes it, and checks every scratch slot (see [`scratch`])
//! is empty. Revoking RAM deletes every object made from it at any depth, wherever its
//! capabilities are, and unmaps what was mapped; so the next test finds the same memory
//! free, the same slots empty and the address space as the program started. Capabilities
//! a test copied from elsewhere (the Kernel capability, the boot module archive) are not
//! derived from its RAM, so the test deletes those itself, and the final check catches
//! one it forgot.
//!
//! A test with libos must also give back whatever it took from libos: the runner checks
//! that libos's free RAM and free slots ([`LibosUsage`]) are what they were before the
//! test — children reclaimed, endpoints destroyed, received capabilities deleted. The one
//! exception is a test that grows the heap, which libos never shrinks; it says so with
//! [`Env::grows_the_heap`].

use crate::failure::Failure;
use crate::sys;
use core::cell::Cell;
use core::fmt::{self, Debug};
use core::panic::Location;
use libos::abi::cap::{slot, CapType, L2_CNODE_SLOTS, PAGE_SIZE};
use libos::abi::CapAddr;
use libos::cap::RamCap;
use libos::println;

/// What a test returns.
pub type Outcome = Result<(), Failure>;

/// One test: its name (the behaviour it pins down) and its code.
pub struct Test {
    pub name: &'static str,
    pub run: fn(&Env) -> Outcome,
}

/// Every test, in the two groups the module documentation describes, each run in order.
pub struct Suite {
    /// Tests that make their system calls by hand and leave libos's allocators alone.
    pub bare: &'static [Test],
    /// Tests that use libos (spawning, messages, the heap); they run after the bare ones.
    pub with_libos: &'static [Test],
}

/// The task CNode slot that libos keeps for good once it is prepared: the RAM of the L2
/// CNode it grows the CSpace with (the first slot its allocator hands out).
const LIBOS_SLOT: u32 = slot::FIRST_FREE;
/// The slot of a bare test's own RAM capability.
pub const TEST_RAM: CapAddr = CapAddr::new(0, LIBOS_SLOT + 1);
/// The size of each test's RAM: room for the largest L1 CNode (65536 slots of 64 bytes).
pub const TEST_RAM_BYTES: u64 = 4 << 20;

/// The first task CNode slot after [`TEST_RAM`]: scratch slot 0.
const FIRST_SCRATCH: u32 = TEST_RAM.l2_index() + 1;
/// Scratch slots run to the end of the task CNode.
pub const SCRATCH_SLOTS: u32 = L2_CNODE_SLOTS as u32 - FIRST_SCRATCH;

/// Scratch slot `index` of the task CNode, free at the start of every test.
pub const fn scratch(index: u32) -> CapAddr {
    assert!(index < SCRATCH_SLOTS, "there are only SCRATCH_SLOTS scratch slots");
    CapAddr::new(0, FIRST_SCRATCH + index)
}

/// What a test is given.
pub struct Env {
    /// A RAM capability of [`TEST_RAM_BYTES`] with every right, nothing made from it yet.
    pub ram: CapAddr,
    /// Its physical base address (page-aligned).
    pub ram_base: u64,
    /// Where the RAM came from, and so where it goes back to.
    source: RamSource,
    /// Set by [`Env::grows_the_heap`].
    grows_the_heap: Cell<bool>,
}

/// Where a test's RAM comes from.
#[derive(Clone, Copy)]
enum RamSource {
    /// Retyped by hand from the top of `FREE_RAM` into [`TEST_RAM`] (bare tests).
    TopOfFreeRam,
    /// From libos's RAM allocator (tests with libos, whose allocator owns `FREE_RAM` then).
    Libos(RamCap),
}

impl Env {
    /// Carves a bare test's RAM out of the top of the domain's free RAM, the end farthest
    /// from anything else that might allocate from it.
    fn for_bare_test() -> Result<Env, Failure> {
        let free = expect_ok(sys::identify(slot::FREE_RAM))?;
        let Some(offset) = free.size_bytes.checked_sub(TEST_RAM_BYTES) else {
            return Err(Failure::new(format_args!("free RAM of {} bytes is too small", free.size_bytes)));
        };
        expect_ok(sys::retype(slot::FREE_RAM, CapType::Ram, TEST_RAM_BYTES, offset, 1, TEST_RAM))?;
        Ok(Env {
            ram: TEST_RAM,
            ram_base: free.base + offset,
            source: RamSource::TopOfFreeRam,
            grows_the_heap: Cell::new(false),
        })
    }

    /// Takes a test's RAM from libos's allocator.
    fn for_test_with_libos() -> Result<Env, Failure> {
        let ram = expect_ok(libos::ram::alloc_ram(TEST_RAM_BYTES, PAGE_SIZE))?;
        let base = expect_ok(ram.0.identify())?.base;
        Ok(Env {
            ram: ram.0.addr(),
            ram_base: base,
            source: RamSource::Libos(ram),
            grows_the_heap: Cell::new(false),
        })
    }

    /// Says that the test grows the heap: libos keeps heap memory (and the slots and
    /// tables that map it) for good, so the runner does not expect libos's free RAM and
    /// slots to be as before the test.
    pub fn grows_the_heap(&self) {
        self.grows_the_heap.set(true);
    }

    /// Removes everything the test made and checks it left no other capability behind;
    /// after this every scratch slot is empty, whatever the test did.
    fn clean_up(self) -> Outcome {
        let returned = match self.source {
            RamSource::TopOfFreeRam => expect_ok(sys::revoke(self.ram)).and(expect_ok(sys::delete(self.ram))),
            RamSource::Libos(ram) => expect_ok(libos::ram::free_ram(ram)),
        };
        let mut leftover = None;
        for index in 0..SCRATCH_SLOTS {
            if sys::identify(scratch(index)).is_ok() {
                leftover.get_or_insert(index);
                // Leaves the slot for the next test even if this delete were refused.
                let _ = sys::delete(scratch(index));
            }
        }
        returned?;
        match leftover {
            None => Ok(()),
            Some(index) => {
                Err(Failure::new(format_args!("left a capability behind in {:?}", scratch(index))))
            }
        }
    }
}

/// How much of libos's RAM and how many of its slots are free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibosUsage {
    pub free_ram_bytes: u64,
    pub free_slots: u32,
}

impl LibosUsage {
    pub fn now() -> LibosUsage {
        LibosUsage { free_ram_bytes: libos::ram::free_bytes(), free_slots: libos::cspace::free_slot_count() }
    }
}

/// Runs the suite in order, reports each test on its own line and the totals on the last,
/// and returns the suite's exit status: 0 if every test passed, 1 otherwise.
pub fn run(suite: &Suite) -> u64 {
    let mut failed = 0;
    let mut report = |test: &Test, outcome: Outcome| match outcome {
        Ok(()) => println!("ok {}", test.name),
        Err(failure) => {
            failed += 1;
            println!("FAILED {}: {}", test.name, failure);
        }
    };
    for test in suite.bare {
        report(test, run_bare(test));
    }
    match prepare_libos() {
        Ok(()) => {
            for test in suite.with_libos {
                report(test, run_with_libos(test));
            }
        }
        Err(why) => {
            for test in suite.with_libos {
                report(test, Err(Failure::new(format_args!("libos could not be prepared: {why}"))));
            }
        }
    }
    let total = suite.bare.len() + suite.with_libos.len();
    println!("testsuite: {} passed, {} failed", total - failed, failed);
    u64::from(failed != 0)
}

/// A bare test, between setting up its RAM and cleaning up after it. The test's own
/// failure is the one reported; a failed clean-up is reported only when the test passed.
fn run_bare(test: &Test) -> Outcome {
    let env = Env::for_bare_test()?;
    let outcome = (test.run)(&env);
    let cleaned = env.clean_up();
    outcome.and(cleaned)
}

/// A test with libos: as a bare one, and libos's RAM and slots must come back too.
fn run_with_libos(test: &Test) -> Outcome {
    let before = LibosUsage::now();
    let env = Env::for_test_with_libos()?;
    let outcome = (test.run)(&env);
    let grew_the_heap = env.grows_the_heap.get();
    let cleaned = env.clean_up();
    let after = LibosUsage::now();
    outcome.and(cleaned)?;
    if after == before || grew_the_heap {
        return Ok(());
    }
    let lost_bytes = i128::from(before.free_ram_bytes) - i128::from(after.free_ram_bytes);
    let lost_slots = i64::from(before.free_slots) - i64::from(after.free_slots);
    Err(Failure::new(format_args!(
        "did not give back {lost_bytes} bytes of libos's RAM and {lost_slots} of its slots"
    )))
}

/// Gives libos its share of the CSpace and lets it make what it keeps for good (see the
/// module documentation).
fn prepare_libos() -> Outcome {
    // All but one of the task CNode's free slots at once: more than leave libos its
    // reserve, so it grows the CSpace first, keeping the new CNode's RAM in the one slot
    // it hands out first, and the run it returns is every slot after that, from TEST_RAM
    // to the end. Those stay taken: the runner and the tests use them by address.
    let kept = L2_CNODE_SLOTS as u32 - TEST_RAM.l2_index();
    let taken = expect_ok(libos::cspace::alloc_slots(kept))?;
    expect_eq(taken.addr(), TEST_RAM)?;
    // A first heap block, and one child started and reclaimed (which maps the boot module
    // archive): the tables of the heap's, the archive's and the spawn window's address
    // ranges are made now.
    // (Opaque to the optimiser, which may otherwise leave an unused allocation out.)
    drop(core::hint::black_box(alloc::boxed::Box::new(0u64)));
    let child = crate::child::spawn(crate::child::Role::Exit, 0, None)?;
    expect_eq(expect_ok(child.wait())?, libos::spawn::Exit::Exited(0))?;
    expect_ok(child.reclaim())
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
pub fn expect_ok<T, E: Debug>(result: Result<T, E>) -> Result<T, Failure> {
    let at = Position::of_caller();
    result.map_err(|e| Failure::new(format_args!("{at}: expected success, got {e:?}")))
}

/// Expects `result` to be the error `expected`.
#[track_caller]
pub fn expect_err<T: Debug, E: PartialEq + Debug>(result: Result<T, E>, expected: E) -> Outcome {
    let at = Position::of_caller();
    match result {
        Err(e) if e == expected => Ok(()),
        Err(e) => Err(Failure::new(format_args!("{at}: expected {expected:?}, got {e:?}"))),
        Ok(value) => Err(Failure::new(format_args!("{at}: expected {expected:?}, got Ok({value:?})"))),
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

/// Expects `holds`; `what` says what should have been true.
#[track_caller]
pub fn expect_that(holds: bool, what: fmt::Arguments<'_>) -> Outcome {
    if holds {
        Ok(())
    } else {
        Err(failure_at(what))
    }
}

/// The failure of an expectation written at the caller: `what` was expected.
#[track_caller]
pub fn failure_at(what: fmt::Arguments<'_>) -> Failure {
    let at = Position::of_caller();
    Failure::new(format_args!("{at}: expected {what}"))
}
