//! Interrupt dispatch on one core: the timer tick and the inter-core interrupts (IPIs).
//!
//! IPIs are software-generated interrupts (SGIs). They carry no data: a core that wants
//! to tell another something writes it where the other will look (a channel, or during
//! bring-up the boot mailbox in `shared`) and sends an SGI to wake it.

use crate::arch::gic::{Gic, SgiTarget};
use crate::arch::timer;
use crate::caps::{self, Cte, Slot};
use crate::kprintln;
use crate::shared;
use abi::SysError;
use boot::PhysAddr;
use core::sync::atomic::Ordering;

/// SGI the boot core sends to every core once all are ready: "show you are alive".
pub const SGI_PING: u32 = 0;
/// SGI a core sends the boot core after answering a ping, or when it stops on a fatal
/// error. It only wakes the boot core: SGIs from several senders can merge into one
/// pending interrupt, so the news itself is the core's state in the boot mailbox.
pub const SGI_PONG: u32 = 1;

/// SGI a notify capability sends: "one of your ports was woken" (which ones: the core's
/// `notify_pending` bits in the boot mailbox).
pub const SGI_NOTIFY: u32 = 2;

/// Notify ports per core.
pub const NOTIFY_PORTS: u64 = abi::method::NOTIFY_PORTS;

/// The endpoint each notify port delivers to (an empty slot: the port is unbound), kept
/// like the interrupt routes' endpoints.
static PORT_SLOTS: KernelSlots<{ NOTIFY_PORTS as usize }> = KernelSlots::new();

/// Held while a port's slot changes or is used.
static PORTS: spin::Mutex<()> = spin::Mutex::new(());

/// Notify port `port`'s slot.
fn port_slot(port: u64) -> Slot {
    PORT_SLOTS.slot((port % NOTIFY_PORTS) as usize)
}

/// Capability slots in the kernel's own memory: a static, so one per core (each core has
/// its own copy of the kernel's writable statics), named by physical address like any
/// other slot. The cell matters: it puts the static among the writable data; a plain array
/// of slots would be placed with the read-only data, which every core shares.
struct KernelSlots<const N: usize>(core::cell::UnsafeCell<[Cte; N]>);

// SAFETY: the slots are only touched through `Slot`s, by this core's kernel, with
// interrupts masked (the kernel is not re-entered).
unsafe impl<const N: usize> Sync for KernelSlots<N> {}

impl<const N: usize> KernelSlots<N> {
    const fn new() -> Self {
        KernelSlots(core::cell::UnsafeCell::new([const { Cte::EMPTY }; N]))
    }

    /// Slot `index` (< N), by the physical address of this core's copy.
    fn slot(&self, index: usize) -> Slot {
        let va = self.0.get().cast::<Cte>().wrapping_add(index % N) as u64;
        // The kernel's statics are mapped on every core (each core its own pages).
        Slot(boot::arch::translate(va).unwrap_or(PhysAddr(0)))
    }
}

/// Makes `endpoint` (a copy of it) the receiver of this core's notify port `port`, or
/// unbinds the port.
pub fn bind_port(port: u64, endpoint: Option<Slot>) -> Result<(), SysError> {
    if port >= NOTIFY_PORTS {
        return Err(SysError::RangeError);
    }
    let _ports = PORTS.lock();
    let slot = port_slot(port);
    caps::ops::delete(slot);
    if let Some(endpoint) = endpoint {
        caps::ops::copy(endpoint, slot)?;
    }
    Ok(())
}

/// Wakes notify port `port` of core `core`: sets its doorbell bit and, if it was not set
/// already (an IPI for it is then on its way), sends the IPI.
pub fn notify(core: usize, port: u64) {
    let bit = 1u64 << (port % NOTIFY_PORTS);
    // AcqRel: the sender's writes to the channel (made before it invoked the capability)
    // are visible to the core that takes the bit.
    if shared::slot(core).notify_pending.fetch_or(bit, Ordering::AcqRel) & bit == 0 {
        send_ipi(core, SGI_NOTIFY);
    }
}

/// Set when a notification arrives, taken by the next `wfi` a program traps with: the
/// software counterpart of the event register, so that a notification that came between
/// a program's last look at its channels and its `wfi` is not slept through.
static WAKE_PENDING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// True (once) if a notification arrived since the last call.
pub fn take_wake() -> bool {
    WAKE_PENDING.swap(false, Ordering::AcqRel)
}

/// This core's ports were woken: tell each bound port's endpoint, once: a notification
/// already waiting there is not queued again (a receiver that sleeps in `wfi` rather than
/// on the endpoint leaves them there). A full endpoint misses the message, which loses
/// nothing: its receiver has messages to take, so it is not asleep, and it looks at its
/// channels again before it next sleeps.
fn deliver_notifications() {
    let pending = shared::slot(crate::core_id()).notify_pending.swap(0, Ordering::AcqRel);
    WAKE_PENDING.store(true, Ordering::Release);
    let _ports = PORTS.lock();
    for port in (0..NOTIFY_PORTS).filter(|p| pending & (1 << p) != 0) {
        let slot = port_slot(port);
        if !slot.cap().is_null() {
            let _ = crate::lmp::send_once(slot, [abi::method::NOTIFIED, port, 0, 0]);
        }
    }
}

/// The most shared interrupts one core routes to endpoints.
const MAX_ROUTES: usize = 16;

/// The shared interrupt routed through each route slot (0: the slot is free).
static ROUTE_INTIDS: spin::Mutex<[u32; MAX_ROUTES]> = spin::Mutex::new([0; MAX_ROUTES]);

/// The endpoint each route delivers to: a copy of the endpoint capability, kept in the
/// kernel's own memory but linked in the derivation database like any other, so the
/// endpoint's memory cannot be retyped while the route exists.
static ROUTE_SLOTS: KernelSlots<MAX_ROUTES> = KernelSlots::new();

/// Route slot `index`.
fn route_slot(index: usize) -> Slot {
    ROUTE_SLOTS.slot(index)
}

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
/// Ticks after which a core reports its timer as running. One proves it: each core's
/// bring-up waits for it, so every further tick would add 10 ms to every boot.
pub const TICKS_TO_REPORT: u64 = 1;

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
    gic.enable_private(SGI_NOTIFY);
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

/// Routes shared interrupt `intid` to the endpoint in `endpoint` (replacing an earlier
/// route of it) and enables it.
pub fn connect(intid: u32, endpoint: Slot) -> Result<(), SysError> {
    let gic = GIC.get().ok_or(SysError::IllegalOperation)?;
    let mut intids = ROUTE_INTIDS.lock();
    let index = intids
        .iter()
        .position(|&i| i == intid)
        .or_else(|| intids.iter().position(|&i| i == 0))
        .ok_or(SysError::NotEnoughMemory)?;
    let slot = route_slot(index);
    caps::ops::delete(slot);
    caps::ops::copy(endpoint, slot)?;
    intids[index] = intid;
    gic.enable_shared(intid);
    Ok(())
}

/// Unmasks `intid` after its handler dealt with the last delivery.
pub fn acknowledge(intid: u32) -> Result<(), SysError> {
    let gic = GIC.get().ok_or(SysError::IllegalOperation)?;
    if !ROUTE_INTIDS.lock().contains(&intid) {
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
    let mut intids = ROUTE_INTIDS.lock();
    for (index, routed) in intids.iter_mut().enumerate() {
        if *routed == intid {
            if let Some(gic) = GIC.get() {
                gic.disable_shared(intid);
            }
            *routed = 0;
            caps::ops::delete(route_slot(index));
        }
    }
}

/// A routed shared interrupt fired: mask it until acknowledged, and tell its endpoint.
fn deliver_shared(intid: u32) -> bool {
    let Some(index) = ROUTE_INTIDS.lock().iter().position(|&i| i == intid) else {
        return false;
    };
    if let Some(gic) = GIC.get() {
        gic.disable_shared(intid);
    }
    // A full endpoint loses the interrupt; it stays masked until acknowledged.
    let _ = crate::lmp::send(route_slot(index), [u64::from(intid), 0, 0, 0], None);
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
            SGI_NOTIFY => deliver_notifications(),
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
