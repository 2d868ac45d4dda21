//! # init: the first program the boot core's monitor starts
//!
//! It starts the system's programs and reports how each ended. For now that is `hello`,
//! whose line on the console shows user programs can start user programs; a shell will
//! follow it here.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
libos::entry!(main);

#[cfg(target_os = "none")]
fn main(_arg: u64) -> u64 {
    libos::println!("init: starting");
    let status = match libos::spawn::spawn("hello", 0) {
        Ok(child) => {
            let ended = child.wait();
            libos::println!("init: hello ended: {ended:?}");
            let _ = child.reclaim();
            0
        }
        Err(e) => {
            libos::println!("init: cannot start hello: {e:?}");
            1
        }
    };
    libos::println!("init: done");
    status
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("init is a Flotilla user program: `cargo xtask run` builds it into the kernel image");
    std::process::ExitCode::from(2)
}
