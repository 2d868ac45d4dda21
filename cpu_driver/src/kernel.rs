//! A core's life, from the entry code's hand-over to idle.

use crate::arch::{self, exceptions, gic::Gic, timer};
use crate::interrupts::{self, SGI_PING, SGI_PONG, TICKS_TO_REPORT};
use crate::params::{KernelParams, SelfTest};
use crate::shared::{self, CoreState};
use crate::{console, kprintln};
use arrayvec::ArrayVec;
use boot::bootinfo::{BootInfo, EnableMethod, MAX_CPUS};
use boot::devicetree;
use boot::memory::BootFrames;
use boot::{PhysAddr, PhysRange};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How long the boot core waits for released cores to report ready.
const BRING_UP_TIMEOUT_MS: u64 = 5000;
/// How long it waits for every core to answer the ping.
const PING_TIMEOUT_MS: u64 = 2000;

/// The device tree describing this image's board, used when the loader passes none and to
/// find a console for reporting a bad one. Built by `cargo xtask build`.
#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);
static BUILTIN_TREE: &Aligned<[u8]> = &Aligned(*include_bytes!(env!(
    "FLOTILLA_BUILTIN_DTB",
    "build the kernel with `cargo xtask build`, which supplies the board's built-in device tree"
)));

/// The boot module archive (user programs), built by `cargo xtask build`. Page-aligned,
/// so each module can be handed to user space as whole read-only frames.
#[repr(C, align(4096))]
struct PageAligned<T: ?Sized>(T);
static MODULES: &PageAligned<[u8]> = &PageAligned(*include_bytes!(env!(
    "FLOTILLA_MODULES",
    "build the kernel with `cargo xtask build`, which supplies the boot module archive"
)));

/// Set when this core should start its first user-level domain (after every core is up).
static START_USER: AtomicBool = AtomicBool::new(false);
static USER_STARTED: AtomicBool = AtomicBool::new(false);

/// This core's logical id (0 on the boot core).
static CORE_ID: AtomicUsize = AtomicUsize::new(0);
/// This core's start-up parameters; on secondary cores the boot core writes them before
/// release.
static PARAMS: spin::Once<KernelParams> = spin::Once::new();
/// Set to the core's id during bring-up; read back after every core has written its own.
/// Its value proves that the same kernel static is a different variable on each core.
static PROBE: AtomicUsize = AtomicUsize::new(usize::MAX);

/// This core's logical id.
pub fn core_id() -> usize {
    CORE_ID.load(Ordering::Relaxed)
}

/// This core's parameters.
pub fn params() -> &'static KernelParams {
    PARAMS.get().unwrap_or_else(|| arch::halt())
}

/// Waits until `done` holds or `timeout_ms` passes; returns whether it held. Sleeps in
/// `wfi` between looks, so the core's own tick (or an IPI) wakes it to look again:
/// a waiting core costs the host nothing, which matters when QEMU runs many more cores
/// than the host has.
fn wait_until(timeout_ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = timer::now() + timer::ms_to_counts(timeout_ms);
    loop {
        if done() {
            return true;
        }
        if timer::now() >= deadline {
            return done();
        }
        crate::user::sleep_until_interrupt();
    }
}

/// Turns on the counter's event stream, so `wfe` wakes at least every ~260 µs (counter bit
/// 14 at 62.5 MHz) even if no other core sends an event, and lets EL0 read the virtual
/// counter (programs time things with it; under `-icount` it counts instructions).
/// CNTKCTL_EL1 (Arm ARM D19.11.15): EL0VCTEN bit 1, EVNTEN bit 2, EVNTI bits 7:4.
fn enable_event_stream() {
    let value: u64 = (1 << 1) | (1 << 2) | (14 << 4);
    // SAFETY: configures this core's event stream only.
    unsafe { core::arch::asm!("msr cntkctl_el1, {}", in(reg) value, options(nostack)) };
}

/// The memory and devices every core's linear map shows.
fn mmio_ranges(params: &KernelParams) -> ArrayVec<PhysRange, 8> {
    let mut mmio = ArrayVec::new();
    if let Some(uart) = params.console {
        mmio.push(uart.regs);
    }
    match &params.gic {
        boot::bootinfo::GicInfo::V2 { distributor, cpu_interface } => {
            mmio.push(*distributor);
            mmio.push(*cpu_interface);
        }
        boot::bootinfo::GicInfo::V3 { distributor, redistributors } => {
            mmio.push(*distributor);
            for r in redistributors {
                let _ = mmio.try_push(*r);
            }
        }
    }
    mmio
}

/// Prints a line about a tree that cannot be used, on whatever console the built-in tree
/// names, and stops.
fn refuse_tree(fdt_pa: u64, error: devicetree::FdtError) -> ! {
    if let Ok(builtin) = devicetree::parse(&BUILTIN_TREE.0) {
        if let Some(uart) = builtin.console {
            if boot::arch::map_on_boot_core(&[], &[uart.regs]).is_ok() {
                // SAFETY: just mapped as Device memory.
                unsafe { console::init(&uart) };
            }
        }
    }
    kprintln!("flotilla: cannot boot: {error} (blob at {fdt_pa:#x})");
    arch::halt()
}

/// The boot core's entry, from `boot`'s entry code with the MMU on.
#[no_mangle]
pub extern "C" fn kernel_primary_main(fdt_pa: u64, load_pa: u64, entry_el: u64) -> ! {
    exceptions::install();
    let (info, tree_source) = read_device_tree(fdt_pa);
    let mut params = KernelParams::new(&info, arch::mpidr());
    params.image_pa = PhysAddr(load_pa);
    // The console first, so that a failure to map the rest can still be reported.
    if let Some(uart) = &params.console {
        if boot::arch::map_on_boot_core(&[], &[uart.regs]).is_ok() {
            // SAFETY: the UART range was just mapped as Device memory.
            unsafe { console::init(uart) };
        }
    }
    if let Err(e) = boot::arch::map_on_boot_core(&info.memory, &mmio_ranges(&params)) {
        kprintln!("flotilla: cannot map memory and devices: {e}");
        arch::halt();
    }
    let mut frames = free_memory(&info, fdt_pa, load_pa);
    let cores = params.core_mpidrs.len() as u64;
    params.boot_channels = take_boot_channels(&mut frames, cores);
    // Every core's private memory first, then RAM shared out among the cores that have it,
    // so that each core's parameters can list every core's share.
    let prepared = prepare_secondaries(&info, &params, &mut frames);
    let mut sharing = 1 + prepared.iter().filter(|&&area| area != 0).count() as u64;
    for (core, &area) in prepared.iter().enumerate().take(params.core_mpidrs.len()) {
        let share = if core == 0 || area != 0 {
            sharing -= 1;
            take_ram_share(&mut frames, sharing + 1)
        } else {
            PhysRange::default()
        };
        params.ram_shares.push(share);
    }
    params.ram = params.ram_shares[0];
    let params = PARAMS.call_once(|| params);
    print_banner(&info, tree_source, load_pa);
    kprintln!("core 0: cpu driver online (mpidr {:#x}, entered at EL{entry_el})", arch::mpidr());
    shared::slot(0).set_state(CoreState::Online);
    enable_event_stream();
    if let Err(e) = interrupts::init(Gic::new(&params.gic), true) {
        kprintln!("core 0: interrupt controller: {e}");
        arch::halt();
    }

    arch::context::enable_fp();
    let started = release_secondaries(&info, params, &prepared);
    wait_until(BRING_UP_TIMEOUT_MS, || shared::slot(0).ticks.load(Ordering::Acquire) >= TICKS_TO_REPORT);
    PROBE.store(0, Ordering::Release);
    shared::slot(0).set_state(CoreState::Ready);
    let joined = gather(&started);
    let (locks, waits) = shared::CONSOLE_LOCK.counts();
    kprintln!(
        "all {joined} cpu drivers online ({} in the device tree; console lock taken {locks} times, {waits} waits)",
        info.cpus.len()
    );
    // A second ping tells each core to go on: start its first domain, or run the self-test
    // it was asked for (see `on_ping`).
    for core in 1..params.core_mpidrs.len() {
        if shared::slot(core).state() == CoreState::Joined {
            interrupts::send_ipi(core, SGI_PING);
        }
    }
    if params.selftest != SelfTest::None && selftest_core() == 0 {
        inject(params.selftest);
    }
    START_USER.store(true, Ordering::Release);
    idle()
}

/// Free RAM once the image, the device tree, firmware reservations and the spin-table pages
/// are taken out.
fn free_memory(info: &BootInfo<'_>, fdt_pa: u64, load_pa: u64) -> BootFrames {
    let mut frames = BootFrames::new(&info.memory, &info.reserved);
    let layout = boot::arch::link_layout();
    frames.remove(PhysRange::new(PhysAddr(load_pa), layout.image_size()));
    if let Some(blob) = boot::arch::loader_fdt() {
        frames.remove(PhysRange::new(PhysAddr(fdt_pa), blob.len() as u64));
    }
    for cpu in &info.cpus {
        if let EnableMethod::SpinTable { release_addr } = cpu.enable_method {
            // The firmware's spinning code and its release words live here.
            frames.remove(PhysRange::new(release_addr.align_down(4096), 4096));
        }
    }
    frames
}

/// The boot channels: a zeroed page per core but the boot core (`abi::cap::slot::BOOT_CHANNEL`).
fn take_boot_channels(frames: &mut BootFrames, cores: u64) -> PhysRange {
    let bytes = cores.saturating_sub(1) * abi::cap::PAGE_SIZE;
    match frames.alloc(bytes, abi::cap::PAGE_SIZE) {
        Some(base) if bytes > 0 => {
            crate::phys::zero(base, bytes);
            PhysRange::new(base, bytes)
        }
        _ => PhysRange::default(),
    }
}

/// Each core owns an equal share of the free RAM (at most what is free): the largest
/// 2 MiB-aligned block up to `1/cores` of it.
fn take_ram_share(frames: &mut BootFrames, cores: u64) -> PhysRange {
    const BLOCK: u64 = 2 << 20;
    let share = (frames.free_bytes() / cores.max(1)) & !(BLOCK - 1);
    let mut size = share;
    while size >= BLOCK {
        if let Some(base) = frames.alloc(size, BLOCK) {
            return PhysRange::new(base, size);
        }
        size -= BLOCK;
    }
    PhysRange::default()
}

/// Starts this core's first domain, once, when the boot core has said every core is up.
pub fn start_pending_domain() {
    if !START_USER.load(Ordering::Acquire) || USER_STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let core = core_id();
    let params = params();
    let Some(archive) = abi::modules::Archive::new(&MODULES.0) else {
        kprintln!("core {core}: the boot module archive is unreadable");
        return;
    };
    let module = match params.first_module.as_str() {
        "" => archive.modules().next(),
        name => archive.find(name),
    };
    let Some(module) = module else {
        kprintln!("core {core}: no boot module `{}` to start", params.first_module);
        return;
    };
    // The archive is part of the kernel image, which every core maps from the same pages.
    let archive_pa = params.image_pa.offset(MODULES.0.as_ptr() as u64 - boot::layout::KERNEL_VBASE);
    let archive_frame = (archive_pa, MODULES.0.len() as u64);
    // The console belongs to the boot core's first domain.
    let console = if core == 0 { params.console.as_ref() } else { None };
    let channels = params.boot_channels;
    let boot_channel = match core {
        _ if channels.size_bytes == 0 => None,
        0 => Some((channels.base, channels.size_bytes)),
        k => Some((channels.base.offset((k as u64 - 1) * abi::cap::PAGE_SIZE), abi::cap::PAGE_SIZE)),
    };
    let devices = crate::user_boot::Devices { console, boot_channel };
    // The first domain's argument: its core id (bits 0..16) and, on the boot core, which
    // boot module it starts as init (bits 16..32: position in the archive + 1; 0: the one
    // called `init`) and the options it passes on to it (bits 32..64).
    let init = match params.init_module.as_str() {
        "" => 0,
        name => archive.modules().position(|m| m.name == name).map_or(0, |i| i as u64 + 1),
    };
    let boot_core_only = init << 16 | u64::from(params.init_options) << 32;
    let arg = core as u64 | if core == 0 { boot_core_only } else { 0 };
    match crate::user_boot::start(params.ram, module.bytes, archive_frame, devices, arg, core as u16) {
        Ok(_) => {}
        Err(e) => kprintln!("core {core}: cannot start `{}`: {e}", module.name),
    }
}

/// Powers the machine off: through semihosting when asked for (QEMU then exits with
/// `status`), else PSCI SYSTEM_OFF; a machine with neither halts.
pub fn power_off(status: u64) -> ! {
    let params = params();
    if params.semihosting {
        // Semihosting SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit (0x20026): the block
        // form AArch64 uses (Arm semihosting specification, 6.5.2).
        let block = [0x20026u64, status];
        // SAFETY: `hlt #0xf000` is the semihosting call; QEMU reads `block` and exits.
        unsafe {
            core::arch::asm!("hlt #0xf000", in("x0") 0x18u64, in("x1") block.as_ptr(), options(nostack));
        }
    }
    match params.psci {
        Some(boot::bootinfo::PsciConduit::Hvc) => {
            let _ = smccc::psci::system_off::<smccc::Hvc>();
        }
        Some(boot::bootinfo::PsciConduit::Smc) => {
            let _ = smccc::psci::system_off::<smccc::Smc>();
        }
        None => {}
    }
    kprintln!("core {}: power off is not available here; halting", core_id());
    arch::halt()
}

/// The device tree to boot with: the loader's, or the built-in one if the loader passed
/// none. A tree that cannot be used ends the boot with one line saying why.
fn read_device_tree(fdt_pa: u64) -> (BootInfo<'static>, &'static str) {
    let loader = boot::arch::loader_fdt();
    let (blob, source) = match loader {
        Some(blob) if devicetree::is_atag_list(blob) => {
            (&BUILTIN_TREE.0, "built in (the loader passed ATAGs, which arm64 does not use)")
        }
        Some(blob) => (blob, "from the loader"),
        None => (&BUILTIN_TREE.0, "built in (the loader passed none)"),
    };
    match devicetree::parse(blob) {
        Ok(mut info) => {
            // An ATAG list still carries the command line the user gave the loader.
            if let Some(cmdline) = loader.and_then(devicetree::atag_cmdline) {
                info.bootargs = cmdline;
            }
            (info, source)
        }
        Err(e) => refuse_tree(fdt_pa, e),
    }
}

/// Waits for the released cores to report ready, then pings every ready core (the boot
/// core included) and waits for each to answer. Returns how many cores joined.
fn gather(started: &[usize]) -> usize {
    wait_until(BRING_UP_TIMEOUT_MS, || started.iter().all(|&c| shared::slot(c).state() >= CoreState::Ready));
    let mut ready: ArrayVec<usize, MAX_CPUS> = ArrayVec::new();
    ready.push(0);
    for &core in started {
        if shared::slot(core).state() >= CoreState::Ready {
            ready.push(core);
        } else {
            let mpidr = params().core_mpidrs[core];
            kprintln!(
                "core {core} (mpidr {mpidr:#x}): did not come up within {BRING_UP_TIMEOUT_MS} ms; continuing without it"
            );
        }
    }
    for &core in &ready {
        interrupts::send_ipi(core, SGI_PING);
    }
    let joined_now = || ready.iter().filter(|&&c| shared::slot(c).state() == CoreState::Joined).count();
    if !wait_until(PING_TIMEOUT_MS, || joined_now() == ready.len()) {
        kprintln!(
            "core 0: {} of {} ready cores did not answer the IPI",
            ready.len() - joined_now(),
            ready.len()
        );
    }
    joined_now()
}

fn print_banner(info: &BootInfo<'_>, tree_source: &str, load_pa: u64) {
    let ram_mib: u64 = info.memory.iter().map(|r| r.size_bytes).sum::<u64>() >> 20;
    let firmware = match info.psci {
        Some(boot::bootinfo::PsciConduit::Hvc) => "PSCI via hvc",
        Some(boot::bootinfo::PsciConduit::Smc) => "PSCI via smc",
        None => "no PSCI",
    };
    let gic = match info.gic {
        boot::bootinfo::GicInfo::V2 { .. } => 2,
        boot::bootinfo::GicInfo::V3 { .. } => 3,
    };
    kprintln!("Flotilla {} multikernel on {}", env!("CARGO_PKG_VERSION"), info.model);
    kprintln!(
        "boot: {} cpus, {ram_mib} MiB RAM, GICv{gic}, {firmware}; device tree {tree_source}; image at {load_pa:#x}",
        info.cpus.len()
    );
}

/// Builds every secondary core's private memory (tables, statics, stacks); returns, by
/// logical core id, the physical address of each core's private area (0 for the boot core
/// and for cores that cannot have one, which are reported).
///
/// Kept out of line, like [`release_secondaries`]: the boot core's stack is small, and the
/// frames of these two must not add to the boot entry's.
#[inline(never)]
fn prepare_secondaries(
    info: &BootInfo<'_>,
    params: &KernelParams,
    frames: &mut BootFrames,
) -> [u64; MAX_CPUS] {
    let mmio = mmio_ranges(params);
    let mut prepared = [0; MAX_CPUS];
    for (core, &mpidr) in params.core_mpidrs.iter().enumerate().skip(1) {
        let Some(cpu) = info.cpus.iter().find(|c| c.mpidr == mpidr) else { continue };
        match boot::arch::prepare_secondary(frames, core, cpu, &info.memory, &mmio) {
            Ok(percore) => prepared[core] = percore.0,
            Err(e) => kprintln!("core {core} (mpidr {mpidr:#x}): not started: {e}"),
        }
    }
    prepared
}

/// Gives each prepared core its parameters and releases it; returns the logical ids released.
#[inline(never)]
fn release_secondaries(
    info: &BootInfo<'_>,
    params: &KernelParams,
    prepared: &[u64; MAX_CPUS],
) -> ArrayVec<usize, MAX_CPUS> {
    let mut started = ArrayVec::new();
    for (core, &mpidr) in params.core_mpidrs.iter().enumerate().skip(1) {
        let Some(cpu) = info.cpus.iter().find(|c| c.mpidr == mpidr) else { continue };
        if prepared[core] == 0 {
            continue;
        }
        let percore = PhysAddr(prepared[core]);
        let mut mine = params.clone();
        mine.ram = params.ram_shares[core];
        // SAFETY: `percore` is the core's fresh private area; nothing runs there yet.
        unsafe {
            boot::arch::private_static(percore, &raw const PARAMS).write(spin::Once::initialized(mine));
            boot::arch::private_static(percore, &raw const CORE_ID).write(AtomicUsize::new(core));
        }
        match boot::arch::release_secondary(cpu, params.psci) {
            Ok(()) => started.push(core),
            Err(e) => kprintln!("core {core} (mpidr {mpidr:#x}): not started: {e}"),
        }
    }
    started
}

/// A secondary core's entry, from `boot`'s entry code with the MMU on.
#[no_mangle]
pub extern "C" fn kernel_secondary_main(core: u64, entry_el: u64) -> ! {
    exceptions::install();
    let core = core as usize;
    let params = params();
    if let Some(uart) = &params.console {
        // SAFETY: the boot core mapped the console in this core's tables.
        unsafe { console::init(uart) };
    }
    kprintln!("core {core}: cpu driver online (mpidr {:#x}, entered at EL{entry_el})", arch::mpidr());
    shared::slot(core).set_state(CoreState::Online);
    enable_event_stream();
    arch::context::enable_fp();
    if let Err(e) = interrupts::init(Gic::new(&params.gic), false) {
        kprintln!("core {core}: interrupt controller: {e}");
        arch::halt();
    }
    wait_until(BRING_UP_TIMEOUT_MS, || shared::slot(core).ticks.load(Ordering::Acquire) >= TICKS_TO_REPORT);
    PROBE.store(core, Ordering::Release);
    shared::slot(core).set_state(CoreState::Ready);
    idle()
}

/// The boot core's ping arrived. The first one asks this core to join: it reports its
/// view of the per-core probe and answers. A later one, after every core has joined, starts
/// the self-test this core was asked to run, if any.
pub fn on_ping() {
    let core = core_id();
    let slot = shared::slot(core);
    if slot.state() == CoreState::Joined {
        let test = params().selftest;
        if test != SelfTest::None && core == selftest_core() {
            inject(test);
        }
        START_USER.store(true, Ordering::Release);
        return;
    }
    let probe = &PROBE;
    kprintln!(
        "core {core}: IPI received; per-core static PROBE at {:#x} holds {}",
        probe as *const _ as u64,
        probe.load(Ordering::Acquire)
    );
    slot.set_state(CoreState::Joined);
    interrupts::send_ipi(0, SGI_PONG);
}

/// Cores whose failure the boot core has already reported (boot core only).
static FAILURES_REPORTED: spin::Mutex<[u64; MAX_CPUS / 64]> = spin::Mutex::new([0; MAX_CPUS / 64]);

/// On the boot core: reports each core that has newly stopped on a fatal error.
pub fn report_failed_cores() {
    if core_id() != 0 {
        return;
    }
    let cores = params().core_mpidrs.len();
    let mut reported = FAILURES_REPORTED.lock();
    for core in 1..cores {
        let (word, bit) = (core / 64, 1u64 << (core % 64));
        if shared::slot(core).state() == CoreState::Failed && reported[word] & bit == 0 {
            reported[word] |= bit;
            let failed = reported.iter().map(|w| w.count_ones() as usize).sum::<usize>();
            kprintln!(
                "core 0: core {core} stopped on a fatal error; {} of {cores} cores still running",
                cores - failed
            );
        }
    }
}

fn idle() -> ! {
    crate::user::idle()
}

/// Recurses until the kernel stack runs into its guard page: that is the point.
#[inline(never)]
#[allow(unconditional_recursion)]
fn overflow_the_stack(depth: u64) -> u64 {
    let frame = [depth; 128];
    core::hint::black_box(&frame);
    overflow_the_stack(depth + 1) + core::hint::black_box(frame[5])
}

/// The core that runs a self-test requested on the command line: the last one.
fn selftest_core() -> usize {
    params().core_mpidrs.len() - 1
}

/// Injects the fault asked for on the command line (`flotilla.selftest=`), to exercise the
/// fault path. Runs on [`selftest_core`] once every core is up, so the report comes after
/// `all N cores online`, and the other cores go on.
fn inject(test: SelfTest) {
    kprintln!("core {}: running self-test {test:?}", core_id());
    match test {
        SelfTest::KernelFault => {
            let text = kernel_primary_main as *const () as *mut u64;
            // SAFETY: deliberately not safe: a write to read-only kernel text, to fault.
            unsafe { text.write_volatile(0) };
        }
        SelfTest::KernelPanic => panic!("self-test panic requested on the kernel command line"),
        SelfTest::StackOverflow => {
            core::hint::black_box(overflow_the_stack(0));
        }
        SelfTest::None => {}
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::fault::kernel_panic(info)
}
