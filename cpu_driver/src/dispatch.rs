//! Dispatchers: the unit the CPU driver schedules on its core.
//!
//! A dispatcher object (retyped from RAM) holds a user context — general registers, stack
//! pointer, program counter, FP/SIMD state — and copies of the capabilities that give it a
//! CSpace, an address space and (optionally) an endpoint to report its exit to. Holding
//! those copies keeps the objects alive for as long as the dispatcher can run.
//!
//! Scheduling is round-robin with preemption by the core's timer tick. Runnable
//! dispatchers form a queue linked through the dispatcher objects themselves (the kernel
//! has no heap); the head of the queue is the one running. With nothing runnable the core
//! sleeps in `wfi`.

use crate::caps::{self, Capability, Cte, Slot};
use abi::cap::CapType;
use abi::SysError;
use boot::PhysAddr;

/// A dispatcher's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum State {
    /// Made, but not yet set up.
    New = 0,
    /// Set up, not yet running.
    Ready = 1,
    /// In the run queue.
    Runnable = 2,
    /// Waiting to receive on an endpoint.
    Blocked = 3,
    /// Exited, faulted or killed; never runs again.
    Dead = 4,
}

/// The dispatcher object, laid over the dispatcher's memory.
#[repr(C)]
pub struct Dcb {
    /// x0..x30.
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    pub tpidr: u64,
    /// v0..v31 (16 bytes each), then FPCR and FPSR: the layout `fp_save` writes.
    pub fp: [u64; 66],
    state: u64,
    /// Run queue links (physical addresses of dispatcher objects; 0: none).
    next: u64,
    prev: u64,
    /// The endpoint this dispatcher waits on, and where a received capability goes.
    pub blocked_on: u64,
    pub receive_slot: u64,
    /// Copies of its CSpace root (L1 CNode), address-space root (L0 table) and exit
    /// endpoint.
    pub cspace: Cte,
    pub vspace: Cte,
    pub exit_endpoint: Cte,
}

const _: () = assert!(core::mem::size_of::<Dcb>() <= abi::cap::DISPATCHER_BYTES as usize);

/// SPSR for entering EL0: AArch64 EL0t (M = 0b0000), interrupts unmasked.
const SPSR_EL0: u64 = 0;

/// A dispatcher, by the physical address of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatcher(pub PhysAddr);

impl Dispatcher {
    /// # Safety contract (internal)
    /// A `Dispatcher` is only made from the base of a live dispatcher object.
    pub fn dcb(self) -> &'static mut Dcb {
        // SAFETY: see above; the kernel is single-threaded per core, so no two references
        // to one object are used at once.
        unsafe { &mut *crate::phys::ptr::<Dcb>(self.0) }
    }

    pub fn state(self) -> State {
        match self.dcb().state {
            1 => State::Ready,
            2 => State::Runnable,
            3 => State::Blocked,
            4 => State::Dead,
            _ => State::New,
        }
    }

    fn set_state(self, state: State) {
        self.dcb().state = state as u64;
    }

    fn slot_of(self, field: *const Cte) -> Slot {
        let offset = field as u64 - (self.dcb() as *const Dcb as u64);
        Slot(self.0.offset(offset))
    }

    pub fn cspace_slot(self) -> Slot {
        self.slot_of(&self.dcb().cspace)
    }
    pub fn vspace_slot(self) -> Slot {
        self.slot_of(&self.dcb().vspace)
    }
    pub fn exit_slot(self) -> Slot {
        self.slot_of(&self.dcb().exit_endpoint)
    }

    /// Looks a capability address up in this dispatcher's CSpace.
    pub fn lookup(self, addr: abi::CapAddr) -> Result<Slot, SysError> {
        let root = self.cspace_slot().cap();
        if root.ctype != CapType::L1CNode {
            return Err(SysError::FailedLookup);
        }
        caps::lookup(root.base, u64::from(root.aux), addr)
    }
}

/// This core's run queue: head is running (or next to run), tail is last.
struct RunQueue {
    head: u64,
    tail: u64,
}

static RUN_QUEUE: spin::Mutex<RunQueue> = spin::Mutex::new(RunQueue { head: 0, tail: 0 });

/// Dispatchers on this core that are set up and not yet dead (what the monitor reports
/// per core, through `KERNEL_CORE_INFO`).
static LIVE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How many dispatchers of this core are set up and not dead.
#[cfg(target_os = "none")]
pub fn live_count() -> u64 {
    LIVE.load(core::sync::atomic::Ordering::Relaxed)
}

/// Empties the run queue (host tests start from a fresh core).
#[cfg(test)]
pub fn tests_reset() {
    *RUN_QUEUE.lock() = RunQueue { head: 0, tail: 0 };
}

/// Ties a new dispatcher to its CSpace, address space and start state.
pub fn setup(
    d: Dispatcher,
    cspace: Slot,
    vspace: Slot,
    entry: u64,
    stack: u64,
    arg: u64,
    exit_endpoint: Option<Slot>,
) -> Result<(), SysError> {
    if d.state() != State::New {
        return Err(SysError::IllegalOperation);
    }
    if cspace.cap().ctype != CapType::L1CNode || vspace.cap().ctype != CapType::VNodeL0 {
        return Err(SysError::InvalidCapability);
    }
    if exit_endpoint.is_some_and(|e| e.cap().ctype != CapType::Endpoint) {
        return Err(SysError::InvalidCapability);
    }
    if entry >= abi::elf::USER_VA_END || stack >= abi::elf::USER_VA_END || !entry.is_multiple_of(4) {
        return Err(SysError::InvalidArgument);
    }
    caps::ops::copy(cspace, d.cspace_slot())?;
    caps::ops::copy(vspace, d.vspace_slot())?;
    if let Some(e) = exit_endpoint {
        caps::ops::copy(e, d.exit_slot())?;
    }
    let dcb = d.dcb();
    dcb.regs = [0; 31];
    dcb.regs[0] = arg;
    dcb.pc = entry;
    dcb.sp = stack;
    dcb.pstate = SPSR_EL0;
    d.set_state(State::Ready);
    LIVE.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Puts `d` at the tail of the run queue.
pub fn make_runnable(d: Dispatcher) -> Result<(), SysError> {
    match d.state() {
        State::Ready | State::Blocked => {}
        State::Runnable => return Ok(()),
        State::New | State::Dead => return Err(SysError::IllegalOperation),
    }
    let mut q = RUN_QUEUE.lock();
    let dcb = d.dcb();
    dcb.next = 0;
    dcb.prev = q.tail;
    if q.tail != 0 {
        Dispatcher(PhysAddr(q.tail)).dcb().next = d.0 .0;
    } else {
        q.head = d.0 .0;
    }
    q.tail = d.0 .0;
    d.set_state(State::Runnable);
    Ok(())
}

/// Takes `d` out of the run queue (it is blocking, or dying).
fn dequeue(d: Dispatcher) {
    if d.state() != State::Runnable {
        return;
    }
    let mut q = RUN_QUEUE.lock();
    let (prev, next) = (d.dcb().prev, d.dcb().next);
    if prev != 0 {
        Dispatcher(PhysAddr(prev)).dcb().next = next;
    } else {
        q.head = next;
    }
    if next != 0 {
        Dispatcher(PhysAddr(next)).dcb().prev = prev;
    } else {
        q.tail = prev;
    }
    d.dcb().next = 0;
    d.dcb().prev = 0;
}

/// The dispatcher at the head of the queue: the one that runs next.
pub fn current() -> Option<Dispatcher> {
    let head = RUN_QUEUE.lock().head;
    (head != 0).then_some(Dispatcher(PhysAddr(head)))
}

/// True if a dispatcher other than the running one is runnable.
#[cfg(target_os = "none")]
pub fn others_runnable() -> bool {
    let q = RUN_QUEUE.lock();
    q.head != 0 && q.head != q.tail
}

/// Moves the running dispatcher to the back of the queue (its time slice is over).
pub fn rotate() {
    if let Some(d) = current() {
        dequeue(d);
        d.set_state(State::Ready);
        let _ = make_runnable(d);
    }
}

/// Stops `d` where it is (after a fault, for its handler): it leaves the run queue and
/// runs again only when someone makes it runnable, re-executing what faulted.
pub fn stop(d: Dispatcher) {
    dequeue(d);
    d.set_state(State::Ready);
}

/// Makes `d` wait: it leaves the run queue until a message wakes it.
pub fn block(d: Dispatcher) {
    dequeue(d);
    d.set_state(State::Blocked);
}

/// Ends `d` for good: out of the queue, never to run again. Its capabilities stay until
/// its object is destroyed.
pub fn kill(d: Dispatcher) {
    dequeue(d);
    if !matches!(d.state(), State::New | State::Dead) {
        LIVE.fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
    }
    d.set_state(State::Dead);
}

/// The dispatcher object is being destroyed (its last capability was deleted).
pub fn destroy(cap: &Capability) {
    let d = Dispatcher(cap.base);
    kill(d);
    #[cfg(target_os = "none")]
    crate::arch::context::forget(d);
    for slot in [d.cspace_slot(), d.vspace_slot(), d.exit_slot()] {
        caps::ops::delete(slot);
    }
}

/// Writes a system call's result into `d`'s registers: x0 = error code, x1.. = values.
pub fn set_result(d: Dispatcher, result: Result<&[u64], SysError>) {
    let regs = &mut d.dcb().regs;
    match result {
        Ok(values) => {
            regs[0] = 0;
            for (r, v) in regs[1..8].iter_mut().zip(values) {
                *r = *v;
            }
        }
        Err(e) => regs[0] = e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::world;
    use abi::cap::PAGE_SIZE;

    /// Three dispatchers (slots 10..13) sharing a CSpace (slot 20) and address space (21).
    fn three(w: &crate::testing::World) -> [Dispatcher; 3] {
        w.retype(0, CapType::Dispatcher, 0, 0, 3, 10).unwrap();
        w.retype(0, CapType::L1CNode, 16 * 64, 3 * PAGE_SIZE, 1, 20).unwrap();
        w.retype(0, CapType::VNodeL0, 0, 4 * PAGE_SIZE, 1, 21).unwrap();
        [10, 11, 12].map(|i| {
            let d = Dispatcher(w.slot(i).cap().base);
            setup(d, w.slot(20), w.slot(21), 0x40_0000, 0, i, None).unwrap();
            d
        })
    }

    #[test]
    fn runnable_dispatchers_take_turns_round_robin() {
        let w = world(256 * 1024);
        let [a, b, c] = three(&w);
        for d in [a, b, c] {
            make_runnable(d).unwrap();
        }
        let mut order = Vec::new();
        for _ in 0..6 {
            order.push(current().unwrap());
            rotate();
        }
        assert_eq!(order, [a, b, c, a, b, c]);
        for d in [a, b, c] {
            kill(d);
        }
        assert_eq!(current(), None);
    }

    #[test]
    fn a_stopped_dispatcher_waits_out_of_the_queue_until_made_runnable_again() {
        let w = world(256 * 1024);
        let [a, b, _] = three(&w);
        make_runnable(a).unwrap();
        make_runnable(b).unwrap();
        stop(a);
        assert_eq!(current(), Some(b));
        rotate();
        assert_eq!(current(), Some(b), "a stays out of the queue");
        make_runnable(a).unwrap();
        rotate();
        assert_eq!(current(), Some(a));
        kill(a);
        kill(b);
    }

    #[test]
    fn setup_checks_its_capabilities_and_the_entry_point() {
        let w = world(256 * 1024);
        w.retype(0, CapType::Dispatcher, 0, 0, 1, 10).unwrap();
        w.retype(0, CapType::L1CNode, 16 * 64, PAGE_SIZE, 1, 20).unwrap();
        w.retype(0, CapType::VNodeL0, 0, 2 * PAGE_SIZE, 1, 21).unwrap();
        let d = Dispatcher(w.slot(10).cap().base);
        assert_eq!(setup(d, w.slot(21), w.slot(20), 0x1000, 0, 0, None), Err(SysError::InvalidCapability));
        assert_eq!(setup(d, w.slot(20), w.slot(21), 0x1002, 0, 0, None), Err(SysError::InvalidArgument));
        assert_eq!(setup(d, w.slot(20), w.slot(21), 1 << 48, 0, 0, None), Err(SysError::InvalidArgument));
        assert_eq!(make_runnable(d), Err(SysError::IllegalOperation), "not set up yet");
        setup(d, w.slot(20), w.slot(21), 0x40_0000, 0x8000, 7, None).unwrap();
        assert_eq!(d.dcb().regs[0], 7);
        assert_eq!(d.dcb().pstate, SPSR_EL0);
        assert_eq!(setup(d, w.slot(20), w.slot(21), 0x40_0000, 0, 0, None), Err(SysError::IllegalOperation));
        assert_eq!(d.lookup(abi::CapAddr::new(0, 0)), Err(SysError::FailedLookup), "an empty CSpace");
        set_result(d, Ok(&[5, 6]));
        assert_eq!(d.dcb().regs[..3], [0, 5, 6]);
        set_result(d, Err(SysError::RangeError));
        assert_eq!(d.dcb().regs[0], SysError::RangeError.code());
    }

    #[test]
    fn a_dispatcher_keeps_its_cspace_and_address_space_alive_until_destroyed() {
        let w = world(256 * 1024);
        let [a, _, _] = three(&w);
        make_runnable(a).unwrap();
        crate::caps::ops::delete(w.slot(20));
        assert_eq!(a.cspace_slot().cap().ctype, CapType::L1CNode, "the dispatcher's copy remains");
        crate::caps::ops::delete(w.slot(10));
        assert_eq!(a.state(), State::Dead);
        assert!(current() != Some(a), "a destroyed dispatcher left the run queue");
        assert!(a.cspace_slot().cap().is_null());
        assert_eq!(
            w.retype(0, CapType::Frame, PAGE_SIZE, 3 * PAGE_SIZE, 1, 30),
            Err(SysError::RevokeFirst),
            "the other two dispatchers still hold the CNode"
        );
        crate::caps::ops::delete(w.slot(11));
        crate::caps::ops::delete(w.slot(12));
        // The CNode's memory is free again: nothing refers to it any more.
        w.retype(0, CapType::Frame, PAGE_SIZE, 3 * PAGE_SIZE, 1, 30).unwrap();
    }
}
