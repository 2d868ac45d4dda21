//! The monitor's privilege: invocations of the Kernel capability (`abi::cap::slot::KERNEL`,
//! present only in each core's monitor), wrapped once.
//!
//! These are the operations a multikernel's monitor needs from its own core's CPU driver
//! and nobody else may have: which core this is, capabilities to memory another core's
//! monitor described in a message, notify ports, this core's TLB, and the marks that send a
//! program's capability operation to its monitor when other cores are involved.

use crate::cap::CapRef;
use crate::error::Error;
use abi::cap::{slot, CapType, Rights};
use abi::method;

fn kernel() -> CapRef {
    CapRef(slot::KERNEL)
}

/// This core's id and how many cores the machine has.
pub fn core_info() -> Result<(u64, u64), Error> {
    let values = kernel().invoke(method::KERNEL_CORE_INFO, [0; 6])?;
    Ok((values[0], values[1]))
}

/// The MPIDR of core `core`.
pub fn mpidr_of(core: u64) -> Result<u64, Error> {
    Ok(kernel().invoke(method::KERNEL_CORE_INFO, [core, 0, 0, 0, 0, 0])?[2])
}

/// This core's load: `(timer ticks taken, live dispatchers)`.
pub fn core_load() -> Result<(u64, u64), Error> {
    let values = kernel().invoke(method::KERNEL_CORE_INFO, [0; 6])?;
    Ok((values[3], values[4]))
}

/// A capability to the object of type `ty` at physical `[base, base + size)`, owned by
/// core `owner`, in the empty slot `dest` (see `abi::method::KERNEL_CREATE_CAP`).
pub fn create_cap(
    ty: CapType,
    base: u64,
    size: u64,
    rights: Rights,
    owner: u64,
    dest: CapRef,
) -> Result<(), Error> {
    let args = [ty as u64, base, size, rights.bits(), owner, dest.raw()];
    kernel().invoke(method::KERNEL_CREATE_CAP, args).map(drop)
}

/// A notify capability for port `port` of core `core`, in the empty slot `dest`.
pub fn notify_create(core: u64, port: u64, dest: CapRef) -> Result<(), Error> {
    kernel().invoke(method::KERNEL_NOTIFY_CREATE, [core, port, dest.raw(), 0, 0, 0]).map(drop)
}

/// Delivers this core's notify port `port` to `endpoint` (or nowhere, with `None`).
pub fn notify_bind(port: u64, endpoint: Option<CapRef>) -> Result<(), Error> {
    let endpoint = endpoint.map_or(0, CapRef::raw);
    kernel().invoke(method::KERNEL_NOTIFY_BIND, [port, endpoint, 0, 0, 0, 0]).map(drop)
}

/// Forgets this core's cached translations of `pages` pages from `vaddr` (all, with 0) in
/// the address space rooted at the L0 table `root`.
pub fn tlb_invalidate(root: CapRef, vaddr: u64, pages: u64) -> Result<(), Error> {
    kernel().invoke(method::KERNEL_TLB_INVALIDATE, [root.raw(), vaddr, pages, 0, 0, 0]).map(drop)
}

/// Records the relations on other cores (`abi::method::remote` bits) of every copy of
/// `cap` on this core.
pub fn set_remote(cap: CapRef, relations: u64) -> Result<(), Error> {
    kernel().invoke(method::KERNEL_SET_REMOTE, [cap.raw(), relations, 0, 0, 0, 0]).map(drop)
}

/// Powers the machine off with `status` (semihosting passes it to QEMU's exit status).
pub fn power_off(status: u64) -> Result<(), Error> {
    kernel().invoke(method::KERNEL_POWER_OFF, [status, 0, 0, 0, 0, 0]).map(drop)
}

/// Operation `op` of `abi::method::cap_op` on `cap`, with its arguments `args` and
/// destination slot (if it takes one): `x1` of the answer (a count or a truth value where
/// the operation has one, else 0).
pub fn cap_op(cap: CapRef, op: u64, args: [u64; 3], dest: Option<CapRef>) -> Result<u64, Error> {
    let dest = dest.map_or(0, CapRef::raw);
    let values = kernel().invoke(method::KERNEL_CAP_OP, [cap.raw(), op, args[0], args[1], args[2], dest])?;
    Ok(values[0])
}
