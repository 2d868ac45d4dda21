//! Capability invocations: the one system call through which user code uses its
//! capabilities. Every invocation has the same shape — a capability address, a method and
//! up to six arguments — and answers with an error code or up to seven values.

use crate::caps::ops::{self, DestSlots};
use crate::caps::Slot;
use crate::dispatch::{self, Dispatcher};
use crate::vspace;
use abi::cap::{CapType, Rights};
use abi::{method, CapAddr, SysError};

/// Values an invocation returns (in x1..x7), or `None` when the caller now waits and its
/// result will be written when it is woken (a receive with nothing queued).
pub type Values = Option<([u64; 7], usize)>;

fn none() -> Result<Values, SysError> {
    Ok(Some(([0; 7], 0)))
}

fn cap_addr(raw: u64) -> Result<CapAddr, SysError> {
    u32::try_from(raw).map(CapAddr).map_err(|_| SysError::FailedLookup)
}

/// Looks up the slot named by `raw` in `d`'s CSpace; address 0 is never valid.
fn slot(d: Dispatcher, raw: u64) -> Result<Slot, SysError> {
    let addr = cap_addr(raw)?;
    if addr == CapAddr::NULL {
        return Err(SysError::FailedLookup);
    }
    d.lookup(addr)
}

/// A run of destination slots starting at the slot `raw` names.
fn dest_slots(d: Dispatcher, raw: u64) -> Result<DestSlots, SysError> {
    let index = u64::from(cap_addr(raw)?.l2_index());
    let first = slot(d, raw)?;
    Ok(DestSlots { cnode: boot::PhysAddr(first.0 .0 - index * abi::cap::SLOT_BYTES), first: index })
}

fn rights(raw: u64) -> Result<Rights, SysError> {
    Rights::from_bits(raw).ok_or(SysError::InvalidArgument)
}

/// Carries out invocation `method` of the capability at `target` for dispatcher `d`.
///
/// A method of one type invoked on a capability of another is `IllegalOperation`; a
/// capability *argument* of the wrong type is `InvalidCapability`.
pub fn invoke(d: Dispatcher, target: u64, method: u64, args: [u64; 6]) -> Result<Values, SysError> {
    let target = slot(d, target)?;
    let cap = target.cap();
    if cap.is_null() {
        return Err(SysError::SlotEmpty);
    }
    match method {
        method::IDENTIFY => {
            let header = cap.ctype as u64 | (cap.rights.bits() << 8) | (u64::from(cap.owner) << 16);
            let badge = if cap.ctype == CapType::Endpoint { cap.word0 } else { 0 };
            Ok(Some(([header, cap.base.0, cap.size, badge, target.remote(), 0, 0], 5)))
        }
        method::DELETE | method::REVOKE | method::RETYPE if ops::needs_monitor(target, method) => {
            Err(SysError::RetryThroughMonitor)
        }
        method::COPY => ops::copy(target, slot(d, args[0])?).and_then(|_| none()),
        method::MINT => {
            let badge = (args[2] != 0).then_some(args[2]);
            ops::mint(target, slot(d, args[0])?, rights(args[1])?, badge).and_then(|_| none())
        }
        method::RETYPE => {
            let ty = CapType::from_raw(args[0]).ok_or(SysError::InvalidArgument)?;
            let dest = dest_slots(d, args[4])?;
            ops::retype(target, ty, args[1], args[2], args[3], dest, &mut crate::objects::prepare)?;
            none()
        }
        method::DELETE => {
            ops::delete(target);
            none()
        }
        method::REVOKE => ops::revoke(target).and_then(|_| none()),
        method::UNMAP => {
            if cap.mapping().is_none() {
                return Err(SysError::NotMapped);
            }
            vspace::unmap(target);
            none()
        }
        method::VNODE_MAP if cap.ctype.is_vnode() => {
            let child = slot(d, args[1])?;
            vspace::map(target, args[0], child, rights(args[2])?, args[3], args[4])?;
            none()
        }
        method::VNODE_MODIFY_FLAGS if cap.ctype == CapType::VNodeL3 => {
            vspace::modify_flags(target, args[0], args[1], rights(args[2])?)?;
            none()
        }
        method::L1_CNODE_INSTALL | method::L1_CNODE_REMOVE if cap.ctype == CapType::L1CNode => {
            let index = args[0];
            if index >= u64::from(cap.aux) {
                return Err(SysError::RangeError);
            }
            let l1_slot = Slot::in_cnode(cap.base, index);
            if method == method::L1_CNODE_REMOVE {
                ops::delete(l1_slot);
                return none();
            }
            let l2 = slot(d, args[1])?;
            if l2.cap().ctype != CapType::L2CNode {
                return Err(SysError::InvalidCapability);
            }
            ops::copy(l2, l1_slot)?;
            none()
        }
        method::DISPATCHER_SETUP if cap.ctype == CapType::Dispatcher => {
            let exit = if args[5] == 0 { None } else { Some(slot(d, args[5])?) };
            let cspace = slot(d, args[0])?;
            let vspace = slot(d, args[1])?;
            dispatch::setup(Dispatcher(cap.base), cspace, vspace, args[2], args[3], args[4], exit)?;
            none()
        }
        method::DISPATCHER_RUN if cap.ctype == CapType::Dispatcher => {
            dispatch::make_runnable(Dispatcher(cap.base))?;
            none()
        }
        method::DISPATCHER_KILL if cap.ctype == CapType::Dispatcher => {
            crate::user::end(Dispatcher(cap.base), crate::user::Ending::Killed);
            none()
        }
        method::ENDPOINT_BIND if cap.ctype == CapType::Endpoint => {
            crate::lmp::bind(target, slot(d, args[0])?)?;
            none()
        }
        method::ENDPOINT_SEND if cap.ctype == CapType::Endpoint => {
            let cap = if args[4] == 0 { None } else { Some(slot(d, args[4])?) };
            crate::lmp::send(target, [args[0], args[1], args[2], args[3]], cap)?;
            none()
        }
        method::ENDPOINT_RECEIVE if cap.ctype == CapType::Endpoint => {
            let dest = if args[0] == 0 { None } else { Some(slot(d, args[0])?) };
            match crate::lmp::receive(d, target, dest)? {
                crate::lmp::Received::Message(m) => {
                    let v = m.values();
                    Ok(Some(([v[0], v[1], v[2], v[3], v[4], v[5], 0], 6)))
                }
                crate::lmp::Received::Blocked => Ok(None),
            }
        }
        method::KERNEL_IRQ_CREATE if cap.ctype == CapType::Kernel => {
            let intid =
                u32::try_from(args[0]).ok().filter(|i| (32..1020).contains(i)).ok_or(SysError::RangeError)?;
            let dest = slot(d, args[1])?;
            if !dest.cap().is_null() {
                return Err(SysError::SlotOccupied);
            }
            make_irq_cap(dest, intid, cap.owner);
            none()
        }
        method::IRQ_CONNECT if cap.ctype == CapType::Irq => {
            let endpoint = slot(d, args[0])?;
            if endpoint.cap().ctype != CapType::Endpoint {
                return Err(SysError::InvalidCapability);
            }
            crate::interrupts::connect(cap.aux, endpoint)?;
            none()
        }
        method::IRQ_ACK if cap.ctype == CapType::Irq => {
            crate::interrupts::acknowledge(cap.aux)?;
            none()
        }
        method::KERNEL_POWER_OFF if cap.ctype == CapType::Kernel => {
            crate::user::power_off(args[0]);
            none()
        }
        method::KERNEL_CORE_INFO if cap.ctype == CapType::Kernel => {
            let mpidrs = &crate::params().core_mpidrs;
            let mpidr = *mpidrs.get(args[0] as usize).ok_or(SysError::RangeError)?;
            let ticks =
                crate::shared::slot(crate::core_id()).ticks.load(core::sync::atomic::Ordering::Relaxed);
            let live = crate::dispatch::live_count();
            Ok(Some(([crate::core_id() as u64, mpidrs.len() as u64, mpidr, ticks, live, 0, 0], 5)))
        }
        method::KERNEL_CREATE_CAP if cap.ctype == CapType::Kernel => {
            let dest = slot(d, args[5])?;
            create_cap(args, dest)?;
            none()
        }
        method::KERNEL_NOTIFY_CREATE if cap.ctype == CapType::Kernel => {
            let core =
                u32::try_from(args[0]).ok().filter(|&c| (c as usize) < crate::params().core_mpidrs.len());
            let port =
                u16::try_from(args[1]).ok().filter(|&p| u64::from(p) < crate::interrupts::NOTIFY_PORTS);
            let (Some(core), Some(port)) = (core, port) else { return Err(SysError::RangeError) };
            let dest = slot(d, args[2])?;
            if !dest.cap().is_null() {
                return Err(SysError::SlotOccupied);
            }
            let notify = crate::caps::Capability {
                ctype: CapType::Notify,
                rights: Rights::ALL,
                owner: cap.owner,
                aux: core,
                word0: u64::from(port),
                ..crate::caps::Capability::NULL
            };
            make_root_cap(dest, notify);
            none()
        }
        method::KERNEL_NOTIFY_BIND if cap.ctype == CapType::Kernel => {
            let endpoint = if args[1] == 0 { None } else { Some(slot(d, args[1])?) };
            if endpoint.is_some_and(|e| e.cap().ctype != CapType::Endpoint) {
                return Err(SysError::InvalidCapability);
            }
            crate::interrupts::bind_port(args[0], endpoint)?;
            none()
        }
        method::KERNEL_TLB_INVALIDATE if cap.ctype == CapType::Kernel => {
            let root = slot(d, args[0])?.cap();
            if root.ctype != CapType::VNodeL0 {
                return Err(SysError::InvalidCapability);
            }
            vspace::invalidate_local(&root, args[1], args[2]);
            none()
        }
        method::KERNEL_SET_REMOTE if cap.ctype == CapType::Kernel => {
            let of = slot(d, args[0])?;
            if of.cap().is_null() {
                return Err(SysError::SlotEmpty);
            }
            if args[1] & !method::remote::ALL != 0 {
                return Err(SysError::InvalidArgument);
            }
            ops::set_remote(of, args[1]);
            none()
        }
        method::KERNEL_CAP_OP if cap.ctype == CapType::Kernel => cap_op(d, args),
        method::NOTIFY_SEND if cap.ctype == CapType::Notify => {
            crate::interrupts::notify(cap.aux as usize, cap.word0);
            none()
        }
        _ => Err(SysError::IllegalOperation),
    }
}

/// [`method::KERNEL_CAP_OP`]: `args` = (cap, op, a, b, c, dest).
fn cap_op(d: Dispatcher, args: [u64; 6]) -> Result<Values, SysError> {
    use abi::method::cap_op;
    let of = slot(d, args[0])?;
    if of.cap().is_null() {
        return Err(SysError::SlotEmpty);
    }
    let one = |x: u64| Ok(Some(([x, 0, 0, 0, 0, 0, 0], 1)));
    match args[1] {
        cap_op::ANCHOR => {
            of.set_remote(of.remote() | method::remote::ANCHOR);
            none()
        }
        cap_op::COPIES => one(ops::counted_copies(of) as u64),
        cap_op::HAS_DESCENDANTS => one(u64::from(crate::caps::mdb::first_descendant(of).is_some())),
        cap_op::DELETE_COPIES => {
            ops::delete_other_copies(of);
            none()
        }
        cap_op::DELETE_DESCENDANTS => {
            ops::delete_descendants(of);
            none()
        }
        cap_op::DELETE => {
            ops::delete(of);
            none()
        }
        cap_op::RETYPE => {
            let ty = CapType::from_raw(args[2]).ok_or(SysError::InvalidArgument)?;
            let dest = dest_slots(d, args[5])?;
            ops::retype(of, ty, args[3], args[4], 1, dest, &mut crate::objects::prepare)?;
            none()
        }
        _ => Err(SysError::InvalidArgument),
    }
}

/// [`method::KERNEL_CREATE_CAP`]: `args` = (type, base, size, rights, owner, _).
fn create_cap(args: [u64; 6], dest: Slot) -> Result<(), SysError> {
    use abi::cap::PAGE_SIZE;
    let ty = CapType::from_raw(args[0]).ok_or(SysError::InvalidArgument)?;
    if !matches!(ty, CapType::Ram | CapType::Frame | CapType::UrpcFrame | CapType::VNodeL0) {
        return Err(SysError::IllegalOperation);
    }
    let (base, size) = (args[1], args[2]);
    if !base.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
        return Err(SysError::AlignmentError);
    }
    let end = base.checked_add(size).filter(|_| size > 0).ok_or(SysError::RangeError)?;
    if ty.fixed_size().is_some_and(|fixed| fixed != size) {
        return Err(SysError::RangeError);
    }
    // Only memory given to some core's programs: never the kernel's own.
    let params = crate::params();
    let inside = |r: &boot::PhysRange| base >= r.base.0 && end <= r.end().0;
    if !params.ram_shares.iter().chain([&params.boot_channels]).any(inside) {
        return Err(SysError::RangeError);
    }
    let owner = u16::try_from(args[4])
        .ok()
        .filter(|&o| usize::from(o) < params.core_mpidrs.len())
        .ok_or(SysError::RangeError)?;
    if !dest.cap().is_null() {
        return Err(SysError::SlotOccupied);
    }
    let mut cap = crate::caps::Capability::memory(ty, boot::PhysAddr(base), size, owner);
    cap.rights = rights(args[3])?;
    crate::objects::prepare(&mut cap)?;
    make_root_cap(dest, cap);
    crate::objects::referenced(&cap);
    Ok(())
}

/// Puts a new IRQ capability for `intid` (already claimed) into the empty slot `dest`.
pub fn make_irq_cap(dest: Slot, intid: u32, owner: u16) {
    let irq = crate::caps::Capability {
        ctype: CapType::Irq,
        rights: Rights::ALL,
        owner,
        aux: intid,
        ..crate::caps::Capability::NULL
    };
    make_root_cap(dest, irq);
}

/// Puts `cap`, made from nothing, into the empty slot `dest` as a new root of the
/// derivation database.
fn make_root_cap(dest: Slot, cap: crate::caps::Capability) {
    dest.set_cap(cap);
    dest.set_remote(0);
    crate::caps::mdb::insert_root(dest);
}
