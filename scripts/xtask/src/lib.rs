//! `cargo xtask`: the one command that knows the whole Flotilla image.
//!
//! - [`setup`] prepares the host (Rust targets, QEMU, Raspberry Pi files);
//! - [`image`] builds the kernel for a board and turns the ELF file into a bootable
//!   Linux arm64 `Image` (our own code: no objcopy, no llvm-tools);
//! - [`qemu`] turns board options into a QEMU command line, for `run` and for the tests;
//! - [`bench`] boots the `bench` program under icount and writes its figures as tables
//!   and plots.
//!
//! The binary (`main.rs`) is only the command-line front end; the integration tests use this
//! library directly so they build and boot exactly what `cargo xtask run` would.

pub mod bench;
pub mod image;
pub mod qemu;
pub mod setup;

/// The prebuilt bare-metal targets: soft-float for the kernel, hard-float for user programs.
pub const TARGETS: [&str; 2] = ["aarch64-unknown-none-softfloat", "aarch64-unknown-none"];

/// The kernel's target.
pub const KERNEL_TARGET: &str = TARGETS[0];

/// The boards Flotilla builds an image for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Board {
    /// QEMU's `virt` machine.
    Virt,
    /// Raspberry Pi 4 Model B (real hardware, or QEMU's `raspi4b`).
    Rpi4,
}

impl Board {
    pub fn parse(name: &str) -> anyhow::Result<Board> {
        match name {
            "virt" => Ok(Board::Virt),
            "rpi4" => Ok(Board::Rpi4),
            other => anyhow::bail!("unknown board `{other}` (known: virt, rpi4)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Board::Virt => "virt",
            Board::Rpi4 => "rpi4",
        }
    }

    /// The file name loaders expect: the Pi firmware looks for `kernel8.img`.
    pub fn image_name(self) -> &'static str {
        match self {
            Board::Virt => "Image",
            Board::Rpi4 => "kernel8.img",
        }
    }
}
