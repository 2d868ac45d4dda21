//! # The monitor: each core's first user-level domain
//!
//! Every core's CPU driver starts one monitor, at EL0, holding that core's share of RAM,
//! the Kernel capability and the boot modules. In the multikernel the monitors are where
//! system-wide state lives, as replicas kept consistent by messages between them
//! (`docs/DESIGN.md` §7). A monitor:
//!
//! 1. says it is up and how much RAM it holds;
//! 2. joins the mesh ([`mesh`]): a URPC channel to every other core's monitor, set up over
//!    the boot channels the CPU drivers provide; the boot core's monitor then prints
//!    `all N cores online`, the console contract's sign that the system is up;
//! 3. on the boot core, starts `init`, which starts everything else;
//! 4. serves: messages from other monitors and requests from its own core's programs,
//!    sleeping on its endpoint when there are none (a waiting dispatcher is not scheduled,
//!    and an idle core sleeps).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod caps;
#[cfg(target_os = "none")]
mod cores;
#[cfg(target_os = "none")]
mod domain_requests;
#[cfg(target_os = "none")]
mod domains;
#[cfg(target_os = "none")]
mod memory;
#[cfg(target_os = "none")]
mod mesh;
#[cfg(target_os = "none")]
mod name_requests;
#[cfg(target_os = "none")]
mod names;
#[cfg(target_os = "none")]
mod serve;
#[cfg(target_os = "none")]
mod wire;

#[cfg(target_os = "none")]
libos::entry!(main);

/// How much of the monitor's RAM init gets: a quarter, in whole MiB.
#[cfg(target_os = "none")]
const fn init_ram_share(free_bytes: u64) -> u64 {
    (free_bytes / 4) & !((1 << 20) - 1)
}

#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    use libos::abi::cap::{CapType, PAGE_SIZE};
    use libos::lmp::Endpoint;
    let core = arg & 0xffff;
    // On the boot core: which boot module to start as init (position + 1; 0: the one
    // called `init`), and the options to pass on to it (`flotilla.init_arg=`).
    let init_index = arg >> 16 & 0xffff;
    let init_options = arg >> 32;
    let free_mib = libos::ram::free_bytes() >> 20;
    libos::println!("monitor: core {core} up, {free_mib} MiB of RAM");
    let cores = match libos::kernel::core_info() {
        Ok((_, cores)) => cores as usize,
        Err(e) => {
            libos::println!("monitor: core {core}: no kernel capability: {e}");
            return 1;
        }
    };
    let endpoint = match Endpoint::for_self() {
        Ok(endpoint) => endpoint,
        Err(e) => {
            libos::println!("monitor: core {core} has no endpoint: {e}");
            return 1;
        }
    };
    if let Err(e) = libos::kernel::notify_bind(mesh::MONITOR_PORT, Some(endpoint.cap().cap())) {
        libos::println!("monitor: core {core}: cannot bind its notify port: {e}");
        return 1;
    }
    let mut mesh = mesh::Mesh::new(core as usize, cores);
    let mut frame = |bytes: u64| {
        let ram = libos::ram::alloc_ram(bytes, PAGE_SIZE)?;
        ram.make(CapType::UrpcFrame, bytes, 0)
    };
    let joined = mesh::bring_up(&mut mesh, &mut frame);
    let online_at = libos::clock::now();
    match joined {
        Ok(up) if core == 0 => {
            for silent in (0..cores).filter(|&c| up.silent & (1 << c) != 0) {
                libos::println!("monitor: core {silent}'s monitor did not answer; going on without it");
            }
            let channels = up.joined.count_ones() * (up.joined.count_ones() - 1) / 2;
            libos::println!(
                "all {} cores online (monitors joined over {channels} URPC channel{})",
                up.joined.count_ones(),
                if channels == 1 { "" } else { "s" }
            );
        }
        Ok(_) => {}
        Err(e) => libos::println!("monitor: core {core}: cannot join the mesh: {e}"),
    }
    let mut domains = domains::Domains::new(core as usize);
    if core == 0 {
        // init starts the system's programs from its own RAM: give it a quarter of ours,
        // and the console, whose input the shell it starts reads.
        let arg =
            libos::monitor::INIT_ARG | init_options << libos::monitor::INIT_OPTIONS_SHIFT | cores as u64;
        let name = init_name(init_index);
        let ram_bytes = init_ram_share(libos::ram::free_bytes());
        if let Err(e) = domains.start(name, arg, endpoint.cap(), ram_bytes, true) {
            libos::println!("monitor: core 0 cannot start {name}: {e}");
        }
    }
    let ram = memory::RamService::new(core as usize, cores);
    serve::Monitor::new(mesh, endpoint, ram, domains, online_at).run()
}

/// The name of boot module `index - 1` (`init` for 0, or if there is no such module).
#[cfg(target_os = "none")]
fn init_name(index: u64) -> &'static str {
    index.checked_sub(1).and_then(|i| libos::spawn::module_name(i as usize)).unwrap_or("init")
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("monitor is a Flotilla user program: `cargo xtask run` builds it into the kernel image");
    std::process::ExitCode::from(2)
}
