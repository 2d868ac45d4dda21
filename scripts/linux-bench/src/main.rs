//! # linux-bench: the Linux baseline of Flotilla's benchmarks
//!
//! Flotilla's `bench` program asks what its messages and shootdowns cost in guest
//! instructions; this program asks the same questions of Linux on the same emulated machine,
//! so each figure has something to stand beside. `cargo xtask bench --linux NAME` boots
//! Debian's arm64 kernel under QEMU `virt -cpu max -icount shift=0,sleep=off` with an
//! initramfs whose `/init` is this program; it measures, prints one line per result, and
//! powers the machine off.
//!
//! | benchmark | one operation | Flotilla's counterpart |
//! |---|---|---|
//! | `counter` | one iteration of a two-instruction loop (2.00: ticks are instructions) | `counter` |
//! | `boot` | power-on to the first instruction of `/init` | `boot` |
//! | `urpc_rtt` | 8 bytes through a pipe to a thread on core K and back | `urpc_rtt` |
//! | `futex_rtt` | a futex wake to a thread on core K and one back (shared memory) | `urpc_rtt` |
//! | `pipe_rtt_same_core` | the pipe round trip with both threads on core 0 | `lmp_rtt` |
//! | `update` | one thread's update of M shared cache lines, N threads at once | `update` |
//! | `unmap` | `munmap` of a page that threads on N cores have touched | `unmap` |
//!
//! Which run is chosen by the words after `--` on the kernel command line (Linux passes them
//! to init as arguments): `urpc`, `update`, `unmap`, `boot`; `counter` always runs. See
//! [`rtt`], [`update`] and [`unmap`] for what each does exactly.
//!
//! ## How it is built
//!
//! For `aarch64-unknown-none`, the toolchain's prebuilt bare-metal target that Flotilla's own
//! programs use, linked by its `rust-lld` into a static ELF file: same compiler, same code
//! generation (atomics included) as Flotilla's side. There is no C library: [`sys`] makes
//! the few Linux system calls by number and [`thread`] starts threads with `clone`. Linux
//! starts it at `_start` with the stack pointer at `argc`.
//!
//! ## Reading the figures
//!
//! As on Flotilla, the counter (`CNTVCT_EL0`, [`counter`]) counts the instructions of all
//! cores, run one after another by QEMU. A core that sleeps (`wfi` in Linux's idle loop)
//! counts nothing; a thread that spins counts every instruction. The threads here sleep in
//! the kernel whenever they wait (pipes, futexes), as Flotilla's monitors sleep in `wfi`.
//!
//! On the host this file is an ordinary program that only says where it runs; the result
//! lines and the reading of its arguments have host unit tests.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod counter;
#[cfg(any(test, target_os = "none"))]
mod report;
#[cfg(target_os = "none")]
mod rtt;
#[cfg(any(test, target_os = "none"))]
mod selection;
#[cfg(target_os = "none")]
mod sync;
#[cfg(target_os = "none")]
mod sys;
#[cfg(target_os = "none")]
mod thread;
#[cfg(target_os = "none")]
mod unmap;
#[cfg(target_os = "none")]
mod update;

// Linux enters at `_start` with `sp` at `argc`, then the argument pointers (ELF ABI for
// arm64, and fs/binfmt_elf.c `create_elf_tables`). The counter is read first of all, for
// the `boot` figure.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".global _start",
    "_start:",
    "mrs x1, cntvct_el0",
    "mov x0, sp",
    "bl linux_bench_start",
);

/// Runs what the arguments select and powers off.
///
/// # Safety
///
/// Called once, by `_start`, with Linux's initial stack.
#[cfg(target_os = "none")]
#[no_mangle]
unsafe extern "C" fn linux_bench_start(initial_stack: *const usize, boot_ticks: u64) -> ! {
    // SAFETY: Linux's initial stack holds argc, then argc pointers to NUL-terminated strings.
    let arguments = unsafe { selection::Arguments::from_initial_stack(initial_stack) };
    let mut report = report::Report::default();
    run(&mut report, arguments, boot_ticks);
    sys::power_off()
}

#[cfg(target_os = "none")]
fn run(report: &mut report::Report, arguments: selection::Arguments, boot_ticks: u64) {
    use report::Value;
    let selected = match selection::Selection::parse(arguments) {
        Ok(selected) => selected,
        Err(unknown) => return report.error(format_args!("start"), &unknown),
    };
    let cores = match sys::cores_online() {
        Ok(cores) => cores,
        Err(e) => return report.error(format_args!("start"), &e),
    };
    if let Err(e) = sys::pin_to(0) {
        return report.error(format_args!("start"), &e);
    }
    let cores_value = Value::Count(cores as u64);
    if selected.boot {
        report.result("boot", &[("cores", cores_value), ("instructions", Value::Count(boot_ticks))]);
    }
    counter_check(report);
    if selected.urpc {
        rtt::round_trips(report, cores);
    }
    if selected.update {
        update::updates(report, cores);
    }
    if selected.unmap {
        unmap::unmaps(report, cores);
    }
    let errors = report.errors();
    report.result("done", &[("cores", cores_value), ("errors", Value::Count(errors))]);
}

/// `bench: counter frequency_hz=F iterations=N instructions=T instructions_per_op=T/N`, as
/// Flotilla's: 2.00 when counter ticks are instructions.
#[cfg(target_os = "none")]
fn counter_check(report: &mut report::Report) {
    use report::Value;
    const ITERATIONS: u64 = 100_000;
    let (ticks, ()) = counter::measure(|| counter::two_instruction_loop(ITERATIONS));
    report.result(
        "counter",
        &[
            ("frequency_hz", Value::Count(counter::frequency_hz())),
            ("iterations", Value::Count(ITERATIONS)),
            ("instructions", Value::Count(ticks)),
            ("instructions_per_op", Value::Ratio(ticks, ITERATIONS)),
        ],
    );
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    report::print(&report::Line::error(format_args!("panic"), &info.message()));
    sys::power_off()
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "linux-bench is /init of the Linux baseline's initramfs: `cargo xtask bench --linux all` \
         builds it and boots it under Linux"
    );
    std::process::ExitCode::from(2)
}
