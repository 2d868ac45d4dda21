//! Interrupt dispatch on one core: the timer tick and the inter-core interrupts (IPIs).
//!
//! IPIs are software-generated interrupts (SGIs). They carry no data: a core that wants
//! to tell another something writes it where the other will look (a channel, or during
//! bring-up the boot mailbox in `shared`) and sends an SGI to wake it.

use crate::arch::gic::{Gic, SgiTarget};
use crate::arch::timer;
use crate::kprintln;
use crate::shared;
use core::sync::atomic::Ordering;

/// SGI the boot core sends to every core once all are ready: "show you are alive".
pub const SGI_PING: u32 = 0;
/// SGI a core sends the boot core after answering a ping, or when it stops on a fatal
/// error. It only wakes the boot core: SGIs from several senders can merge into one
/// pending interrupt, so the news itself is the core's state in the boot mailbox.
pub const SGI_PONG: u32 = 1;

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

/// Called from the IRQ vector: handles everything pending.
pub fn handle_irq() {
    let Some(gic) = GIC.get() else { return };
    let timer_intid = crate::params().timer.virtual_intid;
    while let Some(ack) = gic.acknowledge() {
        match ack.intid {
            id if id == timer_intid => tick(),
            SGI_PING => crate::on_ping(),
            SGI_PONG => crate::report_failed_cores(),
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
