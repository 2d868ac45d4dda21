//! Invocation methods (`x1` of [`crate::syscall::INVOKE`]).
//!
//! Methods below 16 apply to every capability; the rest to one type each. Arguments are
//! `x2`–`x7` in the order listed; results come back in `x1`–`x7`.

/// `()` → `x1` = type | rights << 8 | owner core << 16, `x2` = physical base, `x3` = size in
/// bytes, `x4` = badge (endpoints), `x5` = relations on other cores ([`remote`]).
pub const IDENTIFY: u64 = 0;
/// `(dest)`: copies the capability into the empty slot `dest`, with the same rights.
pub const COPY: u64 = 1;
/// `(dest, rights, badge)`: a copy with `rights` ∩ the original's; endpoints take a badge.
pub const MINT: u64 = 2;
/// `(type, object_bytes, offset, count, dest_first)`: makes `count` objects of `type` from
/// the region starting `offset` bytes into this RAM (or frame) capability, into the empty
/// slots `dest_first`, `dest_first + 1`, … (all in one L2 CNode). `object_bytes` is used for
/// types whose size varies (RAM, frames, L1 CNodes) and must be 0 or the fixed size otherwise.
pub const RETYPE: u64 = 3;
/// `()`: empties this slot; if it held the last capability to an object, the object is
/// destroyed and its memory may be retyped again.
pub const DELETE: u64 = 4;
/// `()`: deletes every copy and every descendant of this capability, but not it.
pub const REVOKE: u64 = 5;
/// `()`: unmaps this frame or translation table from wherever it is mapped.
pub const UNMAP: u64 = 6;

/// On a translation table: `(index, child, rights, offset_pages, pages)`: maps `child` at
/// entry `index` (and onwards). A child translation table takes one entry, with
/// `offset_pages` = 0 and `pages` = 1; a frame takes `pages` entries of a level-3 table,
/// starting `offset_pages` into the frame. `rights` of the mapping: READ, WRITE, EXECUTE
/// (never both WRITE and EXECUTE), within the frame capability's own rights.
pub const VNODE_MAP: u64 = 16;
/// On a level-3 translation table: `(index, pages, rights)`: changes the rights of mapped
/// pages.
pub const VNODE_MODIFY_FLAGS: u64 = 17;

/// On an L1 CNode: `(l1_index, l2_cnode)`: puts a copy of the L2 CNode capability at
/// `l2_cnode` into slot `l1_index` of this root CNode (which must be empty), so the L2
/// CNode's slots get capability addresses `l1_index:0` to `l1_index:255`. This is how a
/// CSpace grows, and how a program reaches the slots of a CSpace it is building for another.
pub const L1_CNODE_INSTALL: u64 = 24;
/// On an L1 CNode: `(l1_index)`: deletes the capability in slot `l1_index` of this root CNode.
pub const L1_CNODE_REMOVE: u64 = 25;

/// On a dispatcher: `(cspace_root, vspace_root, entry, stack, arg, exit_endpoint)`: ties the
/// dispatcher to a CSpace (an L1 CNode) and an address space (an L0 table), and sets where
/// it starts (`x0` = `arg`). `exit_endpoint` (or 0) hears of its exit or fault.
pub const DISPATCHER_SETUP: u64 = 32;
/// On a dispatcher: `()`: makes it runnable on this core (first run, or resuming after a
/// fault its handler dealt with).
pub const DISPATCHER_RUN: u64 = 33;
/// On a dispatcher: `()`: stops it for good (it never runs again).
pub const DISPATCHER_KILL: u64 = 34;

/// On an endpoint: `(dispatcher)`: makes `dispatcher` the one that receives on it.
pub const ENDPOINT_BIND: u64 = 48;
/// On an endpoint: `(w0, w1, w2, w3, cap)`: queues a message of four words and optionally
/// (`cap` ≠ 0) a copy of a capability. Never blocks: `WouldBlock` when the queue is full.
pub const ENDPOINT_SEND: u64 = 49;
/// On an endpoint: `(dest)`: waits for a message → `x1`–`x4` words, `x5` badge, `x6` = 1
/// if a capability was delivered into slot `dest`.
pub const ENDPOINT_RECEIVE: u64 = 50;

/// On the kernel capability: `(status)`: powers the machine off.
pub const KERNEL_POWER_OFF: u64 = 64;
/// On the kernel capability: `(intid, dest)`: makes an IRQ capability for the shared
/// peripheral interrupt `intid` (32–1019) in the empty slot `dest`.
pub const KERNEL_IRQ_CREATE: u64 = 65;

/// On the kernel capability: `(core)` → `x1` = this core's id, `x2` = the number of cores
/// the device tree lists (ids `0..x2`), `x3` = the MPIDR of core `core`, `x4` = timer ticks
/// this core has taken, `x5` = dispatchers on this core that are set up and not dead.
pub const KERNEL_CORE_INFO: u64 = 66;
/// On the kernel capability: `(type, base, size, rights, owner, dest)`: makes a capability
/// to the object of `type` (RAM, frame, URPC frame or L0 table) at physical `[base, base +
/// size)` in the empty slot `dest`, owned by core `owner`, as a new root of this core's
/// derivation database. This is how a monitor turns a capability another core's monitor
/// sent it (as words in a message) into one of its own; the monitors' protocols, not this
/// core's database, account for the other copies. The range must be RAM outside the kernel
/// image; a new L0 table gets an address-space id of this core.
pub const KERNEL_CREATE_CAP: u64 = 67;
/// On the kernel capability: `(core, port, dest)`: makes a notify capability for port
/// `port` (0–63) of core `core` in the empty slot `dest`.
pub const KERNEL_NOTIFY_CREATE: u64 = 68;
/// How many notify ports each core has.
pub const NOTIFY_PORTS: u64 = 64;
/// On the kernel capability: `(port, endpoint)`: delivers notifications of this core's port
/// `port` to `endpoint` as messages `[NOTIFIED, port, 0, 0]`; endpoint 0 unbinds the port.
pub const KERNEL_NOTIFY_BIND: u64 = 69;
/// On the kernel capability: `(vnode_l0, vaddr, pages)`: forgets this core's cached
/// translations of `pages` pages from `vaddr` in the address space rooted at the L0 table
/// `vnode_l0` (all of them if `pages` is 0). Only this core: a monitor does this when
/// another core unmapped a page of an address space both cores run (a TLB shootdown).
pub const KERNEL_TLB_INVALIDATE: u64 = 70;
/// On the kernel capability: `(cap, relations)`: records on every copy of `cap` on this core
/// which relations it has on other cores ([`remote`] bits). While any is set, deleting the
/// last copy on this core, revoking and retyping are refused with `RetryThroughMonitor`.
pub const KERNEL_SET_REMOTE: u64 = 71;

/// Bits of [`KERNEL_SET_REMOTE`]'s `relations` (returned by [`IDENTIFY`] in `x5`).
pub mod remote {
    /// Copies of the object exist on other cores.
    pub const COPIES: u64 = 1 << 0;
    /// Objects retyped from it exist on other cores.
    pub const DESCENDANTS: u64 = 1 << 1;
    /// It was retyped from memory another core holds capabilities to.
    pub const ANCESTORS: u64 = 1 << 2;
    pub const ALL: u64 = COPIES | DESCENDANTS | ANCESTORS;
    /// Not a relation but a mark on one copy: the monitor's *anchor*, the copy it keeps so
    /// that this core's database goes on knowing the object while programs here hold none.
    /// Anchors do not count as copies when the CPU driver decides whether a program deletes
    /// its core's last copy; copying a capability does not copy the mark, and
    /// [`super::KERNEL_SET_REMOTE`] leaves it as it is ([`super::cap_op::ANCHOR`] sets it).
    pub const ANCHOR: u64 = 1 << 3;
}

/// On the kernel capability: `(cap, op, a, b, c, dest)`: what a monitor does to a capability
/// with relations on other cores, bypassing the `RetryThroughMonitor` refusals its programs
/// get. `op` is one of [`cap_op`]; `a`, `b`, `c` and `dest` are as that op says.
pub const KERNEL_CAP_OP: u64 = 72;

/// The operations of [`KERNEL_CAP_OP`].
pub mod cap_op {
    /// Marks this copy as the monitor's anchor ([`super::remote::ANCHOR`]).
    pub const ANCHOR: u64 = 0;
    /// → `x1` = how many copies of the object this core holds, anchors not counted.
    pub const COPIES: u64 = 1;
    /// → `x1` = 1 if objects retyped from it exist on this core, else 0.
    pub const HAS_DESCENDANTS: u64 = 2;
    /// Deletes every other copy of the object on this core except anchors.
    pub const DELETE_COPIES: u64 = 3;
    /// Deletes every object retyped from it on this core (and their descendants).
    pub const DELETE_DESCENDANTS: u64 = 4;
    /// Empties this slot, as [`super::DELETE`] would without relations.
    pub const DELETE: u64 = 5;
    /// `(type, object_bytes, offset, dest)`: one object retyped from it into the empty slot
    /// `dest`, as [`super::RETYPE`] with a count of one: the monitors have agreed to it.
    pub const RETYPE: u64 = 6;
}

/// On a notify capability: `()`: wakes the port it names (an IPI to its core).
pub const NOTIFY_SEND: u64 = 96;

/// Word 0 of the message a notification delivers to the endpoint bound to its port.
pub const NOTIFIED: u64 = 0x4e4f_5449_4659;

/// On an IRQ capability: `(endpoint)`: delivers the interrupt to `endpoint` on this core as
/// a message `[intid, 0, 0, 0]` (with that endpoint capability's badge) and enables it.
/// After each delivery the interrupt stays masked until [`IRQ_ACK`]: the handler first
/// quiets the device, then acknowledges.
pub const IRQ_CONNECT: u64 = 80;
/// On an IRQ capability: `()`: unmasks the interrupt after its handler dealt with it.
pub const IRQ_ACK: u64 = 81;

/// What the kernel sends to a dispatcher's exit endpoint when the dispatcher ends, or
/// faults (it is then stopped, not ended: its handler may fix the cause and make it
/// runnable again with [`DISPATCHER_RUN`], or kill it): a message whose word 0 is one of these, word 1 the exit status ([`EXITED`]) or the
/// exception syndrome ([`FAULTED`]), word 2 the faulting address, word 3 the faulting
/// instruction's address.
pub mod exit_notice {
    /// It called `exit`.
    pub const EXITED: u64 = 1;
    /// It took an exception it cannot handle itself, and is stopped.
    pub const FAULTED: u64 = 2;
    /// Another dispatcher killed it.
    pub const KILLED: u64 = 3;
}
