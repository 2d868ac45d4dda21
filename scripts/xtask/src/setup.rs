//! Host setup: the tools and files `cargo xtask` needs besides Cargo itself.
//!
//! A fresh checkout should build and boot with one command, so this module fetches what is
//! missing instead of listing it in a README:
//!
//! - the two bare-metal Rust targets ([`ensure_rust_targets`]), added with `rustup` to the
//!   toolchain that `rust-toolchain.toml` pins;
//! - QEMU 9.0 or newer ([`qemu_binary`], [`qemu_setup`]), the first release with the
//!   Raspberry Pi 4 board model (`-M raspi4b`). Debian 12 ships 7.2, so there the package comes
//!   from `bookworm-backports`; Debian 13 and Ubuntu 24.10 ship a new enough one;
//! - the Raspberry Pi 4 device tree ([`rpi4_dtb`]) and the GPU firmware that boots a real
//!   board from an SD card ([`rpi4_firmware`]). Neither belongs in the repository (binaries
//!   under other licences: GPL for the device tree, Broadcom's terms for the firmware), so
//!   both are taken from Debian's arm64 packages at run time and cached in `target/firmware/`;
//! - Debian's arm64 Linux kernel ([`debian_arm64_kernel`]) for the Linux baseline of
//!   `cargo xtask bench --linux`, from the same package and in the same way.
//!
//! Principles:
//!
//! - **Never name a mirror.** Every archive address is copied from the host's own apt
//!   configuration, so a machine behind a local mirror or a proxy keeps using it.
//! - **Change the system only to install QEMU.** That is the one step that needs root (through
//!   `sudo` when not root), and it announces every command before running it. Downloading
//!   firmware uses a private, throwaway apt state under the cache directory: no root, and the
//!   host's package lists and lock files are never touched.
//! - **Say what to do when it fails.** Each error names the step that failed and how to get
//!   past it by hand.
//!
//! What it deliberately does not do: install anything on distributions other than Debian and
//! Ubuntu, or build QEMU from source. Those hosts get a message naming the package to install.

use std::{
    env,
    ffi::OsStr,
    fmt::{self, Write as _},
    fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{anyhow, bail, ensure, Context, Result};

/// QEMU 9.0 added the `raspi4b` machine (BCM2711); older releases only model the Pi 3.
const QEMU_MIN_VERSION: QemuVersion = QemuVersion { major: 9, minor: 0, patch: 0 };

const QEMU_BINARY: &str = "qemu-system-aarch64";

/// The Debian and Ubuntu package that ships `qemu-system-aarch64`.
const QEMU_PACKAGE: &str = "qemu-system-arm";

/// Written by [`qemu_setup`] on Debian 12 when no apt source provides `bookworm-backports` yet.
const BACKPORTS_SOURCE_FILE: &str = "/etc/apt/sources.list.d/flotilla-backports.sources";

/// The Debian 12 codename, the one release whose own QEMU is too old but whose backports are not.
const DEBIAN_12: &str = "bookworm";

/// Ubuntu 24.10 was the first Ubuntu release with QEMU 9 (24.04 ships 8.2).
const UBUNTU_FIRST_WITH_QEMU_9: (u32, u32) = (24, 10);

/// The device tree the Raspberry Pi 4 firmware hands to the kernel it boots.
const RPI4_DTB: &str = "bcm2711-rpi-4-b.dtb";

/// Devicetree Specification v0.4, §5.2 (`fdt_header.magic`, big-endian 0xd00dfeed).
const FDT_MAGIC: [u8; 4] = [0xd0, 0x0d, 0xfe, 0xed];

/// ELF identification bytes (`EI_MAG0..EI_MAG3`, System V ABI §4 "ELF Identification").
const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];

/// The arm64 kernel `Image` header's `magic` field, at byte 56 (Linux
/// `Documentation/arch/arm64/booting.rst`, "Call the kernel image").
const ARM64_IMAGE_MAGIC: [u8; 4] = *b"ARM\x64";
const ARM64_IMAGE_MAGIC_OFFSET: usize = 56;

/// Debian's metapackage that always depends on the current arm64 kernel image.
const KERNEL_METAPACKAGE: &str = "linux-image-arm64";

/// Debian's package of the Raspberry Pi GPU firmware (component `non-free-firmware`).
const FIRMWARE_PACKAGE: &str = "raspi-firmware";

/// The Pi 4 GPU firmware: it reads `config.txt`, loads the device tree and the kernel, then
/// starts the Arm cores.
const RPI4_GPU_FIRMWARE: &str = "start4.elf";

/// The memory-split table that must match `start4.elf`.
const RPI4_FIXUP: &str = "fixup4.dat";

const RPI4_FIRMWARE_FILES: [&str; 2] = [RPI4_GPU_FIRMWARE, RPI4_FIXUP];

/// Subdirectory of the cache that [`rpi4_firmware`] fills with an SD card's boot files.
const RPI4_BOOT_DIR: &str = "rpi4-boot";

/// The private apt state lives here, under the cache directory, only while a download runs.
const PRIVATE_APT_DIR: &str = ".apt-download";

/// The workspace root, where `rust-toolchain.toml` and `target/` live.
pub fn workspace_root() -> PathBuf {
    // This crate sits at `<root>/scripts/xtask`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the xtask crate lives two levels below the workspace root")
        .to_path_buf()
}

/// Makes sure the pinned toolchain can build for each of `targets`, adding missing ones with
/// `rustup target add`.
pub fn ensure_rust_targets(targets: &[&str]) -> Result<()> {
    // Running from the workspace root makes rustup's proxies pick the toolchain that
    // rust-toolchain.toml pins, whichever directory xtask was started from.
    let root = workspace_root();
    let sysroot = run_captured(
        Command::new("rustc").args(["--print", "sysroot"]).current_dir(&root),
        "asking rustc for its sysroot",
    )?;
    let rustlib = Path::new(sysroot.trim()).join("lib").join("rustlib");
    let missing: Vec<&str> =
        targets.iter().copied().filter(|target| !rustlib.join(target).is_dir()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if find_on_path("rustup").is_none() {
        bail!(
            "the Rust toolchain at {} lacks the target(s) {}, and rustup is not installed to add \
             them: install Rust through rustup, or add these targets to your Rust installation",
            Path::new(sysroot.trim()).display(),
            missing.join(", ")
        );
    }
    step(format_args!("adding Rust target(s) {}", missing.join(", ")));
    run_visible(
        Command::new("rustup").args(["target", "add"]).args(&missing).current_dir(&root),
        "rustup target add",
    )
}

/// Finds `qemu-system-aarch64` on `PATH`, installing QEMU with [`qemu_setup`] when it is
/// missing or older than 9.0, and returns its path.
pub fn qemu_binary() -> Result<PathBuf> {
    match probe_qemu()? {
        QemuProbe::Ready(path) => return Ok(path),
        QemuProbe::Missing => {
            step(format_args!("{QEMU_BINARY} is not on PATH; installing QEMU {QEMU_MIN_VERSION} or newer"))
        }
        QemuProbe::TooOld(path, version) => step(format_args!(
            "{} is QEMU {version}, older than {QEMU_MIN_VERSION} (needed for -M raspi4b); \
             installing a newer one",
            path.display()
        )),
    }
    qemu_setup()?;
    match probe_qemu()? {
        QemuProbe::Ready(path) => Ok(path),
        QemuProbe::Missing => bail!(
            "QEMU was installed, but {QEMU_BINARY} is still not on PATH: add the directory that \
             holds it to PATH"
        ),
        QemuProbe::TooOld(path, version) => bail!(
            "{} is still QEMU {version} after installing a newer one: it comes first on PATH, so \
             remove it or put the directory of QEMU {QEMU_MIN_VERSION}+ before it",
            path.display()
        ),
    }
}

/// Installs QEMU 9.0 or newer with the system's package manager (Debian and Ubuntu only),
/// enabling `bookworm-backports` first on Debian 12.
pub fn qemu_setup() -> Result<()> {
    let os = read_os_release()?;
    let plan = qemu_install_plan(os.as_ref())?;
    let privilege = Privilege::detect()?;
    let target_release = match &plan {
        QemuInstallPlan::DebianBackports { codename } => {
            let suite = format!("{codename}-backports");
            if apt_sources_provide(&suite)? {
                step(format_args!("{suite} is already an apt source"));
            } else {
                let archive = host_debian_archive(codename)?;
                step(format_args!("enabling {suite}: writing {BACKPORTS_SOURCE_FILE}"));
                let text = format!(
                    "# Written by `cargo xtask qemu-setup` (Flotilla): Debian {codename}'s own \
                     QEMU is too old for -M raspi4b.\n{}",
                    render_source(&archive, &suite, &["main"])
                );
                privilege.write_file(Path::new(BACKPORTS_SOURCE_FILE), &text)?;
            }
            Some(suite)
        }
        QemuInstallPlan::DistributionPackage => None,
    };
    step("refreshing the package lists: apt-get update");
    run_visible(privilege.apt_get().arg("update"), "apt-get update")?;
    let mut install = privilege.apt_get();
    install.args(["install", "-y"]);
    match &target_release {
        Some(suite) => {
            step(format_args!(
                "installing {QEMU_PACKAGE} from {suite}: apt-get install -y -t {suite} {QEMU_PACKAGE}"
            ));
            install.args(["-t", suite]);
        }
        None => step(format_args!("installing {QEMU_PACKAGE}: apt-get install -y {QEMU_PACKAGE}")),
    }
    install.arg(QEMU_PACKAGE);
    run_visible(&mut install, &format!("apt-get install {QEMU_PACKAGE}"))
}

/// Returns `<cache_dir>/bcm2711-rpi-4-b.dtb`, taking it from Debian's arm64 kernel package
/// the first time.
pub fn rpi4_dtb(cache_dir: &Path) -> Result<PathBuf> {
    FirmwareCache::new(cache_dir).dtb()
}

/// Returns a directory holding the files a Raspberry Pi 4 SD card's boot partition needs
/// besides the kernel and `config.txt`: `start4.elf`, `fixup4.dat` (from Debian's
/// `raspi-firmware`) and `bcm2711-rpi-4-b.dtb`.
pub fn rpi4_firmware(cache_dir: &Path) -> Result<PathBuf> {
    FirmwareCache::new(cache_dir).boot_files()
}

/// Returns Debian's arm64 Linux kernel (`vmlinuz-<abi>-arm64`, an uncompressed arm64
/// `Image` that is also an EFI program, as QEMU's `-kernel` takes it) from `cache_dir`, taking it from the package
/// `linux-image-arm64` depends on the first time. Its configuration is checked for what an
/// initramfs-only boot on `virt` needs ([`LINUX_BUILT_INS`]), so a kernel that could not
/// print or start `/init` is refused before it boots.
pub fn debian_arm64_kernel(cache_dir: &Path) -> Result<PathBuf> {
    if let Some(cached) = cached_kernel(cache_dir)? {
        return Ok(cached);
    }
    fetch_kernel(cache_dir).with_context(|| {
        format!(
            "could not take the Linux kernel from Debian's {KERNEL_METAPACKAGE} package; put a \
             vmlinuz-*-arm64 file in {} by hand",
            cache_dir.display()
        )
    })
}

/// What the Linux baseline needs built into the kernel rather than as modules: the PL011
/// console (`ttyAMA0`), both GICs (`--gic 2|3`), the architected timer, PSCI to power
/// off, and an initramfs as the root file system.
pub const LINUX_BUILT_INS: [&str; 6] = [
    "CONFIG_SERIAL_AMBA_PL011_CONSOLE",
    "CONFIG_ARM_GIC",
    "CONFIG_ARM_GIC_V3",
    "CONFIG_ARM_ARCH_TIMER",
    "CONFIG_ARM_PSCI_FW",
    "CONFIG_BLK_DEV_INITRD",
];

/// The kernel `cache_dir` already holds, if any.
fn cached_kernel(cache_dir: &Path) -> Result<Option<PathBuf>> {
    let entries = match fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("listing {}", cache_dir.display())),
    };
    for entry in entries {
        let path = entry.with_context(|| format!("listing {}", cache_dir.display()))?.path();
        let name = path.file_name().and_then(OsStr::to_str).unwrap_or_default();
        if name.starts_with("vmlinuz-") && name.ends_with("-arm64") && path.is_file() {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

fn fetch_kernel(cache_dir: &Path) -> Result<PathBuf> {
    let apt = PrivateApt::open(cache_dir)?;
    let metapackage = apt.show(KERNEL_METAPACKAGE)?;
    let package = kernel_image_package(&metapackage).ok_or_else(|| {
        anyhow!("{KERNEL_METAPACKAGE} names no linux-image-* package among its dependencies")
    })?;
    let release = package.strip_prefix("linux-image-").unwrap_or(&package);
    let (kernel_name, config_name) = (format!("vmlinuz-{release}"), format!("config-{release}"));
    let extracted = apt.download_and_extract(&package, &[&kernel_name, &config_name])?;
    let config = fs::read_to_string(find_file(&extracted, &config_name)?)
        .with_context(|| format!("reading {config_name} from {package}"))?;
    let missing = missing_built_ins(&config, &LINUX_BUILT_INS);
    ensure!(
        missing.is_empty(),
        "{package} does not build in {}, which an initramfs-only boot on virt needs",
        missing.join(", ")
    );
    let found = find_file(&extracted, &kernel_name)?;
    let image = fs::read(&found).with_context(|| format!("reading {}", found.display()))?;
    ensure!(
        image.get(ARM64_IMAGE_MAGIC_OFFSET..ARM64_IMAGE_MAGIC_OFFSET + 4) == Some(&ARM64_IMAGE_MAGIC[..]),
        "{kernel_name} in {package} is not an arm64 kernel Image (no `ARM\\x64` at byte {ARM64_IMAGE_MAGIC_OFFSET})"
    );
    let kernel = cache_dir.join(&kernel_name);
    install_file(&found, &kernel)?;
    Ok(kernel)
}

/// The options of `wanted` that a kernel `.config` does not set to `y`.
fn missing_built_ins<'a>(config: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|option| !config.lines().any(|line| line.strip_prefix(option) == Some("=y")))
        .collect()
}

/// Prints one line saying what setup is doing, so a slow step never looks like a hang.
fn step(message: impl fmt::Display) {
    eprintln!("setup: {message}");
}

// ---------------------------------------------------------------------------------------------
// QEMU

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct QemuVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

impl fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Reads the version from `qemu-system-* --version`, whose first line is
/// `QEMU emulator version X.Y.Z (distribution details)`.
fn parse_qemu_version(output: &str) -> Option<QemuVersion> {
    let (_, after) = output.split_once("version ")?;
    let number = after.split_whitespace().next()?;
    let mut parts = number.split('.').map(str::parse::<u32>);
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some(QemuVersion { major, minor, patch })
}

enum QemuProbe {
    Ready(PathBuf),
    Missing,
    TooOld(PathBuf, QemuVersion),
}

fn probe_qemu() -> Result<QemuProbe> {
    let Some(path) = find_on_path(QEMU_BINARY) else {
        return Ok(QemuProbe::Missing);
    };
    let output =
        run_captured(Command::new(&path).arg("--version"), &format!("{} --version", path.display()))?;
    let version = parse_qemu_version(&output).ok_or_else(|| {
        anyhow!(
            "could not read a version from `{} --version`, which printed: {}",
            path.display(),
            output.trim()
        )
    })?;
    Ok(if version >= QEMU_MIN_VERSION { QemuProbe::Ready(path) } else { QemuProbe::TooOld(path, version) })
}

#[derive(Debug, PartialEq, Eq)]
enum QemuInstallPlan {
    /// Debian 12: its own QEMU is 7.2, its backports suite carries a current one.
    DebianBackports { codename: String },
    /// The release's own `qemu-system-arm` is new enough.
    DistributionPackage,
}

/// Decides how to install QEMU 9+ on this host, or explains why it cannot.
fn qemu_install_plan(os: Option<&OsRelease>) -> Result<QemuInstallPlan> {
    let by_hand = format!(
        "install QEMU {QEMU_MIN_VERSION} or newer (it provides {QEMU_BINARY}) with your package \
         manager (e.g. `brew install qemu` on macOS, `dnf install qemu-system-aarch64` on \
         Fedora), make sure {QEMU_BINARY} is on PATH, then run again"
    );
    let Some(os) = os else {
        bail!("this host has no /etc/os-release, so xtask cannot install QEMU itself: {by_hand}");
    };
    match os.id.as_str() {
        "debian" => {
            if os.version_codename.as_deref() == Some(DEBIAN_12) {
                return Ok(QemuInstallPlan::DebianBackports { codename: DEBIAN_12.to_owned() });
            }
            // Testing and unstable carry no VERSION_ID and are newer than any stable release.
            match os.version_id.as_deref().map(str::parse::<u32>) {
                Some(Ok(major)) if major < 12 => bail!(
                    "{} is too old: no QEMU {QEMU_MIN_VERSION}+ is packaged for it; upgrade to \
                     Debian 12 (bookworm) or newer, or {by_hand}",
                    os.pretty_name
                ),
                _ => Ok(QemuInstallPlan::DistributionPackage),
            }
        }
        "ubuntu" => {
            let version = os.version_id.as_deref().and_then(parse_ubuntu_version);
            match version {
                Some(version) if version >= UBUNTU_FIRST_WITH_QEMU_9 => {
                    Ok(QemuInstallPlan::DistributionPackage)
                }
                _ => bail!(
                    "{}'s {QEMU_PACKAGE} is older than QEMU {QEMU_MIN_VERSION}, the first release \
                     with -M raspi4b (Ubuntu 24.04 has 8.2): upgrade to Ubuntu 24.10 or newer, or \
                     build QEMU {QEMU_MIN_VERSION}+ from source and put its {QEMU_BINARY} on PATH",
                    os.pretty_name
                ),
            }
        }
        _ => bail!(
            "xtask installs QEMU only on Debian and Ubuntu, and this host is {}: {by_hand}",
            os.pretty_name
        ),
    }
}

/// Splits Ubuntu's `YY.MM` release number.
fn parse_ubuntu_version(version_id: &str) -> Option<(u32, u32)> {
    let (year, month) = version_id.split_once('.')?;
    Some((year.parse().ok()?, month.parse().ok()?))
}

// ---------------------------------------------------------------------------------------------
// os-release

/// The fields of os-release(5) that decide how to install packages.
#[derive(Debug, Default, PartialEq, Eq)]
struct OsRelease {
    id: String,
    version_id: Option<String>,
    version_codename: Option<String>,
    pretty_name: String,
}

/// Reads `/etc/os-release` (or `/usr/lib/os-release`, its fallback per os-release(5));
/// `None` on hosts without one, such as macOS.
fn read_os_release() -> Result<Option<OsRelease>> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        match fs::read_to_string(path) {
            Ok(text) => return Ok(Some(parse_os_release(&text))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("reading {path}")),
        }
    }
    Ok(None)
}

fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim()).to_owned();
        match key.trim() {
            "ID" => os.id = value,
            "VERSION_ID" => os.version_id = Some(value),
            "VERSION_CODENAME" => os.version_codename = Some(value),
            "PRETTY_NAME" => os.pretty_name = value,
            _ => {}
        }
    }
    if os.pretty_name.is_empty() {
        os.pretty_name = if os.id.is_empty() { "an unknown system".to_owned() } else { os.id.clone() };
    }
    os
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

// ---------------------------------------------------------------------------------------------
// apt sources

const DEBIAN_SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";
const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// Where a Debian archive lives and which keyring signs it, copied from the host's apt
/// configuration so that no mirror is ever named here.
#[derive(Debug, PartialEq, Eq)]
struct ArchiveSource {
    /// One or more archive roots, space-separated as in a deb822 `URIs:` field.
    uris: String,
    /// A keyring path, or an inline key kept with its deb822 continuation lines.
    signed_by: Option<String>,
}

/// One paragraph of a deb822 file (sources.list(5) "DEB822-STYLE FORMAT").
#[derive(Debug, Default)]
struct Deb822Stanza {
    /// Field names as written; a multi-line value keeps its continuation lines verbatim.
    fields: Vec<(String, String)>,
}

impl Deb822Stanza {
    /// Field names are case-insensitive in deb822.
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    fn has_word(&self, name: &str, word: &str) -> bool {
        self.get(name).is_some_and(|value| value.split_whitespace().any(|w| w == word))
    }

    /// A binary-package source that apt actually reads (`Enabled: no` switches one off).
    fn is_enabled_binary_source(&self) -> bool {
        self.has_word("Types", "deb")
            && !self.get("Enabled").is_some_and(|value| value.trim().eq_ignore_ascii_case("no"))
    }
}

fn parse_deb822(text: &str) -> Vec<Deb822Stanza> {
    let mut stanzas = Vec::new();
    let mut current = Deb822Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
        } else if line.starts_with('#') {
            // Comments may sit inside a stanza without ending it.
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.fields.last_mut() {
                value.push('\n');
                value.push_str(line);
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current.fields.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.fields.is_empty() {
        stanzas.push(current);
    }
    stanzas
}

/// One `deb` line of the one-line format: `deb [options] uri suite [component…]`.
#[derive(Debug, PartialEq, Eq)]
struct OneLineSource<'a> {
    uri: &'a str,
    suite: &'a str,
    signed_by: Option<&'a str>,
}

fn parse_one_line(line: &str) -> Option<OneLineSource<'_>> {
    let line = line.split('#').next()?.trim();
    let rest = line.strip_prefix("deb")?;
    // `deb-src` lines describe source packages, not the binaries wanted here.
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let (options, rest) = match rest.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?,
        None => ("", rest),
    };
    let mut words = rest.split_whitespace();
    let uri = words.next()?;
    let suite = words.next()?;
    let signed_by = options.split_whitespace().find_map(|option| option.strip_prefix("signed-by="));
    Some(OneLineSource { uri, suite, signed_by })
}

/// The archive of the first enabled deb822 stanza that lists `suite`.
fn archive_from_deb822(text: &str, suite: &str) -> Option<ArchiveSource> {
    parse_deb822(text)
        .into_iter()
        .find(|stanza| stanza.is_enabled_binary_source() && stanza.has_word("Suites", suite))
        .and_then(|stanza| {
            Some(ArchiveSource {
                uris: stanza.get("URIs")?.to_owned(),
                signed_by: stanza.get("Signed-By").map(str::to_owned),
            })
        })
}

/// The archive of the first one-line `deb` entry for `suite`.
fn archive_from_one_line(text: &str, suite: &str) -> Option<ArchiveSource> {
    text.lines().filter_map(parse_one_line).find(|source| source.suite == suite).map(|source| ArchiveSource {
        uris: source.uri.to_owned(),
        signed_by: source.signed_by.map(str::to_owned),
    })
}

/// Finds the Debian archive the host installs `suite` from: Debian's own deb822 file first
/// (the default since Debian 12), then the classic one-line `sources.list`.
fn host_debian_archive(suite: &str) -> Result<ArchiveSource> {
    let deb822 = read_if_present(Path::new(DEBIAN_SOURCES))?;
    let one_line = read_if_present(Path::new(SOURCES_LIST))?;
    deb822
        .as_deref()
        .and_then(|text| archive_from_deb822(text, suite))
        .or_else(|| one_line.as_deref().and_then(|text| archive_from_one_line(text, suite)))
        .ok_or_else(|| {
            anyhow!(
                "found no apt source for Debian's `{suite}` suite in {DEBIAN_SOURCES} or \
                 {SOURCES_LIST}, so there is no archive address to copy"
            )
        })
}

/// Whether any apt source of the host already provides `suite`.
fn apt_sources_provide(suite: &str) -> Result<bool> {
    let mut files = vec![PathBuf::from(SOURCES_LIST)];
    match fs::read_dir(SOURCES_DIR) {
        Ok(entries) => {
            for entry in entries {
                files.push(entry.with_context(|| format!("listing {SOURCES_DIR}"))?.path());
            }
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("listing {SOURCES_DIR}")),
    }
    for file in files {
        let Some(format) = SourceFormat::of(&file) else {
            continue;
        };
        if read_if_present(&file)?.is_some_and(|text| format.provides(&text, suite)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The two formats apt reads from its source files, told apart by extension.
#[derive(Clone, Copy)]
enum SourceFormat {
    Deb822,
    OneLine,
}

impl SourceFormat {
    /// `None` for files apt ignores (anything not `.sources` or `.list`).
    fn of(path: &Path) -> Option<Self> {
        match path.extension().and_then(OsStr::to_str)? {
            "sources" => Some(Self::Deb822),
            "list" => Some(Self::OneLine),
            _ => None,
        }
    }

    /// Whether a file of this format enables binary packages from `suite`.
    fn provides(self, text: &str, suite: &str) -> bool {
        match self {
            Self::Deb822 => parse_deb822(text)
                .iter()
                .any(|stanza| stanza.is_enabled_binary_source() && stanza.has_word("Suites", suite)),
            Self::OneLine => text.lines().filter_map(parse_one_line).any(|source| source.suite == suite),
        }
    }
}

/// A deb822 stanza for `suite` of `archive`.
fn render_source(archive: &ArchiveSource, suite: &str, components: &[&str]) -> String {
    let mut text = format!(
        "Types: deb\nURIs: {}\nSuites: {suite}\nComponents: {}\n",
        archive.uris,
        components.join(" ")
    );
    if let Some(key) = &archive.signed_by {
        writeln!(text, "Signed-By: {key}").expect("writing to a String cannot fail");
    }
    text
}

fn read_if_present(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands

/// How to run the commands that change the system.
enum Privilege {
    Root,
    Sudo,
}

impl Privilege {
    fn detect() -> Result<Self> {
        // `id -u` rather than a libc call keeps this crate free of unsafe code and of libc.
        let uid = run_captured(Command::new("id").arg("-u"), "id -u")?;
        if uid.trim() == "0" {
            Ok(Self::Root)
        } else if find_on_path("sudo").is_some() {
            Ok(Self::Sudo)
        } else {
            bail!("installing QEMU needs root: run this as root, or install sudo")
        }
    }

    /// `apt-get`, as root, never stopping to ask questions.
    fn apt_get(&self) -> Command {
        match self {
            Self::Root => {
                let mut command = Command::new("apt-get");
                command.env("DEBIAN_FRONTEND", "noninteractive");
                command
            }
            Self::Sudo => {
                // sudo resets the environment by default, so the variable goes through `env`.
                let mut command = Command::new("sudo");
                command.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
                command
            }
        }
    }

    fn write_file(&self, path: &Path, contents: &str) -> Result<()> {
        match self {
            Self::Root => fs::write(path, contents).with_context(|| format!("writing {}", path.display())),
            Self::Sudo => {
                let mut tee = Command::new("sudo")
                    .arg("tee")
                    .arg(path)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .map_err(|error| spawn_error("sudo", error))?;
                tee.stdin
                    .take()
                    .expect("stdin was piped")
                    .write_all(contents.as_bytes())
                    .with_context(|| format!("writing {} through sudo tee", path.display()))?;
                let status = tee.wait().context("waiting for sudo tee")?;
                ensure!(status.success(), "`sudo tee {}` failed ({status})", path.display());
                Ok(())
            }
        }
    }
}

/// Runs `command` with its output going to the user's terminal.
fn run_visible(command: &mut Command, what: &str) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command.status().map_err(|error| spawn_error(&program, error))?;
    ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}

/// Runs `command` quietly and returns what it printed; a failure carries its error output.
fn run_captured(command: &mut Command, what: &str) -> Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.stdin(Stdio::null()).output().map_err(|error| spawn_error(&program, error))?;
    ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8(output.stdout).with_context(|| format!("{what} printed something not UTF-8"))
}

fn spawn_error(program: &str, error: io::Error) -> anyhow::Error {
    if error.kind() == io::ErrorKind::NotFound {
        anyhow!("`{program}` is not installed (or not on PATH)")
    } else {
        anyhow!(error).context(format!("could not start `{program}`"))
    }
}

/// The first executable file called `program` in a `PATH` directory.
fn find_on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

// ---------------------------------------------------------------------------------------------
// Raspberry Pi 4 firmware from Debian's arm64 archive

/// The firmware cache under `cache_dir`, opening a private apt at most once per call and only
/// when something is missing.
struct FirmwareCache<'a> {
    cache_dir: &'a Path,
    apt: Option<PrivateApt>,
}

impl<'a> FirmwareCache<'a> {
    fn new(cache_dir: &'a Path) -> Self {
        Self { cache_dir, apt: None }
    }

    fn dtb(&mut self) -> Result<PathBuf> {
        let dtb = self.cache_dir.join(RPI4_DTB);
        if dtb.is_file() {
            return Ok(dtb);
        }
        self.fetch_dtb(&dtb).with_context(|| {
            format!(
                "could not take {RPI4_DTB} from Debian's arm64 Linux kernel package; put the \
                 file in {} by hand (every Raspberry Pi 4 boot partition has one)",
                self.cache_dir.display()
            )
        })?;
        Ok(dtb)
    }

    fn boot_files(&mut self) -> Result<PathBuf> {
        let boot_dir = self.cache_dir.join(RPI4_BOOT_DIR);
        let firmware_cached = RPI4_FIRMWARE_FILES.iter().all(|name| boot_dir.join(name).is_file());
        if !firmware_cached {
            self.fetch_firmware(&boot_dir).with_context(|| {
                format!(
                    "could not take the Raspberry Pi 4 firmware from Debian's {FIRMWARE_PACKAGE} \
                     package; put {} in {} by hand (from any Raspberry Pi 4 boot partition)",
                    RPI4_FIRMWARE_FILES.join(" and "),
                    boot_dir.display()
                )
            })?;
        }
        let dtb = self.dtb()?;
        install_file(&dtb, &boot_dir.join(RPI4_DTB))?;
        Ok(boot_dir)
    }

    fn apt(&mut self) -> Result<&PrivateApt> {
        if self.apt.is_none() {
            self.apt = Some(PrivateApt::open(self.cache_dir)?);
        }
        Ok(self.apt.as_ref().expect("opened just above"))
    }

    fn fetch_dtb(&mut self, dtb: &Path) -> Result<()> {
        let apt = self.apt()?;
        let metapackage = apt.show(KERNEL_METAPACKAGE)?;
        let kernel = kernel_image_package(&metapackage).ok_or_else(|| {
            anyhow!("{KERNEL_METAPACKAGE} names no linux-image-* package among its dependencies")
        })?;
        let extracted = apt.download_and_extract(&kernel, &[RPI4_DTB])?;
        let found = find_file(&extracted, RPI4_DTB)?;
        check_magic(&found, &FDT_MAGIC, "a flattened device tree")?;
        install_file(&found, dtb)
    }

    fn fetch_firmware(&mut self, boot_dir: &Path) -> Result<()> {
        let apt = self.apt()?;
        let extracted = apt.download_and_extract(FIRMWARE_PACKAGE, &RPI4_FIRMWARE_FILES)?;
        check_magic(&find_file(&extracted, RPI4_GPU_FIRMWARE)?, &ELF_MAGIC, "an ELF file")?;
        fs::create_dir_all(boot_dir).with_context(|| format!("creating {}", boot_dir.display()))?;
        for name in RPI4_FIRMWARE_FILES {
            install_file(&find_file(&extracted, name)?, &boot_dir.join(name))?;
        }
        Ok(())
    }
}

/// An apt configuration of its own under `<cache_dir>/.apt-download`: arm64 package lists of
/// the host's Debian release, from the archive the host already uses. It needs no root and
/// leaves the host's lists, cache and locks alone. Dropping it deletes the directory, package
/// lists and downloads included.
struct PrivateApt {
    root: PathBuf,
    options: Vec<String>,
}

impl PrivateApt {
    fn open(cache_dir: &Path) -> Result<Self> {
        let os = read_os_release()?;
        let codename = match &os {
            Some(os) if os.id == "debian" => os.version_codename.clone().ok_or_else(|| {
                anyhow!("/etc/os-release names no VERSION_CODENAME to look up packages for")
            })?,
            Some(os) => {
                bail!("downloading from Debian's archive needs a Debian host, and this is {}", os.pretty_name)
            }
            None => bail!("downloading from Debian's archive needs a Debian host"),
        };
        let archive = host_debian_archive(&codename)?;
        let root = cache_dir.join(PRIVATE_APT_DIR);
        // A run interrupted earlier may have left its state behind; start clean.
        if root.exists() {
            fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
        }
        let state = root.join("state");
        let cache = root.join("cache");
        let sources = root.join("sources.list.d");
        for dir in
            [state.join("lists").join("partial"), cache.join("archives").join("partial"), sources.clone()]
        {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let status = state.join("status");
        fs::write(&status, "").with_context(|| format!("creating {}", status.display()))?;
        let source_file = sources.join("debian.sources");
        fs::write(&source_file, render_source(&archive, &codename, &["main", "non-free-firmware"]))
            .with_context(|| format!("writing {}", source_file.display()))?;

        let path_option = |name: &str, path: &Path| format!("{name}={}", path.display());
        let options = vec![
            path_option("Dir::State", &state),
            // An empty dpkg status: nothing counts as installed, so the host's amd64 packages
            // play no part in resolving arm64 ones.
            path_option("Dir::State::status", &status),
            path_option("Dir::Cache", &cache),
            "Dir::Etc::SourceList=/dev/null".to_owned(),
            path_option("Dir::Etc::SourceParts", &sources),
            // The host's lock files belong to root; these private directories need none.
            "Debug::NoLocking=1".to_owned(),
            "APT::Architecture=arm64".to_owned(),
            "APT::Architectures=arm64".to_owned(),
            // Skip the translations and AppStream metadata the host may be set up to fetch.
            "Acquire::Languages=none".to_owned(),
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_owned(),
            // As root, apt would download as the `_apt` user, which may not reach a checkout
            // under a home directory; as another user apt cannot switch and ignores this.
            "APT::Sandbox::User=root".to_owned(),
        ]
        .into_iter()
        .flat_map(|option| ["-o".to_owned(), option])
        .collect();
        let apt = Self { root, options };

        step(format_args!("reading Debian {codename}'s arm64 package lists into {}", apt.root.display()));
        // `--error-on=any` turns an unreachable archive into a failure instead of a warning
        // followed by a puzzling "package not found".
        run_captured(
            apt.command("apt-get").args(["-q", "--error-on=any", "update"]),
            "apt-get update (private arm64 lists)",
        )?;
        Ok(apt)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.args(&self.options);
        command
    }

    /// The control record of `package`'s candidate version.
    fn show(&self, package: &str) -> Result<String> {
        run_captured(
            self.command("apt-cache").args(["show", "--no-all-versions", package]),
            &format!("apt-cache show {package}"),
        )
    }

    /// Downloads `package`, unpacks the files named in `names` from it, deletes the `.deb`
    /// and returns the directory they were unpacked into.
    fn download_and_extract(&self, package: &str, names: &[&str]) -> Result<PathBuf> {
        let size_bytes =
            control_field(&self.show(package)?, "Size").and_then(|size| size.parse::<u64>().ok());
        match size_bytes {
            Some(size) => step(format_args!(
                "downloading {package} ({:.1} MB) from the Debian archive",
                size as f64 / 1e6
            )),
            None => step(format_args!("downloading {package} from the Debian archive")),
        }
        let downloads = self.root.join("debs");
        fs::create_dir_all(&downloads).with_context(|| format!("creating {}", downloads.display()))?;
        run_captured(
            self.command("apt-get").args(["-q", "download", package]).current_dir(&downloads),
            &format!("could not download {package} from the Debian archive: apt-get download"),
        )?;
        let deb = find_deb(&downloads, package)?;

        let into = self.root.join("extract").join(package);
        fs::create_dir_all(&into).with_context(|| format!("creating {}", into.display()))?;
        step(format_args!("unpacking {} from {package}", names.join(", ")));
        let patterns: Vec<String> = names.iter().map(|name| format!("*/{name}")).collect();
        extract_from_deb(&deb, &into, &patterns)?;
        fs::remove_file(&deb).with_context(|| format!("removing {}", deb.display()))?;
        Ok(into)
    }
}

impl Drop for PrivateApt {
    fn drop(&mut self) {
        // Only a cache: if removal fails, the next run's `open` clears it again.
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The value of field `name` in a Debian control record (as `apt-cache show` prints).
fn control_field<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The versioned kernel package (`linux-image-<abi>-arm64`) that the `linux-image-arm64`
/// metapackage's record depends on.
fn kernel_image_package(metapackage_record: &str) -> Option<String> {
    control_field(metapackage_record, "Depends")?
        .split([',', '|'])
        .filter_map(|dependency| dependency.split_whitespace().next())
        .find(|name| name.starts_with("linux-image-") && *name != KERNEL_METAPACKAGE)
        .map(str::to_owned)
}

/// The `.deb` that `apt-get download` saved for `package` in `dir`.
fn find_deb(dir: &Path, package: &str) -> Result<PathBuf> {
    let prefix = format!("{package}_");
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry.with_context(|| format!("listing {}", dir.display()))?.path();
        let name = path.file_name().and_then(OsStr::to_str).unwrap_or_default();
        if name.starts_with(&prefix) && name.ends_with(".deb") {
            return Ok(path);
        }
    }
    bail!("apt-get download reported success but left no {package}_*.deb in {}", dir.display())
}

/// Unpacks the members of `deb` matching `patterns` into `into`, streaming the data archive
/// through `tar` so that nothing else of a large package touches the disk.
fn extract_from_deb(deb: &Path, into: &Path, patterns: &[String]) -> Result<()> {
    let mut dpkg_deb = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| spawn_error("dpkg-deb", error))?;
    let data = dpkg_deb.stdout.take().expect("stdout was piped");
    let tar = Command::new("tar")
        .args(["-x", "--wildcards", "-C"])
        .arg(into)
        .args(patterns)
        .stdin(data)
        .status()
        .map_err(|error| spawn_error("tar", error));
    let dpkg_status = dpkg_deb.wait().context("waiting for dpkg-deb")?;
    let tar_status = tar?;
    ensure!(dpkg_status.success(), "dpkg-deb --fsys-tarfile {} failed ({dpkg_status})", deb.display());
    ensure!(
        tar_status.success(),
        "tar found no member matching {} in {} ({tar_status})",
        patterns.join(" "),
        deb.display()
    );
    Ok(())
}

/// The first file called `name` below `dir`, wherever the package put it.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).with_context(|| format!("listing {}", current.display()))? {
            let path = entry.with_context(|| format!("listing {}", current.display()))?.path();
            if path.file_name() == Some(OsStr::new(name)) && path.is_file() {
                return Ok(path);
            }
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    bail!("no {name} below {}", dir.display())
}

/// Fails unless `path` starts with `magic`, so a truncated or wrong download is never cached.
fn check_magic(path: &Path, magic: &[u8], kind: &str) -> Result<()> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        bytes.starts_with(magic),
        "{} is not {kind} (it does not start with {magic:02x?})",
        path.display()
    );
    Ok(())
}

/// Copies `from` to `to` through a temporary name, so an interrupted copy never looks like a
/// cached file.
fn install_file(from: &Path, to: &Path) -> Result<()> {
    let mut partial = to.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    fs::copy(from, &partial)
        .with_context(|| format!("copying {} to {}", from.display(), partial.display()))?;
    fs::rename(&partial, to).with_context(|| format!("renaming {} to {}", partial.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM_OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"#;

    fn ubuntu(version_id: &str, codename: &str) -> OsRelease {
        parse_os_release(&format!(
            "PRETTY_NAME=\"Ubuntu {version_id}\"\nID=ubuntu\nID_LIKE=debian\n\
             VERSION_ID=\"{version_id}\"\nVERSION_CODENAME={codename}\n"
        ))
    }

    /// Shaped like Debian 12's default `debian.sources`, with placeholder hosts.
    const DEBIAN_SOURCES_SAMPLE: &str = "\
Types: deb
# a comment inside the stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    #[test]
    fn os_release_parsing_reads_id_version_and_codename() {
        let os = parse_os_release(BOOKWORM_OS_RELEASE);
        assert_eq!(
            os,
            OsRelease {
                id: "debian".into(),
                version_id: Some("12".into()),
                version_codename: Some("bookworm".into()),
                pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            }
        );
    }

    #[test]
    fn os_release_parsing_accepts_single_quotes_and_ignores_noise() {
        let os = parse_os_release("# comment\n\nID='fedora'\nVERSION_ID=41\n");
        assert_eq!(os.id, "fedora");
        assert_eq!(os.version_id.as_deref(), Some("41"));
        assert_eq!(os.pretty_name, "fedora");
    }

    #[test]
    fn debian_12_installs_qemu_from_backports() {
        let os = parse_os_release(BOOKWORM_OS_RELEASE);
        assert_eq!(
            qemu_install_plan(Some(&os)).unwrap(),
            QemuInstallPlan::DebianBackports { codename: "bookworm".into() }
        );
    }

    #[test]
    fn debian_13_and_testing_install_the_release_package() {
        let trixie = parse_os_release("ID=debian\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n");
        let testing = parse_os_release("ID=debian\nVERSION_CODENAME=forky\n");
        for os in [trixie, testing] {
            assert_eq!(qemu_install_plan(Some(&os)).unwrap(), QemuInstallPlan::DistributionPackage);
        }
    }

    #[test]
    fn debian_11_is_refused_with_upgrade_advice() {
        let os = parse_os_release("ID=debian\nVERSION_ID=\"11\"\nVERSION_CODENAME=bullseye\n");
        let message = qemu_install_plan(Some(&os)).unwrap_err().to_string();
        assert!(message.contains("Debian 12"), "{message}");
    }

    #[test]
    fn ubuntu_24_10_and_later_install_the_release_package() {
        for (version, codename) in [("24.10", "oracular"), ("25.04", "plucky")] {
            assert_eq!(
                qemu_install_plan(Some(&ubuntu(version, codename))).unwrap(),
                QemuInstallPlan::DistributionPackage
            );
        }
    }

    #[test]
    fn ubuntu_24_04_is_refused_as_too_old_with_what_to_do() {
        let message = qemu_install_plan(Some(&ubuntu("24.04", "noble"))).unwrap_err().to_string();
        assert!(message.contains("Ubuntu 24.04"), "{message}");
        assert!(message.contains("24.10"), "{message}");
    }

    #[test]
    fn other_systems_are_told_to_install_qemu_themselves() {
        let fedora = parse_os_release("ID=fedora\nPRETTY_NAME=\"Fedora Linux 41\"\n");
        for os in [Some(&fedora), None] {
            let message = qemu_install_plan(os).unwrap_err().to_string();
            assert!(message.contains(QEMU_BINARY), "{message}");
            assert!(message.contains("9.0.0"), "{message}");
        }
    }

    #[test]
    fn qemu_version_is_read_from_a_debian_backports_banner() {
        let banner = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n\
                      Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers\n";
        assert_eq!(parse_qemu_version(banner), Some(QemuVersion { major: 10, minor: 0, patch: 2 }));
    }

    #[test]
    fn qemu_version_without_patch_level_counts_as_zero() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 9.1"),
            Some(QemuVersion { major: 9, minor: 1, patch: 0 })
        );
        assert_eq!(parse_qemu_version("not qemu"), None);
    }

    #[test]
    fn qemu_older_than_9_0_is_too_old() {
        let too_old = parse_qemu_version("QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)").unwrap();
        let bookworm = parse_qemu_version("QEMU emulator version 7.2.15").unwrap();
        let first_good = parse_qemu_version("QEMU emulator version 9.0.0").unwrap();
        assert!(too_old < QEMU_MIN_VERSION);
        assert!(bookworm < QEMU_MIN_VERSION);
        assert!(first_good >= QEMU_MIN_VERSION);
    }

    #[test]
    fn deb822_archive_comes_from_the_first_stanza_listing_the_suite() {
        assert_eq!(
            archive_from_deb822(DEBIAN_SOURCES_SAMPLE, "bookworm"),
            Some(ArchiveSource {
                uris: "http://mirror.example/debian".into(),
                signed_by: Some("/usr/share/keyrings/debian-archive-keyring.gpg".into()),
            })
        );
        // `bookworm-security` must not match `bookworm`: suites are compared whole.
        assert_eq!(
            archive_from_deb822(DEBIAN_SOURCES_SAMPLE, "bookworm-security").unwrap().uris,
            "http://mirror.example/debian-security"
        );
        assert_eq!(archive_from_deb822(DEBIAN_SOURCES_SAMPLE, "trixie"), None);
    }

    #[test]
    fn deb822_skips_disabled_and_source_only_stanzas() {
        let text = "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\
                    Components: main\nEnabled: no\n\n\
                    Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\
                    Components: main\n\n\
                    Types: deb deb-src\nURIs: http://on.example/debian\nSuites: bookworm\n\
                    Components: main\n";
        let archive = archive_from_deb822(text, "bookworm").unwrap();
        assert_eq!(archive.uris, "http://on.example/debian");
        assert_eq!(archive.signed_by, None);
    }

    #[test]
    fn deb822_keeps_an_inline_signing_key_verbatim() {
        let text = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\
                    Components: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n \
                    mQINBGPL\n -----END PGP PUBLIC KEY BLOCK-----\n";
        let archive = archive_from_deb822(text, "bookworm").unwrap();
        let key = archive.signed_by.as_deref().unwrap();
        assert_eq!(
            key,
            "\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL\n -----END PGP PUBLIC KEY BLOCK-----"
        );
        let rendered = render_source(&archive, "bookworm-backports", &["main"]);
        assert!(rendered.ends_with(
            "Signed-By: \n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL\n \
             -----END PGP PUBLIC KEY BLOCK-----\n"
        ));
        assert_eq!(parse_deb822(&rendered).len(), 1);
    }

    #[test]
    fn one_line_sources_give_uri_and_signed_by() {
        let text = "# deb http://old.example/debian bookworm main\n\
                    deb-src http://src.example/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/etc/apt/keyrings/debian.gpg] \
                    http://mirror.example/debian bookworm main contrib\n\
                    deb http://mirror.example/debian bookworm-updates main\n";
        assert_eq!(
            archive_from_one_line(text, "bookworm"),
            Some(ArchiveSource {
                uris: "http://mirror.example/debian".into(),
                signed_by: Some("/etc/apt/keyrings/debian.gpg".into()),
            })
        );
        assert_eq!(
            archive_from_one_line("deb http://plain.example/debian bookworm main", "bookworm"),
            Some(ArchiveSource { uris: "http://plain.example/debian".into(), signed_by: None })
        );
    }

    #[test]
    fn backports_source_copies_the_archive_and_keyring() {
        let archive = archive_from_deb822(DEBIAN_SOURCES_SAMPLE, "bookworm").unwrap();
        assert_eq!(
            render_source(&archive, "bookworm-backports", &["main"]),
            "Types: deb\n\
             URIs: http://mirror.example/debian\n\
             Suites: bookworm-backports\n\
             Components: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
    }

    #[test]
    fn backports_are_detected_only_where_a_source_enables_them() {
        let deb822 = SourceFormat::of(Path::new("x/debian.sources")).unwrap();
        let one_line = SourceFormat::of(Path::new("x/sources.list")).unwrap();
        assert!(SourceFormat::of(Path::new("x/old.list.disabled")).is_none());

        assert!(!deb822.provides(DEBIAN_SOURCES_SAMPLE, "bookworm-backports"));
        let archive = archive_from_deb822(DEBIAN_SOURCES_SAMPLE, "bookworm").unwrap();
        let written = render_source(&archive, "bookworm-backports", &["main"]);
        assert!(deb822.provides(&written, "bookworm-backports"));
        assert!(!deb822.provides(&format!("{written}Enabled: no\n"), "bookworm-backports"));

        assert!(one_line
            .provides("deb http://mirror.example/debian bookworm-backports main\n", "bookworm-backports"));
        assert!(!one_line
            .provides("# deb http://mirror.example/debian bookworm-backports main\n", "bookworm-backports"));
    }

    #[test]
    fn built_ins_must_be_y_not_modules_or_unset() {
        let config = "CONFIG_ARM_GIC=y\nCONFIG_SERIAL_AMBA_PL011=m\n# CONFIG_DEVTMPFS is not set\n\
                      CONFIG_ARM_GIC_V3=y\n";
        let wanted = ["CONFIG_ARM_GIC", "CONFIG_SERIAL_AMBA_PL011", "CONFIG_DEVTMPFS", "CONFIG_ARM_GIC_V2"];
        assert_eq!(
            missing_built_ins(config, &wanted),
            ["CONFIG_SERIAL_AMBA_PL011", "CONFIG_DEVTMPFS", "CONFIG_ARM_GIC_V2"]
        );
    }

    #[test]
    fn kernel_package_is_the_versioned_image_the_metapackage_depends_on() {
        let record = "Package: linux-image-arm64\nSource: linux-signed-arm64 (6.1.176+1)\n\
                      Version: 6.1.176-1\nArchitecture: arm64\n\
                      Depends: linux-image-6.1.0-50-arm64 (= 6.1.176-1)\nSize: 1484\n";
        assert_eq!(kernel_image_package(record).as_deref(), Some("linux-image-6.1.0-50-arm64"));
        assert_eq!(control_field(record, "size"), Some("1484"));
        assert_eq!(kernel_image_package("Package: linux-image-arm64\n"), None);
    }
}
