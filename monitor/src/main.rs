//! # The monitor: each core's first user-level domain
//!
//! Every core's CPU driver starts one monitor, at EL0, holding that core's share of RAM,
//! the Kernel capability and the boot modules. In the multikernel the monitors are where
//! system-wide state lives, as replicas kept consistent by messages between them; this
//! first version does what a core needs before any of that: it says it is up and how much
//! RAM it holds, and on the boot core it starts `init`, which starts everything else.
//! Then it waits on its own endpoint for requests, which costs the core nothing (a
//! waiting dispatcher is not scheduled, and an idle core sleeps).
//!
//! What it deliberately does not do yet: talk to other cores' monitors (channels come
//! with the URPC work), or serve RAM to other domains (each spawner carves its children's
//! RAM from its own).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
libos::entry!(main);

/// How much of the monitor's RAM init gets: a quarter, in whole MiB.
#[cfg(target_os = "none")]
const fn init_ram_share(free_bytes: u64) -> u64 {
    (free_bytes / 4) & !((1 << 20) - 1)
}

#[cfg(target_os = "none")]
fn main(core: u64) -> u64 {
    use libos::lmp::Endpoint;
    let free_mib = libos::ram::free_bytes() >> 20;
    libos::println!("monitor: core {core} up, {free_mib} MiB of RAM");
    if core == 0 {
        // init starts the system's programs from its own RAM: give it a quarter of ours.
        let options = libos::spawn::SpawnOptions {
            ram_bytes: init_ram_share(libos::ram::free_bytes()),
            ..Default::default()
        };
        match libos::spawn::spawn_with("init", options) {
            // init runs on its own; its RAM stays allocated for as long as it lives (a
            // `Child` releases nothing when dropped: only `reclaim` does).
            Ok(_init) => {}
            Err(e) => libos::println!("monitor: core 0 cannot start init: {e:?}"),
        }
    }
    let requests = match Endpoint::for_self() {
        Ok(endpoint) => endpoint,
        Err(e) => {
            libos::println!("monitor: core {core} has no endpoint: {e:?}");
            return 1;
        }
    };
    loop {
        if let Err(e) = requests.cap().receive() {
            libos::println!("monitor: core {core}: receive failed: {e:?}");
            return 1;
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("monitor is a Flotilla user program: `cargo xtask run` builds it into the kernel image");
    std::process::ExitCode::from(2)
}
