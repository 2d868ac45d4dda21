//! The suite's second life: the same program, started by the suite as a child, to play
//! one part.
//!
//! Some behaviours can only be seen from outside a domain: what becomes of a program that
//! faults, whether a receiver blocked in the kernel wakes when a message comes, whether a
//! dispatcher preempted in the middle of a floating-point loop gets its registers back.
//! For those the suite spawns a copy of itself from its own boot module, with an argument
//! that says *child* and which part to play, a [`Role`]. `main` looks at its argument
//! before anything else and, if it is a child's, hands it to [`run`]; no test runs in a
//! child. Being the same program, a child has the same code and statics at the same
//! addresses, so the parent knows which instruction a child will fault at and which
//! address it will touch ([`FaultKind::instruction`], [`FaultKind::address`]).
//!
//! ## The argument
//!
//! Bits 63:60 hold [`MARK`], which no core number (what a core's first domain is started
//! with) has; bits 47:32 the role; bits 31:0 the role's parameter.
//!
//! ## What a child reports
//!
//! Its exit status, for most roles; and, for the roles that talk, messages through the
//! endpoint in its PARENT_ENDPOINT slot whose first word is a [`tag`]. A child meets no
//! test framework: when something it needs fails, it exits with [`BROKEN`] and the
//! kernel's error code, a status no test expects, so the test fails and says why.
//!
//! This module is both sides of that contract: the roles, run in the child, and
//! [`Spawned`], the parent's handle on a child, which reclaims it however the test ends.

use crate::failure::Failure;
use crate::framework::expect_ok;
use crate::sys;
use core::sync::atomic::AtomicU32;
use libos::abi::cap::{slot, CapType, Rights, PAGE_SIZE};
use libos::abi::{CapAddr, SysError};
use libos::cap::{CapRef, DispatcherCap, EndpointCap, FrameCap};
use libos::lmp::Endpoint;
use libos::spawn::{Child, Exit, SpawnOptions};
use libos::Error;

/// Bits 63:60 of a child's argument.
pub const MARK: u64 = 0xf << 60;
/// RAM each child gets for its own use: room for an endpoint, a frame and the tables to
/// map it, with plenty to spare.
pub const CHILD_RAM_BYTES: u64 = 1 << 20;

/// What a child whose role went wrong exits with, or-ed with the kernel's error code (or
/// [`NOT_A_KERNEL_ERROR`]).
pub const BROKEN: u64 = 0xb0b0 << 48;
/// The code in a [`BROKEN`] status for a failure of libos's own.
pub const NOT_A_KERNEL_ERROR: u64 = 0xffff;
/// What a child that was to fault exits with when the instruction did not fault.
pub const SURVIVED: u64 = 0x5afe_5afe;
/// Or-ed with the error code in the status of an [`Role::AwaitMessage`] child whose
/// receive failed.
pub const RECEIVE_FAILED: u64 = 0xe << 32;
/// Terms of the series a [`Role::Sum`] child adds up: enough to take several 10 ms time
/// slices under QEMU, so two such children are surely preempted in the middle.
pub const SERIES_TERMS: u64 = 4_000_000;

/// The first word of each message a child and its parent exchange.
pub mod tag {
    /// Child to parent: "here is my endpoint" (the capability comes with it).
    pub const ENDPOINT: u64 = 0xe1;
    /// Child to parent: "my sum has started".
    pub const STARTED: u64 = 0xe2;
    /// Child to parent: "my sum is done", with its bits in word 2.
    pub const DONE: u64 = 0xe3;
    /// Child to parent: "I am about to spin".
    pub const SPINNING: u64 = 0xe4;
    /// Parent to child: a request, with a reply endpoint; the child answers [`PONG`].
    pub const PING: u64 = 0xe5;
    /// Child to parent: the answer to [`PING`], word 1 echoing the request's.
    pub const PONG: u64 = 0xe6;
    /// Parent to child: "stop serving".
    pub const STOP: u64 = 0xe7;
    /// Child to parent: a frame comes with this.
    pub const FRAME: u64 = 0xe8;
    /// Child to parent: one of the messages that fill the parent's queue, word 1 its number.
    pub const QUEUED: u64 = 0xe9;
}

/// The parts a child can play; the parameter (`param`) is the role's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Role {
    /// Exits at once with status `param`, saying nothing.
    Exit = 1,
    /// Panics (libos exits with status 101).
    Panic = 2,
    /// Commits the fault [`FaultKind`] number `param`; exits with [`SURVIVED`] if it
    /// did not fault.
    Fault = 3,
    /// Makes system calls with numbers the kernel does not define, and exits with their
    /// error codes, one per byte (the first in the lowest).
    UnknownSyscalls = 4,
    /// Makes invocations that cannot work, and exits with their error codes as above.
    BadInvocations = 5,
    /// Sends to its parent until the send is refused; exits with the number of messages
    /// sent, shifted left 8 bits, or-ed with the refusal's error code.
    FillParentQueue = 6,
    /// Sends its parent an endpoint of its own, receives one message on it, and exits
    /// with its word 0 (or [`RECEIVE_FAILED`] and the error code).
    AwaitMessage = 7,
    /// As [`Role::AwaitMessage`], but the message brings a frame: maps it and exits with
    /// the word at its start.
    AwaitFrame = 8,
    /// Sends its parent an endpoint of its own and exits with status `param`.
    SendEndpointAndExit = 9,
    /// Writes `param` at the start of a frame of its own and sends the frame to its parent.
    SendFrame = 10,
    /// Sends its parent an endpoint of its own, then answers each [`tag::PING`] on it with
    /// a [`tag::PONG`] through the reply endpoint that comes with the ping, until
    /// [`tag::STOP`]; exits with the number of pings answered.
    Serve = 11,
    /// Sends a capability to its parent (whose endpoint it holds without GRANT), then a
    /// message without one; exits with the first send's error code.
    SendWithoutGrant = 12,
    /// Tells its parent it starts, adds up [`series`]`(param, SERIES_TERMS)`, tells its
    /// parent the result's bits, and exits with them.
    Sum = 13,
    /// Tells its parent it is about to spin, then spins without ever calling the kernel.
    Spin = 14,
    /// Spans itself to every core the monitors have (`param`: the number of cores, and the
    /// core it runs on shifted left 8 bits), each dispatcher waiting forever; then waits
    /// forever too. Started by the system suite on another core, to be killed there.
    SpanEverywhere = 15,
    /// A worker of the capability tests on another core ([`crate::tests::crosscore`]):
    /// collects a board frame and a capability from its core's monitor, waits for the
    /// test's go, does its part with the capability and writes the outcome on the board.
    /// `param`: the part, the core it runs on shifted left 8 bits, the test's batch
    /// number shifted left 16.
    CapWorker = 16,
    /// Exports the name `echo-CORE` (`param`: the core it runs on), accepts one connection,
    /// and answers every message with its words plus one until a message `[STOP]`; exits
    /// with 0 if it answered any (1 if the first message was the stop).
    EchoServer = 17,
}

impl Role {
    const ALL: [Role; 17] = [
        Role::Exit,
        Role::Panic,
        Role::Fault,
        Role::UnknownSyscalls,
        Role::BadInvocations,
        Role::FillParentQueue,
        Role::AwaitMessage,
        Role::AwaitFrame,
        Role::SendEndpointAndExit,
        Role::SendFrame,
        Role::Serve,
        Role::SendWithoutGrant,
        Role::Sum,
        Role::Spin,
        Role::SpanEverywhere,
        Role::CapWorker,
        Role::EchoServer,
    ];

    /// The argument that starts a child in this role with `param`.
    pub const fn arg(self, param: u32) -> u64 {
        MARK | ((self as u64) << 32) | param as u64
    }
}

/// The role and parameter in `arg`, if it is a child's argument.
pub fn role_of(arg: u64) -> Option<(Role, u32)> {
    if arg & (0xf << 60) != MARK {
        return None;
    }
    let number = (arg >> 32) & 0xffff;
    let role = Role::ALL.into_iter().find(|role| *role as u64 == number)?;
    Some((role, arg as u32))
}

/// Plays `role` with `param`; returns the exit status.
pub fn run(role: Role, param: u32) -> u64 {
    let played = match role {
        Role::Exit => Ok(u64::from(param)),
        Role::Panic => panic!("a child of the suite panics on purpose"),
        Role::Fault => Ok(FaultKind::from_number(param).map_or(BROKEN | NOT_A_KERNEL_ERROR, commit)),
        Role::UnknownSyscalls => Ok(unknown_syscalls()),
        Role::BadInvocations => Ok(bad_invocations()),
        Role::FillParentQueue => fill_parent_queue(),
        Role::AwaitMessage => await_message(),
        Role::AwaitFrame => await_frame(),
        Role::SendEndpointAndExit => send_own_endpoint().map(|_| u64::from(param)),
        Role::SendFrame => send_frame(param),
        Role::Serve => serve(),
        Role::SendWithoutGrant => send_without_grant(),
        Role::Sum => sum(param),
        Role::Spin => spin(),
        Role::SpanEverywhere => span_everywhere(param),
        Role::CapWorker => crate::tests::crosscore::work(param),
        Role::EchoServer => crate::tests::names::echo(param),
    };
    played.unwrap_or_else(|e| BROKEN | error_code(e))
}

/// The kernel's error code in `e`, or [`NOT_A_KERNEL_ERROR`].
fn error_code(e: Error) -> u64 {
    match e {
        Error::Sys(e) => e.code(),
        _ => NOT_A_KERNEL_ERROR,
    }
}

/// The endpoint its parent gave the child.
const PARENT: EndpointCap = EndpointCap(CapRef(slot::PARENT_ENDPOINT));

/// Error codes, one per byte, the first in the lowest: how a child reports several.
pub fn pack_codes(codes: impl IntoIterator<Item = u64>) -> u64 {
    codes.into_iter().enumerate().fold(0, |packed, (i, code)| packed | (code << (8 * i)))
}

/// System call numbers the kernel does not define.
pub const UNKNOWN_SYSCALLS: [u64; 4] = [5, 99, 1 << 32, u64::MAX];

fn unknown_syscalls() -> u64 {
    pack_codes(UNKNOWN_SYSCALLS.map(|number| sys::bare_syscall(number).err().map_or(0, SysError::code)))
}

/// A capability address beyond a child's 64-slot root CNode.
pub const NOWHERE: CapAddr = CapAddr::new(200, 0);
/// A method no capability has.
pub const NO_SUCH_METHOD: u64 = 999;
/// An address in the kernel's half of the address space, where the CPU driver's image is.
pub const KERNEL_ADDRESS: u64 = 0xffff_ff80_0000_0000;

fn bad_invocations() -> u64 {
    let code = |result: Result<(), SysError>| result.err().map_or(0, SysError::code);
    pack_codes([
        code(sys::identify(NOWHERE).map(drop)),
        code(sys::invoke_method(slot::DISPATCHER, NO_SUCH_METHOD, [0; 6])),
        code(sys::print_raw(KERNEL_ADDRESS, 8)),
    ])
}

/// The most sends [`Role::FillParentQueue`] tries (a bound for a queue that never fills).
pub const MOST_SENDS: u64 = 64;

fn fill_parent_queue() -> Result<u64, Error> {
    for sent in 0..MOST_SENDS {
        match PARENT.send([tag::QUEUED, sent, 0, 0], None) {
            Ok(()) => {}
            Err(Error::Sys(refused)) => return Ok((sent << 8) | refused.code()),
            Err(e) => return Err(e),
        }
    }
    Ok(MOST_SENDS << 8)
}

/// Makes an endpoint the child receives on and sends it to the parent.
fn send_own_endpoint() -> Result<Endpoint, Error> {
    let own = Endpoint::for_self()?;
    PARENT.send([tag::ENDPOINT, 0, 0, 0], Some(own.cap().0))?;
    Ok(own)
}

fn await_message() -> Result<u64, Error> {
    let own = send_own_endpoint()?;
    match own.cap().receive() {
        Ok(message) => Ok(message.words[0]),
        Err(Error::Sys(e)) => Ok(RECEIVE_FAILED | e.code()),
        Err(e) => Err(e),
    }
}

fn await_frame() -> Result<u64, Error> {
    let own = send_own_endpoint()?;
    let message = own.cap().receive()?;
    let frame = FrameCap(message.cap.ok_or(Error::Sys(SysError::SlotEmpty))?);
    let va = libos::paging::with_current(|v| {
        let va = v.alloc_region(PAGE_SIZE, PAGE_SIZE)?;
        v.map_frame(va, frame, Rights::READ).map(|()| va)
    })?;
    // SAFETY: `va` was just mapped readable, to a frame no Rust reference points into.
    Ok(unsafe { (va as *const u64).read_volatile() })
}

fn send_frame(value: u32) -> Result<u64, Error> {
    let ram = libos::ram::alloc_ram(PAGE_SIZE, PAGE_SIZE)?;
    let frame = FrameCap(ram.make(CapType::Frame, PAGE_SIZE, 0)?);
    let va = libos::paging::with_current(|v| {
        let va = v.alloc_region(PAGE_SIZE, PAGE_SIZE)?;
        v.map_frame(va, frame, Rights::READ.union(Rights::WRITE)).map(|()| va)
    })?;
    // SAFETY: `va` was just mapped writable, to a frame no Rust reference points into.
    unsafe { (va as *mut u64).write_volatile(u64::from(value)) };
    PARENT.send([tag::FRAME, 0, 0, 0], Some(frame.0))?;
    Ok(0)
}

fn serve() -> Result<u64, Error> {
    let own = send_own_endpoint()?;
    let mut answered = 0;
    loop {
        let request = own.cap().receive()?;
        if request.words[0] == tag::STOP {
            return Ok(answered);
        }
        let reply = EndpointCap(request.cap.ok_or(Error::Sys(SysError::SlotEmpty))?);
        reply.send([tag::PONG, request.words[1], 0, 0], None)?;
        reply.0.delete()?;
        libos::cspace::free_slot(reply.0);
        answered += 1;
    }
}

fn send_without_grant() -> Result<u64, Error> {
    let ram = libos::ram::alloc_ram(PAGE_SIZE, PAGE_SIZE)?;
    let frame = ram.make(CapType::Frame, PAGE_SIZE, 0)?;
    let with_capability = PARENT.send([1, 0, 0, 0], Some(frame));
    PARENT.send([2, 0, 0, 0], None)?;
    Ok(with_capability.err().map_or(0, error_code))
}

/// Σ 1/k² for k from `start`, `terms` terms, in `f64`: a loop whose running sum and
/// counter live in floating-point registers throughout.
pub fn series(start: u32, terms: u64) -> f64 {
    // Opaque to the optimiser, so the loop is run, not folded into a constant.
    let (start, terms) = core::hint::black_box((start, terms));
    let mut k = f64::from(start);
    let mut sum = 0.0;
    for _ in 0..terms {
        sum += 1.0 / (k * k);
        k += 1.0;
    }
    sum
}

fn sum(start: u32) -> Result<u64, Error> {
    PARENT.send([tag::STARTED, u64::from(start), 0, 0], None)?;
    let bits = series(start, SERIES_TERMS).to_bits();
    PARENT.send([tag::DONE, u64::from(start), bits, 0], None)?;
    Ok(bits)
}

fn spin() -> Result<u64, Error> {
    PARENT.send([tag::SPINNING, 0, 0, 0], None)?;
    loop {
        core::hint::spin_loop();
    }
}

/// The faults a [`Role::Fault`] child commits, each with one instruction (in the
/// functions of the `global_asm!` below), at an address the parent knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FaultKind {
    /// Loads from [`UNMAPPED`].
    LoadUnmapped = 1,
    /// Stores to [`UNMAPPED`].
    StoreUnmapped = 2,
    /// Stores to [`READ_ONLY_CODE`], in the read-only data segment.
    StoreReadOnly = 3,
    /// Stores to its own code.
    StoreCode = 4,
    /// Branches to [`UNMAPPED`].
    BranchUnmapped = 5,
    /// Branches to [`WRITABLE_CODE`], in the writable (never executable) data segment.
    BranchWritableData = 6,
    /// Branches to [`READ_ONLY_CODE`], in the read-only data segment.
    BranchReadOnlyData = 7,
    /// `udf #0`.
    Undefined = 8,
    /// Branches to an address that is not a multiple of 4.
    BranchMisaligned = 9,
    /// Loads through a stack pointer that is not a multiple of 16.
    StackMisaligned = 10,
    /// `brk #0`.
    Breakpoint = 11,
    /// Loads from [`KERNEL_ADDRESS`].
    LoadKernel = 12,
    /// Stores to [`KERNEL_ADDRESS`].
    StoreKernel = 13,
    /// `hvc #0`.
    Hypervisor = 14,
    /// `smc #0`.
    SecureMonitor = 15,
    /// `eret`.
    ExceptionReturn = 16,
    /// `mrs x0, ttbr1_el1`: reads the kernel's translation table base.
    ReadKernelRegister = 17,
    /// `msr daifset, #0xf`: masks interrupts.
    MaskInterrupts = 18,
}

impl FaultKind {
    const ALL: [FaultKind; 18] = [
        FaultKind::LoadUnmapped,
        FaultKind::StoreUnmapped,
        FaultKind::StoreReadOnly,
        FaultKind::StoreCode,
        FaultKind::BranchUnmapped,
        FaultKind::BranchWritableData,
        FaultKind::BranchReadOnlyData,
        FaultKind::Undefined,
        FaultKind::BranchMisaligned,
        FaultKind::StackMisaligned,
        FaultKind::Breakpoint,
        FaultKind::LoadKernel,
        FaultKind::StoreKernel,
        FaultKind::Hypervisor,
        FaultKind::SecureMonitor,
        FaultKind::ExceptionReturn,
        FaultKind::ReadKernelRegister,
        FaultKind::MaskInterrupts,
    ];

    fn from_number(number: u32) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|kind| *kind as u32 == number)
    }

    /// The address the faulting instruction loads from, stores to or branches to, for
    /// the kinds whose instruction has one.
    pub fn address(self) -> Option<u64> {
        match self {
            FaultKind::LoadUnmapped | FaultKind::StoreUnmapped | FaultKind::BranchUnmapped => Some(UNMAPPED),
            FaultKind::StoreReadOnly | FaultKind::BranchReadOnlyData => Some(READ_ONLY_CODE.as_ptr() as u64),
            FaultKind::StoreCode => Some(at::testsuite_fault_udf as *const () as u64),
            FaultKind::BranchWritableData => Some(WRITABLE_CODE.as_ptr() as u64),
            // A `ret`'s address plus 2.
            FaultKind::BranchMisaligned => Some(at::testsuite_fault_return as *const () as u64 + 2),
            FaultKind::LoadKernel | FaultKind::StoreKernel => Some(KERNEL_ADDRESS),
            _ => None,
        }
    }

    /// The address of the instruction that faults: for a branch, its target.
    pub fn instruction(self) -> u64 {
        let function = match self {
            FaultKind::LoadUnmapped | FaultKind::LoadKernel => at::testsuite_fault_load as *const (),
            FaultKind::StoreUnmapped
            | FaultKind::StoreReadOnly
            | FaultKind::StoreCode
            | FaultKind::StoreKernel => at::testsuite_fault_store as *const (),
            FaultKind::BranchUnmapped
            | FaultKind::BranchWritableData
            | FaultKind::BranchReadOnlyData
            | FaultKind::BranchMisaligned => return self.address().unwrap_or_default(),
            FaultKind::Undefined => at::testsuite_fault_udf as *const (),
            FaultKind::StackMisaligned => at::testsuite_fault_stack_load as *const (),
            FaultKind::Breakpoint => at::testsuite_fault_brk as *const (),
            FaultKind::Hypervisor => at::testsuite_fault_hvc as *const (),
            FaultKind::SecureMonitor => at::testsuite_fault_smc as *const (),
            FaultKind::ExceptionReturn => at::testsuite_fault_eret as *const (),
            FaultKind::ReadKernelRegister => at::testsuite_fault_mrs as *const (),
            FaultKind::MaskInterrupts => at::testsuite_fault_daif as *const (),
        };
        function as u64
    }
}

/// An address no program maps: below the image at 4 MiB (`libos/user.ld`), far above
/// the null page.
pub const UNMAPPED: u64 = 0x20_0000;

/// `nop` and `ret` (Arm ARM C6.2): code that returns at once, should it ever run.
const NOP: u32 = 0xd503_201f;
const RET: u32 = 0xd65f_03c0;

/// Code in the writable data segment, which is never executable. (Non-zero, so in
/// `.data`, not `.bss`.)
pub static WRITABLE_CODE: [AtomicU32; 2] = [AtomicU32::new(NOP), AtomicU32::new(RET)];
/// Code in the read-only data segment, which is not executable either.
pub static READ_ONLY_CODE: [u32; 2] = [NOP, RET];

/// The faulting instructions: the functions in the `global_asm!` below.
mod at {
    extern "C" {
        pub fn testsuite_fault_load(address: u64) -> u64;
        pub fn testsuite_fault_store(address: u64);
        pub fn testsuite_fault_branch(target: u64);
        pub fn testsuite_fault_udf();
        pub fn testsuite_fault_stack();
        /// Not a function: the load through the misaligned stack pointer, inside
        /// `testsuite_fault_stack`, declared for its address only.
        pub fn testsuite_fault_stack_load();
        pub fn testsuite_fault_brk();
        pub fn testsuite_fault_hvc();
        pub fn testsuite_fault_smc();
        pub fn testsuite_fault_eret();
        pub fn testsuite_fault_mrs();
        pub fn testsuite_fault_daif();
        /// Not called: a `ret`, whose address plus 2 is the misaligned branch target.
        pub fn testsuite_fault_return();
    }
}

core::arch::global_asm!(
    ".pushsection .text.testsuite_faults, \"ax\", %progbits",
    ".balign 4",
    ".global testsuite_fault_load, testsuite_fault_store, testsuite_fault_branch",
    ".global testsuite_fault_udf, testsuite_fault_stack, testsuite_fault_stack_load",
    ".global testsuite_fault_brk, testsuite_fault_hvc, testsuite_fault_smc",
    ".global testsuite_fault_eret, testsuite_fault_mrs, testsuite_fault_daif",
    ".global testsuite_fault_return",
    // x0: the address. Returns what it read.
    "testsuite_fault_load:",
    "    ldr  x0, [x0]",
    "    ret",
    // x0: the address.
    "testsuite_fault_store:",
    "    str  xzr, [x0]",
    "    ret",
    // x0: the target. Code there that runs returns straight to our caller (x30).
    "testsuite_fault_branch:",
    "    br   x0",
    "testsuite_fault_udf:",
    "    udf  #0",
    "    ret",
    // SP 4 bytes below where it was: a multiple of 4, not of 16. The load reads the
    // stack's own (mapped) memory, so only the alignment check can fault it.
    "testsuite_fault_stack:",
    "    mov  x9, sp",
    "    sub  x10, x9, #4",
    "    mov  sp, x10",
    "testsuite_fault_stack_load:",
    "    ldr  x11, [sp]",
    "    mov  sp, x9",
    "    ret",
    "testsuite_fault_brk:",
    "    brk  #0",
    "    ret",
    "testsuite_fault_hvc:",
    "    hvc  #0",
    "    ret",
    "testsuite_fault_smc:",
    "    smc  #0",
    "    ret",
    "testsuite_fault_eret:",
    "    eret",
    "testsuite_fault_mrs:",
    "    mrs  x0, ttbr1_el1",
    "    ret",
    "testsuite_fault_daif:",
    "    msr  daifset, #0xf",
    "    ret",
    "testsuite_fault_return:",
    "    ret",
    ".popsection",
);

/// Commits the fault `kind`; returns only if it did not fault.
fn commit(kind: FaultKind) -> u64 {
    let address = kind.address().unwrap_or_default();
    // SAFETY: each function is the few instructions above; a child runs them only to be
    // stopped by the fault, and exits at once should one not fault. None of them touches
    // memory Rust code here uses: the loads and stores go to unmapped, read-only or
    // kernel addresses, the branches to code that returns, the stack load to the stack's
    // own memory below its pointer.
    unsafe {
        match kind {
            FaultKind::LoadUnmapped | FaultKind::LoadKernel => {
                at::testsuite_fault_load(address);
            }
            FaultKind::StoreUnmapped
            | FaultKind::StoreReadOnly
            | FaultKind::StoreCode
            | FaultKind::StoreKernel => at::testsuite_fault_store(address),
            FaultKind::BranchUnmapped
            | FaultKind::BranchWritableData
            | FaultKind::BranchReadOnlyData
            | FaultKind::BranchMisaligned => at::testsuite_fault_branch(address),
            FaultKind::Undefined => at::testsuite_fault_udf(),
            FaultKind::StackMisaligned => at::testsuite_fault_stack(),
            FaultKind::Breakpoint => at::testsuite_fault_brk(),
            FaultKind::Hypervisor => at::testsuite_fault_hvc(),
            FaultKind::SecureMonitor => at::testsuite_fault_smc(),
            FaultKind::ExceptionReturn => at::testsuite_fault_eret(),
            FaultKind::ReadKernelRegister => at::testsuite_fault_mrs(),
            FaultKind::MaskInterrupts => at::testsuite_fault_daif(),
        }
    }
    SURVIVED
}

/// The parent's handle on a child: the child is reclaimed when the handle is dropped, so
/// a test that ends early (a failed expectation) leaves no child running behind it.
pub struct Spawned(Option<Child>);

/// Starts the suite as a child in `role` with `param`, and `parent_endpoint` in its
/// PARENT_ENDPOINT slot.
#[track_caller]
pub fn spawn(role: Role, param: u32, parent_endpoint: Option<EndpointCap>) -> Result<Spawned, Failure> {
    let options = SpawnOptions {
        arg: role.arg(param),
        ram_bytes: CHILD_RAM_BYTES,
        parent_endpoint,
        ..Default::default()
    };
    expect_ok(libos::spawn::spawn_with("testsuite", options)).map(|child| Spawned(Some(child)))
}

impl Spawned {
    /// Adopts a child started some other way.
    pub fn adopt(child: Child) -> Spawned {
        Spawned(Some(child))
    }

    fn child(&self) -> Result<&Child, Error> {
        self.0.as_ref().ok_or(Error::NotAllocated)
    }

    /// Waits for the child's next notice: its end, or a fault that stopped it (see
    /// `Child::wait`).
    pub fn wait(&self) -> Result<Exit, Error> {
        self.child()?.wait()
    }

    pub fn kill(&self) -> Result<(), Error> {
        self.child()?.kill()
    }

    pub fn dispatcher(&self) -> Result<DispatcherCap, Error> {
        self.child().map(Child::dispatcher)
    }

    pub fn exit_endpoint(&self) -> Result<EndpointCap, Error> {
        self.child().map(Child::exit_endpoint)
    }

    /// Destroys the child and everything it made, and gives its RAM back.
    pub fn reclaim(mut self) -> Result<(), Error> {
        self.0.take().ok_or(Error::NotAllocated)?.reclaim()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            // Nothing to report to: the test has failed already, and the runner's check of
            // libos's RAM says if this did not give everything back.
            let _ = child.reclaim();
        }
    }
}

/// [`Role::SpanEverywhere`].
fn span_everywhere(param: u32) -> Result<u64, Error> {
    fn wait_forever(_: u64) {
        loop {
            libos::syscall::yield_now();
        }
    }
    let (cores, me) = (u64::from(param & 0xff), u64::from(param >> 8));
    for core in (0..cores).filter(|&c| c != me) {
        libos::span::span(core, wait_forever, 0, 4096)?;
    }
    wait_forever(0);
    Ok(0)
}
