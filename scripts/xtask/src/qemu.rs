//! QEMU command lines for each board and option, shared by `cargo xtask run` and the tests.

use crate::Board;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Everything that selects a machine to boot.
#[derive(Clone, Debug)]
pub struct Machine {
    pub board: Board,
    /// Cores (virt only; raspi4b always has 4).
    pub smp: u32,
    /// CPU model (virt only; raspi4b is a Cortex-A72).
    pub cpu: String,
    /// GIC architecture version, 2 or 3 (virt only).
    pub gic: u8,
    /// Enter at EL2 with PSCI over smc (virt's `virtualization=on`).
    pub el2: bool,
    /// RAM size as QEMU reads it, e.g. `1G` (virt only; raspi4b has 2 GiB).
    pub mem: String,
    /// A device tree to pass instead of QEMU's own.
    pub dtb: Option<PathBuf>,
    /// The kernel command line (`/chosen/bootargs`).
    pub append: Option<String>,
    /// Count instructions deterministically (`-icount shift=0,sleep=off`, docs/DESIGN.md §9).
    pub icount: bool,
    /// Start halted with a gdb stub on port 1234.
    pub gdb: bool,
    /// Let the guest end QEMU with an exit status (Arm semihosting), and tell the kernel
    /// to power off that way (`flotilla.semihosting`).
    pub semihosting: bool,
    /// Extra arguments passed to QEMU as they are.
    pub extra: Vec<String>,
}

impl Machine {
    /// The defaults of `cargo xtask run`: virt, Cortex-A72, 4 cores, GICv2, 1 GiB.
    pub fn new(board: Board) -> Machine {
        Machine {
            board,
            smp: 4,
            cpu: "cortex-a72".into(),
            gic: 2,
            el2: false,
            mem: "1G".into(),
            dtb: None,
            append: None,
            icount: false,
            gdb: false,
            semihosting: false,
            extra: Vec::new(),
        }
    }

    /// Checks option combinations QEMU would reject with a less helpful message.
    pub fn validate(&self) -> Result<()> {
        match self.board {
            Board::Virt => {
                if self.gic != 2 && self.gic != 3 {
                    bail!("--gic must be 2 or 3");
                }
                if self.gic == 2 && self.smp > 8 {
                    bail!("GICv2 addresses at most 8 cores; use --gic 3 for --smp {}", self.smp);
                }
                if self.smp == 0 || self.smp > 512 {
                    bail!("--smp must be between 1 and 512");
                }
            }
            Board::Rpi4 => {
                if self.smp != 4 || self.gic != 2 || self.el2 || self.mem != "1G" || self.cpu != "cortex-a72"
                {
                    bail!("the rpi4 board is fixed (4 Cortex-A72 cores, GIC-400, 2 GiB, EL2 entry): drop --smp/--cpu/--gic/--el2/--mem");
                }
            }
        }
        Ok(())
    }

    /// The QEMU command that boots `image` on this machine. `interactive` connects the
    /// serial console and QEMU's monitor to the terminal (Ctrl-A X quits); otherwise the
    /// serial console alone is on stdout.
    pub fn command(&self, qemu: &Path, image: &Path, interactive: bool) -> Command {
        let mut cmd = Command::new(qemu);
        match self.board {
            Board::Virt => {
                let mut machine = format!("virt,gic-version={}", self.gic);
                if self.el2 {
                    machine.push_str(",virtualization=on");
                }
                cmd.args(["-M", &machine, "-cpu", &self.cpu, "-smp", &self.smp.to_string(), "-m", &self.mem]);
            }
            Board::Rpi4 => {
                cmd.args(["-M", "raspi4b"]);
            }
        }
        if self.icount {
            cmd.args(["-icount", "shift=0,sleep=off"]);
        }
        if interactive {
            cmd.arg("-nographic");
        } else {
            cmd.args(["-display", "none", "-monitor", "none", "-serial", "stdio"]);
        }
        cmd.arg("-kernel").arg(image);
        if let Some(dtb) = &self.dtb {
            cmd.arg("-dtb").arg(dtb);
        }
        let mut append = self.append.clone().unwrap_or_default();
        if self.semihosting {
            cmd.args(["-semihosting-config", "enable=on,target=native"]);
            append.push_str(if append.is_empty() { "flotilla.semihosting" } else { " flotilla.semihosting" });
        }
        if !append.is_empty() {
            cmd.args(["-append", &append]);
        }
        if self.gdb {
            cmd.args(["-s", "-S"]);
        }
        cmd.args(&self.extra);
        cmd
    }
}
