//! Interrupt dispatch on one core: the timer tick and the inter-core interrupts (IPIs).
//!
//! IPIs are software-generated interrupts (SGIs). They carry no data: a core that wants
//! to tell another something writes it where the other will look (a channel, or during
//! bring-up the boot mailbox in `shared`) and sends an SGI to wake it.

use crate::arch::gic::{Gic, SgiTarget};
use crate::arch::timer;
use crate::caps::Capability;
use crate::kprintln;
use crate::shared;
use abi::cap::CapType;
use abi::SysError;
use boot::PhysAddr;
use core::sync::atomic::Ordering;

/// SGI the boot core sends to every core once all are ready: "show you are alive".
pub const SGI_PING: u32 = 0;
/// SGI a core sends the boot core after answering a ping, or when it stops on a fatal
/// error. It only wakes the boot core: SGIs from several senders can merge into one
/// pending interrupt, so the news itself is the core's state in the boot mailbox.
pub const SGI_PONG: u32 = 1;

/// The most shared interrupts one core routes to endpoints.
const MAX_ROUTES: usize = 16;

/// A shared interrupt delivered to an endpoint on this core.
#[derive(Clone, Copy)]
struct Route {
    intid: u32,
    /// The endpoint object, kept alive by a reference this route holds.
    endpoint: PhysAddr,
    badge: u64,
}

/// This core's routes of shared interrupts to endpoints.
static ROUTES: spin::Mutex<[Option<Route>; MAX_ROUTES]> = spin::Mutex::new([None; MAX_ROUTES]);

/// Shared interrupts this core has made an IRQ capability for (one each: copies share it).
static CLAIMED: spin::Mutex<[u64; 16]> = spin::Mutex::new([0; 16]);

/// Records that an IRQ capability for `intid` exists; `IllegalOperation` if one already
/// does (copy that one instead), `RangeError` for anything but a shared interrupt.
pub fn claim(intid: u32) -> Result<(), SysError> {
    if !(32..1020).contains(&intid) {
        return Err(SysError::RangeError);
    }
    let (word, bit) = ((intid / 64) as usize, 1u64 << (intid % 64));
    let mut claimed = CLAIMED.lock();
    if claimed[word] & bit != 0 {
        return Err(SysError::IllegalOperation);
    }
    claimed[word] |= bit;
    Ok(())
}

/// This core's interrupt controller driver.
static GIC: spin::Once<Gic> = spin::Once::new();
/// Ticks after which a core reports its timer as running.
pub const TICKS_TO_REPORT: u64 = 3;

/// Sets up this core's GIC interface (and, on the boot core, the distributor), enables the
/// tick and the IPIs, and starts the tick.
pub fn init(mut gic: Gic, boot_core: bool) -> Result<(), crate::arch::gic::GicError> {
    if boot_core {
        gic.init_distributor();
    }
    gic.init_this_core()?;
    let gic = GIC.call_once(|| gic);
    shared::slot(crate::core_id()).gic_target_mask.store(gic.v2_target_mask(), Ordering::Release);
    gic.enable_private(SGI_PING);
    gic.enable_private(SGI_PONG);
    gic.enable_private(crate::params().timer.virtual_intid);
    timer::arm_next_tick();
    Ok(())
}

/// Sends `sgi` to logical core `core`.
pub fn send_ipi(core: usize, sgi: u32) {
    let (Some(gic), Some(&mpidr)) = (GIC.get(), crate::params().core_mpidrs.get(core)) else { return };
    let v2_mask = shared::slot(core).gic_target_mask.load(Ordering::Acquire);
    gic.send_sgi(sgi, SgiTarget { mpidr, v2_mask, is_self: core == crate::core_id() });
}

/// Routes shared interrupt `intid` to the endpoint `endpoint` names (replacing an earlier
/// route of it) and enables it.
pub fn connect(intid: u32, endpoint: &Capability) -> Result<(), SysError> {
    let gic = GIC.get().ok_or(SysError::IllegalOperation)?;
    let route = Route { intid, endpoint: endpoint.base, badge: endpoint.word0 };
    let mut routes = ROUTES.lock();
    let index = routes
        .iter()
        .position(|r| r.is_some_and(|r| r.intid == intid))
        .or_else(|| routes.iter().position(Option::is_none))
        .ok_or(SysError::NotEnoughMemory)?;
    crate::lmp::add_reference(endpoint);
    if let Some(old) = routes[index].replace(route) {
        release_endpoint(old.endpoint);
    }
    gic.enable_shared(intid);
    Ok(())
}

/// Unmasks `intid` after its handler dealt with the last delivery.
pub fn acknowledge(intid: u32) -> Result<(), SysError> {
    let gic = GIC.get().ok_or(SysError::IllegalOperation)?;
    if !ROUTES.lock().iter().any(|r| r.is_some_and(|r| r.intid == intid)) {
        return Err(SysError::IllegalOperation);
    }
    gic.enable_shared(intid);
    Ok(())
}

/// Stops delivering `intid`: its last IRQ capability is gone.
pub fn disconnect(intid: u32) {
    if intid < 1024 {
        CLAIMED.lock()[(intid / 64) as usize] &= !(1u64 << (intid % 64));
    }
    let mut routes = ROUTES.lock();
    for route in routes.iter_mut() {
        if let Some(r) = route.filter(|r| r.intid == intid) {
            if let Some(gic) = GIC.get() {
                gic.disable_shared(intid);
            }
            *route = None;
            release_endpoint(r.endpoint);
        }
    }
}

/// Drops a route's reference to its endpoint, destroying the endpoint if it was the last.
fn release_endpoint(endpoint: PhysAddr) {
    let cap = Capability::memory(CapType::Endpoint, endpoint, abi::cap::ENDPOINT_BYTES, 0);
    if crate::lmp::drop_reference(&cap) {
        crate::lmp::destroy(&cap);
    }
}

/// A routed shared interrupt fired: mask it until acknowledged, and tell its endpoint.
fn deliver_shared(intid: u32) -> bool {
    let Some(route) = ROUTES.lock().iter().flatten().copied().find(|r| r.intid == intid) else {
        return false;
    };
    if let Some(gic) = GIC.get() {
        gic.disable_shared(intid);
    }
    // A dead or full endpoint loses the interrupt; it stays masked until acknowledged.
    let _ = crate::lmp::deliver_from_kernel(route.endpoint, [u64::from(intid), 0, 0, 0], route.badge);
    true
}

/// Called from the IRQ vector: handles everything pending.
pub fn handle_irq() {
    let Some(gic) = GIC.get() else { return };
    let timer_intid = crate::params().timer.virtual_intid;
    while let Some(ack) = gic.acknowledge() {
        match ack.intid {
            id if id == timer_intid => tick(),
            SGI_PING => crate::on_ping(),
            SGI_PONG => crate::report_failed_cores(),
            other if deliver_shared(other) => {}
            other => kprintln!("core {}: unexpected interrupt {other}", crate::core_id()),
        }
        gic.end_of_interrupt(ack);
    }
}

fn tick() {
    timer::arm_next_tick();
    crate::user::request_reschedule();
    let core = crate::core_id();
    let ticks = shared::slot(core).ticks.fetch_add(1, Ordering::AcqRel) + 1;
    if ticks == TICKS_TO_REPORT {
        kprintln!(
            "core {core}: timer tick {ticks} ({} Hz tick, counter at {} Hz)",
            timer::TICK_HZ,
            timer::frequency_hz()
        );
    }
}
