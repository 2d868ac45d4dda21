//! The device tree: how Flotilla learns what machine it runs on.
//!
//! The loader (QEMU `-kernel`, U-Boot `booti`, the Raspberry Pi firmware) passes the physical
//! address of a flattened device tree blob in `x0`. This module turns that blob into a
//! [`BootInfo`]: memory, reservations, cores and how to start them, the interrupt controller,
//! the console UART, the timer's interrupts. Nothing else in Flotilla reads the tree.
//!
//! # Principles
//!
//! - **Validate first, then read.** [`parse`] runs the structural validator (`check.rs`)
//!   over the whole blob before reading a single property. A blob that passes has every token,
//!   name and value inside its block, balanced nesting and bounded depth. The reading code is
//!   written against that promise but does not trust it: all access is checked (`get`,
//!   checked arithmetic), so a validator bug becomes an error, never an out-of-bounds read or
//!   a panic. Boot code has no one to catch a panic.
//! - **No allocation, no copies.** `BootInfo` is a fixed-size value; its strings borrow from
//!   the blob. Walking a node's ancestors uses a fixed stack of [`MAX_DEPTH`] entries.
//! - **Addresses are CPU addresses.** A device's `reg` is an address on its parent bus.
//!   Before it goes into `BootInfo` it is translated through the `ranges` of every ancestor
//!   bus (Devicetree Specification v0.4, §2.3.8), so a Raspberry Pi 4 UART at bus address
//!   `0x7e20_1000` comes out at CPU address `0xfe20_1000`. A bus without `ranges` cannot be
//!   seen from the CPU and its devices are an error rather than a wild MMIO access.
//! - **One error, one line.** [`FdtError`] names what is wrong; its `Display` is the single
//!   line the kernel prints before stopping, written for the person at the serial console.
//! - **Unknown is not wrong.** A core with an enable method Flotilla does not know is
//!   recorded as [`EnableMethod::Unsupported`] and left to the kernel to report and skip; a
//!   tree without a usable UART gives `console: None`. Only what the kernel cannot boot
//!   without (memory, cores, an interrupt controller) is an error when missing.
//!
//! # What is read
//!
//! - `model`: the root `model`, else its first `compatible` string, else "unknown board".
//! - `memory`: the `reg` of every enabled node with `device_type = "memory"`, empty ranges
//!   dropped, sorted and merged. Ranges beyond `MAX_MEMORY_RANGES` are dropped: using less
//!   RAM than exists is safe. Reservations beyond `MAX_RESERVED_RANGES` are an error, since
//!   dropping one is not.
//! - `reserved`: the header's `/memreserve/` entries and the `reg` of enabled
//!   `/reserved-memory` children.
//! - `cpus`: the `/cpus` children with `device_type = "cpu"`, in tree order, with `reg` as
//!   MPIDR and `enable-method` as PSCI, spin-table (with `cpu-release-addr`), none, or
//!   unsupported.
//! - `psci`: the conduit (`method`) of the first `arm,psci*` node.
//! - `gic`: the first GICv3 (`arm,gic-v3`) or GICv2 node, with its register blocks.
//! - `console`: the PL011 named by `/chosen` `stdout-path` (a path or an `/aliases` name),
//!   else the first enabled PL011; its clock from `clock-frequency` or its first `clocks`
//!   phandle.
//! - `timer`: the non-secure physical and virtual timer PPIs of `arm,armv8-timer`.
//! - `bootargs`: `/chosen` `bootargs`.
//!
//! # What is not
//!
//! This is not a general device-tree library. It does not follow `interrupt-parent` (the
//! timer's interrupts are read as three-cell GIC specifiers, as on QEMU `virt` and the
//! Raspberry Pi 4), does not apply overlays, and resolves phandles only for a UART's clock.
//! Whatever the kernel needs from the tree goes into `BootInfo`; nothing walks the tree
//! after boot.
//!
//! The writer (`writer.rs`) and the built-in board trees (`boards.rs`) are host code, built
//! for tests and with the `std` feature: the build driver embeds each board's tree in its
//! image, for loaders that pass none.

mod check;

#[cfg(any(test, feature = "std"))]
pub mod boards;
#[cfg(any(test, feature = "std"))]
pub mod writer;

pub use check::{MAX_BLOB_SIZE, MAX_DEPTH};

use crate::addr::{PhysAddr, PhysRange};
use crate::bootinfo::{
    BootInfo, CpuInfo, EnableMethod, GicInfo, PsciConduit, TimerInfo, UartInfo, UartKind, MAX_CPUS,
    MAX_MEMORY_RANGES, MAX_REDIST_REGIONS, MAX_RESERVED_RANGES,
};
use arrayvec::ArrayVec;
use check::{be_u32, Token, Tree};
use core::{fmt, str};

/// Why a blob could not be turned into a [`BootInfo`].
///
/// `node` and `property` fields name the role of the node ("cpu", "interrupt controller")
/// and the property as the specification spells it, so the printed line says where to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdtError {
    /// The loader passed no tree: a null address or an empty slice.
    NoDeviceTree,
    /// The first word is not `0xd00dfeed`: whatever is there is not a device tree.
    BadMagic(u32),
    /// The blob's format version is older than 16, or newer and not backwards compatible.
    UnsupportedVersion { version: u32, last_compatible: u32 },
    /// Fewer bytes are available than the header (or `totalsize`) needs.
    Truncated { needed: usize, available: usize },
    /// `totalsize` exceeds [`MAX_BLOB_SIZE`].
    TooLarge { total_size: usize },
    /// A header field is inconsistent: a block outside the blob, misaligned, or overlapping
    /// the header.
    BadHeader { reason: &'static str },
    /// The reservation map or structure block is malformed at byte `offset` of the blob.
    BadStructure { offset: usize, reason: &'static str },
    /// A node the kernel needs is absent.
    MissingNode(&'static str),
    /// A node lacks a property it must have.
    MissingProperty { node: &'static str, property: &'static str },
    /// A property is present but unusable; `reason` completes "the property …".
    BadProperty { node: &'static str, property: &'static str, reason: &'static str },
    /// No memory node gave a non-empty range.
    NoMemory,
    /// `/cpus` has no child with `device_type = "cpu"`.
    NoCpus,
    /// More cores than [`MAX_CPUS`].
    TooManyCpus,
    /// More reserved ranges than [`MAX_RESERVED_RANGES`]; dropping one could hand firmware
    /// memory to the allocator, so this is an error rather than a truncation.
    TooManyReservedRanges,
    /// No GICv2 or GICv3 node.
    NoInterruptController,
    /// A device's bus address is not covered by the `ranges` of every bus above it.
    UntranslatableAddress { node: &'static str, address: u64 },
}

impl fmt::Display for FdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("device tree: ")?;
        match *self {
            FdtError::NoDeviceTree => f.write_str("none was passed (null address or empty blob)"),
            FdtError::BadMagic(found) => {
                write!(f, "bad magic {found:#010x} (expected {:#010x})", check::MAGIC)
            }
            FdtError::UnsupportedVersion { version, last_compatible } => write!(
                f,
                "version {version} (compatible back to {last_compatible}) is not supported; \
                 need 16 or 17"
            ),
            FdtError::Truncated { needed, available } => {
                write!(f, "truncated: {needed} bytes needed, only {available} present")
            }
            FdtError::TooLarge { total_size } => write!(
                f,
                "totalsize of {total_size} bytes exceeds the {} MiB limit",
                MAX_BLOB_SIZE / (1024 * 1024)
            ),
            FdtError::BadHeader { reason } => write!(f, "bad header: {reason}"),
            FdtError::BadStructure { offset, reason } => {
                write!(f, "malformed at byte {offset:#x}: {reason}")
            }
            FdtError::MissingNode(path) => write!(f, "no {path} node"),
            FdtError::MissingProperty { node, property } => {
                write!(f, "{node} node has no \"{property}\" property")
            }
            FdtError::BadProperty { node, property, reason } => {
                write!(f, "{node} node's \"{property}\" property {reason}")
            }
            FdtError::NoMemory => f.write_str("no memory (no enabled memory node with a size)"),
            FdtError::NoCpus => f.write_str("/cpus has no cpu node"),
            FdtError::TooManyCpus => write!(f, "more than {MAX_CPUS} cpus"),
            FdtError::TooManyReservedRanges => {
                write!(f, "more than {MAX_RESERVED_RANGES} reserved memory ranges")
            }
            FdtError::NoInterruptController => {
                f.write_str("no supported interrupt controller (GICv2 or GICv3)")
            }
            FdtError::UntranslatableAddress { node, address } => {
                write!(f, "{node} at bus address {address:#x} is outside its buses' ranges")
            }
        }
    }
}

/// `ATAG_CORE`, the tag that starts a 32-bit ARM boot tag list (Linux
/// `arch/arm/include/uapi/asm/setup.h`).
const ATAG_CORE: u32 = 0x5441_0001;

/// `ATAG_CMDLINE`: a tag holding the kernel command line as a NUL-terminated string.
const ATAG_CMDLINE: u32 = 0x5441_0009;
/// `ATAG_NONE`: the end of the list.
const ATAG_NONE: u32 = 0;

fn le_word(bytes: &[u8], at: usize) -> Option<u32> {
    let w = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// True if `bytes` start with an ATAG list rather than a device tree. Some loaders (QEMU's
/// `raspi4b` without `-dtb`) pass one in `x0`; it describes nothing else Flotilla can use,
/// so the kernel takes the board from its built-in tree rather than calling it corrupt.
pub fn is_atag_list(bytes: &[u8]) -> bool {
    matches!((le_word(bytes, 0), le_word(bytes, 4)), (Some(2 | 5), Some(ATAG_CORE)))
}

/// The kernel command line in an ATAG list, if it has one. Each tag is `{size in words,
/// tag, data}`; the walk stops at `ATAG_NONE`, at a size too small to move on, or at the
/// end of `bytes`.
pub fn atag_cmdline(bytes: &[u8]) -> Option<&str> {
    if !is_atag_list(bytes) {
        return None;
    }
    let mut at = 0usize;
    loop {
        let words = le_word(bytes, at)? as usize;
        let tag = le_word(bytes, at + 4)?;
        if tag == ATAG_NONE || words < 2 {
            return None;
        }
        if tag == ATAG_CMDLINE {
            let data = bytes.get(at + 8..at.checked_add(words.checked_mul(4)?)?)?;
            let text = &data[..data.iter().position(|&b| b == 0).unwrap_or(data.len())];
            return core::str::from_utf8(text).ok();
        }
        at = at.checked_add(words * 4)?;
    }
}

/// How many bytes of the blob a reader needs, from its header alone: up to the end of its
/// last block (free space that a loader left after them, counted in `totalsize`, is not
/// needed).
///
/// `header` needs only the first 40 bytes of the blob. The kernel calls this to learn how
/// many bytes to map or slice before calling [`parse`]; the size is at most
/// [`MAX_BLOB_SIZE`], the limit Linux imposes on arm64.
pub fn blob_size(header: &[u8]) -> Result<usize, FdtError> {
    Ok(check::read_header(header)?.content_end())
}

/// Validates `blob` and reads it into a [`BootInfo`] whose strings borrow from it.
///
/// `blob` must hold at least [`blob_size`] bytes; bytes beyond that are ignored. It needs no
/// particular alignment. This never panics, whatever the bytes.
pub fn parse(blob: &[u8]) -> Result<BootInfo<'_>, FdtError> {
    let tree = check::validate(blob)?;
    let chosen = tree.find_path("/chosen")?.map(|chosen| chosen.node);
    Ok(BootInfo {
        model: read_model(&tree)?,
        memory: read_memory(&tree)?,
        reserved: read_reserved(&tree)?,
        cpus: read_cpus(&tree)?,
        psci: read_psci(&tree)?,
        gic: read_gic(&tree)?,
        console: read_console(&tree, chosen)?,
        timer: read_timer(&tree)?,
        bootargs: match chosen {
            Some(chosen) => tree.text(chosen, "bootargs", "/chosen")?.unwrap_or(""),
            None => "",
        },
    })
}

// ---------------------------------------------------------------------------------------
// Nodes: finding them in the structure block.
// ---------------------------------------------------------------------------------------

/// A node: its name and the offset of its first property (just after its name).
#[derive(Clone, Copy, Debug)]
struct Node<'a> {
    name: &'a str,
    body: usize,
}

/// The nodes from the root down to some node, the root first.
type Path<'a> = ArrayVec<Node<'a>, MAX_DEPTH>;

/// A node together with its ancestors, whose `#address-cells`, `#size-cells` and `ranges`
/// give meaning to the node's `reg`.
struct Located<'a> {
    node: Node<'a>,
    /// Root first; empty when `node` is the root.
    ancestors: Path<'a>,
}

impl<'a> Located<'a> {
    fn parent(&self) -> Option<Node<'a>> {
        self.ancestors.last().copied()
    }
}

impl<'a> Tree<'a> {
    /// The root node: the first `FDT_BEGIN_NODE`.
    fn root(&self) -> Result<Node<'a>, FdtError> {
        let mut offset = 0;
        loop {
            match self.token(offset)? {
                (Token::BeginNode { name }, body) => return Ok(Node { name, body }),
                (Token::Nop, next) => offset = next,
                _ => return Err(self.malformed(offset, "the structure does not start with a node")),
            }
        }
    }

    /// The value of `node`'s property `name`, if it has one.
    fn property(&self, node: Node<'a>, name: &str) -> Result<Option<&'a [u8]>, FdtError> {
        let mut offset = node.body;
        loop {
            match self.token(offset)? {
                (Token::Property { name: found, value }, _) if found == name => return Ok(Some(value)),
                (Token::Property { .. } | Token::Nop, next) => offset = next,
                // Properties precede subnodes (the validator checks it), so the first
                // subnode or the node's end closes the search.
                _ => return Ok(None),
            }
        }
    }

    /// The direct children of `node`, in tree order.
    fn children(&self, node: Node<'a>) -> Children<'_, 'a> {
        Children { tree: self, offset: Some(node.body) }
    }

    /// The offset just past the `FDT_END_NODE` that closes the node whose body starts at
    /// `body`.
    fn skip_node(&self, body: usize) -> Result<usize, FdtError> {
        let mut offset = body;
        let mut depth = 1usize;
        loop {
            let (token, next) = self.token(offset)?;
            match token {
                Token::BeginNode { .. } => depth += 1,
                Token::EndNode => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(next);
                    }
                }
                Token::Property { .. } | Token::Nop => {}
                Token::End => return Err(self.malformed(offset, "FDT_END inside a node")),
            }
            offset = next;
        }
    }

    /// Every node in document order, each with its ancestors.
    fn walk(&self) -> Walk<'_, 'a> {
        Walk { tree: self, offset: 0, path: Path::new(), finished: false }
    }

    /// The node at `path` ("/cpus", "/soc/serial@7e201000"). A path component without a
    /// unit address also matches a node name with one, as libfdt (and so U-Boot) allows.
    fn find_path(&self, path: &str) -> Result<Option<Located<'a>>, FdtError> {
        let mut ancestors = Path::new();
        let mut node = self.root()?;
        for component in path.split('/').filter(|component| !component.is_empty()) {
            let Some(child) = self.child(node, component)? else { return Ok(None) };
            if ancestors.try_push(node).is_err() {
                return Ok(None);
            }
            node = child;
        }
        Ok(Some(Located { node, ancestors }))
    }

    /// The child of `node` named `component`.
    fn child(&self, node: Node<'a>, component: &str) -> Result<Option<Node<'a>>, FdtError> {
        for child in self.children(node) {
            let child = child?;
            let base_name = child.name.split('@').next().unwrap_or_default();
            if child.name == component || (!component.contains('@') && base_name == component) {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }

    /// The first node, in document order, for which `wanted` says yes.
    fn find_first(
        &self,
        mut wanted: impl FnMut(Node<'a>) -> Result<bool, FdtError>,
    ) -> Result<Option<Located<'a>>, FdtError> {
        let mut walk = self.walk();
        while let Some(path) = walk.next()? {
            let Some((&node, ancestors)) = path.split_last() else { continue };
            if wanted(node)? {
                let ancestors = Path::try_from(ancestors)
                    .map_err(|_| self.malformed(node.body, "nodes are nested too deep"))?;
                return Ok(Some(Located { node, ancestors }));
            }
        }
        Ok(None)
    }
}

/// Iterator over a node's children; see [`Tree::children`]. Stops after an error.
struct Children<'t, 'a> {
    tree: &'t Tree<'a>,
    /// Where the next token to look at starts; `None` once finished.
    offset: Option<usize>,
}

impl<'a> Iterator for Children<'_, 'a> {
    type Item = Result<Node<'a>, FdtError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let offset = self.offset.take()?;
            match self.tree.token(offset) {
                Ok((Token::Property { .. } | Token::Nop, next)) => self.offset = Some(next),
                Ok((Token::BeginNode { name }, body)) => {
                    return Some(self.tree.skip_node(body).map(|after| {
                        self.offset = Some(after);
                        Node { name, body }
                    }))
                }
                Ok((Token::EndNode | Token::End, _)) => return None,
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// A depth-first walk that keeps the path from the root; see [`Tree::walk`].
struct Walk<'t, 'a> {
    tree: &'t Tree<'a>,
    offset: usize,
    path: Path<'a>,
    finished: bool,
}

impl<'a> Walk<'_, 'a> {
    /// The next node, as the path from the root to it (itself last).
    fn next(&mut self) -> Result<Option<&[Node<'a>]>, FdtError> {
        while !self.finished {
            let at = self.offset;
            let (token, next) = self.tree.token(at)?;
            self.offset = next;
            match token {
                Token::BeginNode { name } => {
                    self.path
                        .try_push(Node { name, body: next })
                        .map_err(|_| self.tree.malformed(at, "nodes are nested too deep"))?;
                    return Ok(Some(self.path.as_slice()));
                }
                Token::EndNode => {
                    if self.path.pop().is_none() {
                        return Err(self.tree.malformed(at, "unbalanced FDT_END_NODE"));
                    }
                }
                Token::Property { .. } | Token::Nop => {}
                Token::End => self.finished = true,
            }
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------
// Properties: what their bytes mean.
// ---------------------------------------------------------------------------------------

/// How many 32-bit cells an address and a size take on a bus (its `#address-cells` and
/// `#size-cells`).
#[derive(Clone, Copy, Debug)]
struct Cells {
    address: usize,
    size: usize,
}

impl Cells {
    /// What a node without `#address-cells` / `#size-cells` gives its children
    /// (Devicetree Specification v0.4, §2.3.5).
    const SPEC_DEFAULT: Cells = Cells { address: 2, size: 1 };
}

impl<'a> Tree<'a> {
    /// A text property: its first string, which must be UTF-8.
    fn text(
        &self,
        node: Node<'a>,
        property: &'static str,
        role: &'static str,
    ) -> Result<Option<&'a str>, FdtError> {
        self.property(node, property)?
            .map(|value| {
                str::from_utf8(first_string(value)).map_err(|_| FdtError::BadProperty {
                    node: role,
                    property,
                    reason: "is not UTF-8 text",
                })
            })
            .transpose()
    }

    /// A number property of one or two cells (`clock-frequency`, `cpu-release-addr`).
    fn number(
        &self,
        node: Node<'a>,
        property: &'static str,
        role: &'static str,
    ) -> Result<Option<u64>, FdtError> {
        match self.property(node, property)? {
            None => Ok(None),
            // One or two cells always fit in 64 bits.
            Some(value) if value.len() == 4 || value.len() == 8 => Ok(number_from_cells(value)),
            Some(_) => Err(FdtError::BadProperty {
                node: role,
                property,
                reason: "is not a one- or two-cell number",
            }),
        }
    }

    /// A `clock-frequency` in hertz.
    fn frequency(&self, node: Node<'a>, role: &'static str) -> Result<Option<u32>, FdtError> {
        self.number(node, "clock-frequency", role)?
            .map(|hz| {
                u32::try_from(hz).map_err(|_| FdtError::BadProperty {
                    node: role,
                    property: "clock-frequency",
                    reason: "does not fit in 32 bits",
                })
            })
            .transpose()
    }

    /// The `#address-cells` and `#size-cells` that `node` sets for its children.
    fn cells(&self, node: Node<'a>, role: &'static str) -> Result<Cells, FdtError> {
        let read = |property, default| match self.property(node, property)? {
            None => Ok(default),
            Some(value) if value.len() == 4 => Ok(be_u32(value, 0).unwrap_or_default() as usize),
            Some(_) => Err(FdtError::BadProperty { node: role, property, reason: "is not a single cell" }),
        };
        Ok(Cells {
            address: read("#address-cells", Cells::SPEC_DEFAULT.address)?,
            size: read("#size-cells", Cells::SPEC_DEFAULT.size)?,
        })
    }

    /// Whether `node`'s `compatible` list contains any of `wanted`.
    fn is_compatible(&self, node: Node<'a>, wanted: &[&str]) -> Result<bool, FdtError> {
        Ok(self.property(node, "compatible")?.is_some_and(|list| contains_any(list, wanted)))
    }

    /// Whether `node`'s `device_type` is `wanted`.
    fn has_device_type(&self, node: Node<'a>, wanted: &str) -> Result<bool, FdtError> {
        Ok(self.property(node, "device_type")?.is_some_and(|value| first_string(value) == wanted.as_bytes()))
    }

    /// `node`'s `status`, if it has one.
    fn status(&self, node: Node<'a>) -> Result<Option<&'a [u8]>, FdtError> {
        Ok(self.property(node, "status")?.map(first_string))
    }

    /// Whether `node` is in use: no `status`, or "okay" (or the older "ok"), per §2.3.4.
    fn is_okay(&self, node: Node<'a>) -> Result<bool, FdtError> {
        Ok(matches!(self.status(node)?, None | Some(b"okay") | Some(b"ok")))
    }

    /// `node`'s `reg`, as (address, size) entries in the address space of `parent`.
    fn reg(
        &self,
        node: Node<'a>,
        parent: Option<Node<'a>>,
        role: &'static str,
    ) -> Result<Option<CellTable<'a>>, FdtError> {
        let Some(value) = self.property(node, "reg")? else { return Ok(None) };
        let cells = match parent {
            Some(parent) => self.cells(parent, "bus")?,
            None => Cells::SPEC_DEFAULT,
        };
        CellTable::new(value, [cells.address, cells.size, 0]).map(Some).ok_or(FdtError::BadProperty {
            node: role,
            property: "reg",
            reason: "is not a whole number of address/size entries",
        })
    }

    /// Register block `index` of a device, translated to a CPU physical range.
    fn device_region(
        &self,
        device: &Located<'a>,
        index: usize,
        role: &'static str,
    ) -> Result<PhysRange, FdtError> {
        let reg = self
            .reg(device.node, device.parent(), role)?
            .ok_or(FdtError::MissingProperty { node: role, property: "reg" })?;
        let [address, size, _] = reg.required(index, role, "reg")?;
        self.translate(&device.ancestors, address, size, role)
    }

    /// Translates the bus range `[address, address + size)`, seen on the bus of the last of
    /// `ancestors`, into a CPU physical range by applying each ancestor bus's `ranges`, from
    /// the nearest up to the root (whose address space is the CPU's).
    fn translate(
        &self,
        ancestors: &[Node<'a>],
        address: u64,
        size: u64,
        role: &'static str,
    ) -> Result<PhysRange, FdtError> {
        let untranslatable = FdtError::UntranslatableAddress { node: role, address };
        let mut translated = address;
        for pair in ancestors.windows(2).rev() {
            let &[above, bus] = pair else { continue };
            let Some(ranges) = self.property(bus, "ranges")? else {
                return Err(untranslatable);
            };
            // An empty `ranges` says the bus maps its children one to one.
            if ranges.is_empty() {
                continue;
            }
            let child = self.cells(bus, "bus")?;
            let parent = self.cells(above, "bus")?;
            let table = CellTable::new(ranges, [child.address, parent.address, child.size]).ok_or(
                FdtError::BadProperty {
                    node: "bus",
                    property: "ranges",
                    reason: "is not a whole number of entries",
                },
            )?;
            translated = (0..table.len())
                // An entry whose numbers exceed 64 bits (a PCI space code, say) cannot hold
                // a 64-bit address, so it is skipped rather than treated as an error.
                .filter_map(|index| table.get(index))
                .find_map(|[child_base, parent_base, length]| {
                    let offset = translated.checked_sub(child_base)?;
                    let fits = offset < length && size <= length - offset;
                    if fits {
                        parent_base.checked_add(offset)
                    } else {
                        None
                    }
                })
                .ok_or(untranslatable)?;
        }
        Ok(PhysRange::new(PhysAddr(translated), size))
    }
}

/// A property made of equal entries of up to three numbers, each `widths[i]` cells long:
/// `reg` is (address, size), `ranges` is (child address, parent address, size).
struct CellTable<'a> {
    value: &'a [u8],
    widths: [usize; 3],
    entry_bytes: usize,
}

impl<'a> CellTable<'a> {
    /// `None` if the entries are empty or `value` is not a whole number of them.
    fn new(value: &'a [u8], widths: [usize; 3]) -> Option<Self> {
        let cells = widths.iter().try_fold(0usize, |sum, &width| sum.checked_add(width))?;
        let entry_bytes = cells.checked_mul(4)?;
        if entry_bytes == 0 || !value.len().is_multiple_of(entry_bytes) {
            return None;
        }
        Some(CellTable { value, widths, entry_bytes })
    }

    fn len(&self) -> usize {
        self.value.len().checked_div(self.entry_bytes).unwrap_or_default()
    }

    /// Entry `index`; `None` past the end or if a number needs more than 64 bits.
    fn get(&self, index: usize) -> Option<[u64; 3]> {
        let mut offset = index.checked_mul(self.entry_bytes)?;
        let mut numbers = [0; 3];
        for (number, width) in numbers.iter_mut().zip(self.widths) {
            let end = offset.checked_add(width.checked_mul(4)?)?;
            *number = number_from_cells(self.value.get(offset..end)?)?;
            offset = end;
        }
        Some(numbers)
    }

    /// Entry `index`, which the device needs.
    fn required(
        &self,
        index: usize,
        role: &'static str,
        property: &'static str,
    ) -> Result<[u64; 3], FdtError> {
        if index >= self.len() {
            return Err(FdtError::BadProperty {
                node: role,
                property,
                reason: "has fewer entries than the device needs",
            });
        }
        self.get(index).ok_or(FdtError::BadProperty {
            node: role,
            property,
            reason: "holds a number wider than 64 bits",
        })
    }
}

/// The big-endian number in `cells` (a whole number of 32-bit cells), if it fits in 64 bits.
fn number_from_cells(cells: &[u8]) -> Option<u64> {
    cells.chunks_exact(4).try_fold(0u64, |number, cell| {
        if number >> 32 != 0 {
            return None;
        }
        Some((number << 32) | u64::from(be_u32(cell, 0)?))
    })
}

/// The first string of a string or string-list value: the bytes before the first NUL (all
/// of them if a careless writer left the NUL out).
fn first_string(value: &[u8]) -> &[u8] {
    value.split(|&byte| byte == 0).next().unwrap_or_default()
}

/// Whether the string list `list` contains any of `wanted`.
fn contains_any(list: &[u8], wanted: &[&str]) -> bool {
    list.split(|&byte| byte == 0).any(|entry| wanted.iter().any(|name| name.as_bytes() == entry))
}

// ---------------------------------------------------------------------------------------
// BootInfo, field by field.
// ---------------------------------------------------------------------------------------

fn read_model<'a>(tree: &Tree<'a>) -> Result<&'a str, FdtError> {
    let root = tree.root()?;
    for property in ["model", "compatible"] {
        if let Some(model) = tree.text(root, property, "root")? {
            return Ok(model);
        }
    }
    Ok("unknown board")
}

fn read_memory(tree: &Tree<'_>) -> Result<ArrayVec<PhysRange, MAX_MEMORY_RANGES>, FdtError> {
    let mut memory = ArrayVec::new();
    let mut walk = tree.walk();
    while let Some(path) = walk.next()? {
        let Some((&node, ancestors)) = path.split_last() else { continue };
        if !tree.has_device_type(node, "memory")? || !tree.is_okay(node)? {
            continue;
        }
        // Memory nodes sit under the root, whose addresses are CPU addresses; a memory node
        // without `reg` describes nothing (Linux skips it too).
        let Some(reg) = tree.reg(node, ancestors.last().copied(), "memory")? else { continue };
        for index in 0..reg.len() {
            let [base, size, _] = reg.required(index, "memory", "reg")?;
            if size != 0 {
                add_memory(&mut memory, PhysRange::new(PhysAddr(base), size));
            }
        }
    }
    if memory.is_empty() {
        return Err(FdtError::NoMemory);
    }
    Ok(memory)
}

/// Adds `range` to the sorted list, merging it with every range it overlaps or touches.
fn add_memory(memory: &mut ArrayVec<PhysRange, MAX_MEMORY_RANGES>, range: PhysRange) {
    let mut merged = range;
    memory.retain(|existing| {
        let touches = existing.base <= merged.end() && merged.base <= existing.end();
        if touches {
            let base = existing.base.min(merged.base);
            let end = existing.end().max(merged.end());
            merged = PhysRange::new(base, end.as_u64() - base.as_u64());
        }
        !touches
    });
    let position = memory.iter().position(|existing| existing.base > merged.base);
    // With the list full the range is dropped: using less RAM than exists is safe.
    let _ = memory.try_insert(position.unwrap_or(memory.len()), merged);
}

fn read_reserved(tree: &Tree<'_>) -> Result<ArrayVec<PhysRange, MAX_RESERVED_RANGES>, FdtError> {
    let mut reserved = ArrayVec::new();
    let mut keep = |base: u64, size: u64| {
        if size == 0 {
            return Ok(());
        }
        reserved.try_push(PhysRange::new(PhysAddr(base), size)).map_err(|_| FdtError::TooManyReservedRanges)
    };
    for (base, size) in tree.reservations() {
        keep(base, size)?;
    }
    // `/reserved-memory` children are CPU addresses in the node's own cells (its `ranges`
    // is empty by the binding); children without `reg` are pools for the OS to place, and
    // Flotilla has no use for them.
    if let Some(parent) = tree.find_path("/reserved-memory")? {
        for child in tree.children(parent.node) {
            let child = child?;
            if !tree.is_okay(child)? {
                continue;
            }
            let Some(reg) = tree.reg(child, Some(parent.node), "/reserved-memory child")? else {
                continue;
            };
            for index in 0..reg.len() {
                let [base, size, _] = reg.required(index, "/reserved-memory child", "reg")?;
                keep(base, size)?;
            }
        }
    }
    Ok(reserved)
}

fn read_cpus(tree: &Tree<'_>) -> Result<ArrayVec<CpuInfo, MAX_CPUS>, FdtError> {
    let cpus = tree.find_path("/cpus")?.ok_or(FdtError::MissingNode("/cpus"))?.node;
    // A cpu's `reg` is its MPIDR affinity: one cell, or two when Aff3 is used (the arm
    // cpus binding, Documentation/devicetree/bindings/arm/cpus.yaml).
    let address_cells = tree.cells(cpus, "/cpus")?.address;
    if !(1..=2).contains(&address_cells) {
        return Err(FdtError::BadProperty {
            node: "/cpus",
            property: "#address-cells",
            reason: "is neither 1 nor 2",
        });
    }
    let mut list = ArrayVec::new();
    for child in tree.children(cpus) {
        let child = child?;
        if tree.has_device_type(child, "cpu")? {
            let cpu = read_cpu(tree, child, address_cells)?;
            list.try_push(cpu).map_err(|_| FdtError::TooManyCpus)?;
        }
    }
    if list.is_empty() {
        return Err(FdtError::NoCpus);
    }
    Ok(list)
}

fn read_cpu<'a>(tree: &Tree<'a>, cpu: Node<'a>, address_cells: usize) -> Result<CpuInfo, FdtError> {
    let reg = tree.property(cpu, "reg")?.ok_or(FdtError::MissingProperty { node: "cpu", property: "reg" })?;
    let mpidr = reg.get(..address_cells * 4).and_then(number_from_cells).ok_or(FdtError::BadProperty {
        node: "cpu",
        property: "reg",
        reason: "is shorter than /cpus #address-cells",
    })?;
    let enable_method = match tree.property(cpu, "enable-method")?.map(first_string) {
        None => EnableMethod::None,
        Some(b"psci") => EnableMethod::Psci,
        Some(b"spin-table") => {
            let release_addr = tree
                .number(cpu, "cpu-release-addr", "spin-table cpu")?
                .ok_or(FdtError::MissingProperty { node: "spin-table cpu", property: "cpu-release-addr" })?;
            EnableMethod::SpinTable { release_addr: PhysAddr(release_addr) }
        }
        Some(_) => EnableMethod::Unsupported,
    };
    Ok(CpuInfo { mpidr, enable_method })
}

/// The PSCI bindings: 0.1 ("arm,psci"), 0.2 and 1.0 (Linux, arm/psci.yaml).
const PSCI_COMPATIBLE: &[&str] = &["arm,psci", "arm,psci-0.2", "arm,psci-1.0"];

fn read_psci(tree: &Tree<'_>) -> Result<Option<PsciConduit>, FdtError> {
    let Some(psci) = tree.find_first(|node| tree.is_compatible(node, PSCI_COMPATIBLE))? else {
        return Ok(None);
    };
    match tree.property(psci.node, "method")?.map(first_string) {
        Some(b"hvc") => Ok(Some(PsciConduit::Hvc)),
        Some(b"smc") => Ok(Some(PsciConduit::Smc)),
        Some(_) => Err(FdtError::BadProperty {
            node: "psci",
            property: "method",
            reason: "is neither \"hvc\" nor \"smc\"",
        }),
        None => Err(FdtError::MissingProperty { node: "psci", property: "method" }),
    }
}

/// GICv3 (Linux, interrupt-controller/arm,gic-v3.yaml).
const GIC_V3_COMPATIBLE: &[&str] = &["arm,gic-v3"];
/// The GICv2-compatible controllers Flotilla drives (Linux, interrupt-controller/arm,gic.yaml).
const GIC_V2_COMPATIBLE: &[&str] =
    &["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic", "arm,cortex-a7-gic"];
const GIC: &str = "interrupt controller";

fn read_gic(tree: &Tree<'_>) -> Result<GicInfo, FdtError> {
    let gic = tree
        .find_first(|node| {
            Ok(tree.is_compatible(node, GIC_V3_COMPATIBLE)? || tree.is_compatible(node, GIC_V2_COMPATIBLE)?)
        })?
        .ok_or(FdtError::NoInterruptController)?;
    if !tree.is_compatible(gic.node, GIC_V3_COMPATIBLE)? {
        return Ok(GicInfo::V2 {
            distributor: tree.device_region(&gic, 0, GIC)?,
            cpu_interface: tree.device_region(&gic, 1, GIC)?,
        });
    }
    // `reg` is the distributor, then one block per redistributor region, then optional
    // CPU-interface blocks Flotilla does not use.
    let regions = tree.number(gic.node, "#redistributor-regions", GIC)?.unwrap_or(1);
    let regions = usize::try_from(regions)
        .ok()
        .filter(|regions| (1..=MAX_REDIST_REGIONS).contains(regions))
        .ok_or(FdtError::BadProperty {
            node: GIC,
            property: "#redistributor-regions",
            reason: "is 0 or above MAX_REDIST_REGIONS",
        })?;
    let mut redistributors = ArrayVec::new();
    for index in 1..=regions {
        // Capacity was checked above, so the push cannot fail.
        let _ = redistributors.try_push(tree.device_region(&gic, index, GIC)?);
    }
    Ok(GicInfo::V3 { distributor: tree.device_region(&gic, 0, GIC)?, redistributors })
}

/// The Arm PrimeCell UART (Linux, serial/arm,pl011.yaml).
const PL011_COMPATIBLE: &[&str] = &["arm,pl011"];
const CONSOLE: &str = "console uart";

fn read_console<'a>(tree: &Tree<'a>, chosen: Option<Node<'a>>) -> Result<Option<UartInfo>, FdtError> {
    if let Some(uart) = stdout(tree, chosen)? {
        let usable =
            tree.is_compatible(uart.node, PL011_COMPATIBLE)? && tree.status(uart.node)? != Some(b"disabled");
        if usable {
            return read_uart(tree, &uart).map(Some);
        }
    }
    let first_pl011 =
        tree.find_first(|node| Ok(tree.is_compatible(node, PL011_COMPATIBLE)? && tree.is_okay(node)?))?;
    first_pl011.map(|uart| read_uart(tree, &uart)).transpose()
}

/// The node `/chosen` `stdout-path` names: a path, or an `/aliases` name, either possibly
/// followed by ":" and options such as "115200n8" (Devicetree Specification v0.4, §3.6).
fn stdout<'a>(tree: &Tree<'a>, chosen: Option<Node<'a>>) -> Result<Option<Located<'a>>, FdtError> {
    let Some(chosen) = chosen else { return Ok(None) };
    let Some(stdout_path) = tree.text(chosen, "stdout-path", "/chosen")? else {
        return Ok(None);
    };
    let name = stdout_path.split(':').next().unwrap_or_default();
    if name.starts_with('/') {
        return tree.find_path(name);
    }
    let Some(aliases) = tree.find_path("/aliases")? else { return Ok(None) };
    let Some(alias) = tree.property(aliases.node, name)? else { return Ok(None) };
    // Node names are UTF-8 (the validator checks), so a path that is not names no node.
    let Ok(path) = str::from_utf8(first_string(alias)) else { return Ok(None) };
    tree.find_path(path)
}

fn read_uart<'a>(tree: &Tree<'a>, uart: &Located<'a>) -> Result<UartInfo, FdtError> {
    Ok(UartInfo {
        kind: UartKind::Pl011,
        regs: tree.device_region(uart, 0, CONSOLE)?,
        clock_hz: uart_clock(tree, uart.node)?,
        intid: shared_intid(tree.property(uart.node, "interrupts")?.unwrap_or_default()),
    })
}

/// Specifier type of a shared peripheral interrupt, and the INTID of SPI 0.
const GIC_SPI: u32 = 0;
const SPI_FIRST_INTID: u32 = 32;

/// The INTID of the first specifier in `interrupts` if it is a three-cell GIC shared
/// peripheral interrupt; `None` otherwise (another controller, or nothing usable).
fn shared_intid(interrupts: &[u8]) -> Option<u32> {
    let cell =
        |i: usize| interrupts.get(i * 4..i * 4 + 4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    if !interrupts.len().is_multiple_of(GIC_SPECIFIER_BYTES) || cell(0)? != GIC_SPI {
        return None;
    }
    let intid = SPI_FIRST_INTID.checked_add(cell(1)?)?;
    (intid < 1020).then_some(intid)
}

/// The UART's reference clock: its own `clock-frequency`, or that of the clock its first
/// `clocks` phandle points at (the PL011 binding lists the UART clock first).
fn uart_clock<'a>(tree: &Tree<'a>, uart: Node<'a>) -> Result<Option<u32>, FdtError> {
    if let Some(hz) = tree.frequency(uart, CONSOLE)? {
        return Ok(Some(hz));
    }
    let Some(phandle) = tree.property(uart, "clocks")?.and_then(|clocks| clocks.get(..4)) else {
        return Ok(None);
    };
    // "linux,phandle" is the older spelling, still written by some firmware.
    let clock = tree.find_first(|node| {
        Ok(tree.property(node, "phandle")? == Some(phandle)
            || tree.property(node, "linux,phandle")? == Some(phandle))
    })?;
    match clock {
        Some(clock) => tree.frequency(clock.node, "clock"),
        None => Ok(None),
    }
}

/// The architected timer bindings (Linux, timer/arm,arch_timer.yaml).
const TIMER_COMPATIBLE: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];
/// Positions in the timer's `interrupts`: secure physical, non-secure physical, virtual,
/// hypervisor physical (arm,arch_timer.yaml).
const NON_SECURE_PHYSICAL_TIMER: usize = 1;
const VIRTUAL_TIMER: usize = 2;
/// A GIC interrupt specifier is (type, number, flags) (interrupt-controller/arm,gic.yaml).
const GIC_SPECIFIER_BYTES: usize = 12;
/// Specifier type of a private peripheral interrupt (dt-bindings/interrupt-controller/arm-gic.h).
const GIC_PPI: u32 = 1;
/// PPIs 0..15 are INTIDs 16..31 (GIC architecture specification, IHI 0069, §2.2 "INTIDs").
const PPI_FIRST_INTID: u32 = 16;
const PPI_COUNT: u32 = 16;

fn read_timer(tree: &Tree<'_>) -> Result<TimerInfo, FdtError> {
    let mut timer = TimerInfo::default();
    let Some(node) = tree.find_first(|node| tree.is_compatible(node, TIMER_COMPATIBLE))? else {
        return Ok(timer);
    };
    let interrupts = tree.property(node.node, "interrupts")?.unwrap_or_default();
    if let Some(intid) = timer_intid(interrupts, NON_SECURE_PHYSICAL_TIMER)? {
        timer.physical_intid = intid;
    }
    if let Some(intid) = timer_intid(interrupts, VIRTUAL_TIMER)? {
        timer.virtual_intid = intid;
    }
    timer.frequency_hz = tree.frequency(node.node, "timer")?;
    Ok(timer)
}

/// The INTID of timer `index` in `interrupts`; `None` if the list is too short to have it.
fn timer_intid(interrupts: &[u8], index: usize) -> Result<Option<u32>, FdtError> {
    let start = index * GIC_SPECIFIER_BYTES;
    let Some(specifier) = interrupts.get(start..start + GIC_SPECIFIER_BYTES) else {
        return Ok(None);
    };
    match (be_u32(specifier, 0), be_u32(specifier, 4)) {
        (Some(GIC_PPI), Some(number)) if number < PPI_COUNT => Ok(Some(PPI_FIRST_INTID + number)),
        _ => Err(FdtError::BadProperty {
            node: "timer",
            property: "interrupts",
            reason: "names an interrupt that is not a PPI",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::writer::FdtWriter;
    use super::*;
    use proptest::prelude::*;

    // Trees QEMU 10.0 builds for its `virt` machine, dumped with
    // `qemu-system-aarch64 -M virt,<options>,dumpdtb=<file> -cpu cortex-a72 -m 1G -smp <n>`
    // and packed (totalsize cut to the end of the strings block, as `fdt_pack` does).
    /// `gic-version=3`, `-smp 8`.
    const VIRT_GICV3_SMP8: &[u8] = include_bytes!("../../tests/data/virt-gicv3-smp8.dtb");
    /// `gic-version=2`, `-smp 4`.
    const VIRT_GICV2_SMP4: &[u8] = include_bytes!("../../tests/data/virt-gicv2-smp4.dtb");
    /// `gic-version=3,virtualization=on`, `-smp 4`: the kernel enters at EL2 and PSCI is SMC.
    const VIRT_GICV3_EL2: &[u8] = include_bytes!("../../tests/data/virt-gicv3-el2.dtb");
    /// `gic-version=3`, `-smp 48`: three clusters of 16.
    const VIRT_GICV3_SMP48: &[u8] = include_bytes!("../../tests/data/virt-gicv3-smp48.dtb");

    /// A tree with the root's cells set to 2/2 and the given nodes inside the root.
    fn tree(nodes: &[&dyn Fn(&mut FdtWriter)]) -> Vec<u8> {
        let mut w = FdtWriter::new();
        w.begin_node("");
        w.property_str("model", "test board");
        w.property_u32s("#address-cells", &[2]).property_u32s("#size-cells", &[2]);
        for node in nodes {
            node(&mut w);
        }
        w.end_node();
        w.finish()
    }

    fn memory(w: &mut FdtWriter) {
        memory_at(w, "memory@40000000", 0x4000_0000, 0x4000_0000);
    }

    fn memory_at(w: &mut FdtWriter, name: &str, base: u64, size: u64) {
        w.begin_node(name).property_str("device_type", "memory");
        w.property_u32s("reg", &cells2(&[base, size]));
        w.end_node();
    }

    /// A `/cpus` with one core per `(mpidr, extra properties)` entry.
    fn cpus_with(w: &mut FdtWriter, cores: &[&dyn Fn(&mut FdtWriter)]) {
        w.begin_node("cpus").property_u32s("#address-cells", &[1]);
        w.property_u32s("#size-cells", &[0]);
        for (index, core) in cores.iter().enumerate() {
            w.begin_node(&format!("cpu@{index}")).property_str("device_type", "cpu");
            w.property_u32s("reg", &[index as u32]);
            core(w);
            w.end_node();
        }
        w.end_node();
    }

    fn one_psci_cpu(w: &mut FdtWriter) {
        cpus_with(
            w,
            &[&|w| {
                w.property_str("enable-method", "psci");
            }],
        );
    }

    fn gic_v2(w: &mut FdtWriter) {
        w.begin_node("intc@8000000").property_str("compatible", "arm,cortex-a15-gic");
        w.property_u32s("reg", &cells2(&[0x0800_0000, 0x1_0000, 0x0801_0000, 0x1_0000]));
        w.end_node();
    }

    fn pl011_at(w: &mut FdtWriter, name: &str, base: u64) {
        w.begin_node(name).property_strs("compatible", &["arm,pl011", "arm,primecell"]);
        w.property_u32s("reg", &cells2(&[base, 0x1000]));
        w.end_node();
    }

    /// Splits 64-bit numbers into pairs of cells, as in a tree with 2/2 cells.
    fn cells2(numbers: &[u64]) -> Vec<u32> {
        numbers.iter().flat_map(|&n| [(n >> 32) as u32, n as u32]).collect()
    }

    fn bootable(extra: &dyn Fn(&mut FdtWriter)) -> Vec<u8> {
        tree(&[&memory, &one_psci_cpu, &gic_v2, extra])
    }

    fn range(base: u64, size_bytes: u64) -> PhysRange {
        PhysRange::new(PhysAddr(base), size_bytes)
    }

    // --- real QEMU trees ---------------------------------------------------------------

    #[test]
    fn qemu_virt_gicv3_tree_gives_eight_psci_cores_and_a_gicv3() {
        let info = parse(VIRT_GICV3_SMP8).unwrap();
        assert_eq!(info.model, "linux,dummy-virt");
        assert_eq!(info.memory.as_slice(), [range(0x4000_0000, 1 << 30)]);
        assert!(info.reserved.is_empty());
        let mpidrs: Vec<u64> = info.cpus.iter().map(|cpu| cpu.mpidr).collect();
        assert_eq!(mpidrs, (0..8).collect::<Vec<_>>());
        assert!(info.cpus.iter().all(|cpu| cpu.enable_method == EnableMethod::Psci));
        assert_eq!(info.psci, Some(PsciConduit::Hvc));
        let GicInfo::V3 { distributor, redistributors } = info.gic else {
            panic!("expected GICv3, got {:?}", info.gic)
        };
        assert_eq!(distributor, range(0x0800_0000, 0x1_0000));
        assert_eq!(redistributors.as_slice(), [range(0x080a_0000, 0xf6_0000)]);
        assert_eq!(info.timer, TimerInfo { physical_intid: 30, virtual_intid: 27, frequency_hz: None });
        assert_eq!(info.bootargs, "");
    }

    #[test]
    fn only_a_gic_shared_interrupt_gives_the_console_an_interrupt_id() {
        let cells = |c: &[u32]| c.iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        assert_eq!(shared_intid(&cells(&[0, 121, 4])), Some(153));
        assert_eq!(shared_intid(&cells(&[1, 13, 4])), None, "a PPI");
        assert_eq!(shared_intid(&cells(&[0, 121])), None, "not three cells");
        assert_eq!(shared_intid(&cells(&[0, 2000, 4])), None, "beyond the GIC's range");
        assert_eq!(shared_intid(&[]), None);
    }

    #[test]
    fn qemu_virt_console_is_the_pl011_with_the_clock_its_phandle_names() {
        let info = parse(VIRT_GICV3_SMP8).unwrap();
        assert_eq!(
            info.console,
            Some(UartInfo {
                kind: UartKind::Pl011,
                regs: range(0x0900_0000, 0x1000),
                clock_hz: Some(24_000_000),
                intid: Some(33),
            })
        );
    }

    #[test]
    fn qemu_virt_gicv2_tree_gives_distributor_and_cpu_interface() {
        let info = parse(VIRT_GICV2_SMP4).unwrap();
        assert_eq!(info.cpus.len(), 4);
        assert_eq!(
            info.gic,
            GicInfo::V2 {
                distributor: range(0x0800_0000, 0x1_0000),
                cpu_interface: range(0x0801_0000, 0x1_0000),
            }
        );
        assert_eq!(info.psci, Some(PsciConduit::Hvc));
        assert_eq!(info.console.map(|uart| uart.regs.base), Some(PhysAddr(0x0900_0000)));
    }

    #[test]
    fn qemu_virt_with_virtualization_calls_psci_through_smc() {
        let info = parse(VIRT_GICV3_EL2).unwrap();
        assert_eq!(info.psci, Some(PsciConduit::Smc));
        assert_eq!(info.cpus.len(), 4);
        assert!(matches!(info.gic, GicInfo::V3 { .. }));
        assert_eq!(info.console.map(|uart| uart.regs.base), Some(PhysAddr(0x0900_0000)));
    }

    #[test]
    fn qemu_virt_gicv3_groups_cores_in_clusters_of_sixteen_by_aff1() {
        let info = parse(VIRT_GICV3_SMP48).unwrap();
        assert_eq!(info.cpus.len(), 48);
        for (index, cpu) in info.cpus.iter().enumerate() {
            let index = index as u64;
            assert_eq!(cpu.mpidr, ((index / 16) << 8) | (index % 16), "core {index}");
        }
        assert_eq!(info.cpus[16].mpidr, 0x100);
        assert_eq!(info.cpus[47].mpidr, 0x20f);
    }

    // --- memory ------------------------------------------------------------------------

    #[test]
    fn memory_ranges_are_sorted_and_touching_or_overlapping_ones_merged() {
        let blob = tree(&[
            &|w| memory_at(w, "memory@80000000", 0x8000_0000, 0x1000_0000),
            &|w| memory_at(w, "memory@40000000", 0x4000_0000, 0x1000_0000),
            &|w| memory_at(w, "memory@50000000", 0x5000_0000, 0x1000),
            &|w| memory_at(w, "memory@88000000", 0x8800_0000, 0x1000_0000),
            &|w| memory_at(w, "memory@0", 0, 0x1000),
            &one_psci_cpu,
            &gic_v2,
        ]);
        let info = parse(&blob).unwrap();
        assert_eq!(
            info.memory.as_slice(),
            [range(0, 0x1000), range(0x4000_0000, 0x1000_1000), range(0x8000_0000, 0x1800_0000),]
        );
    }

    #[test]
    fn memory_reg_with_several_entries_gives_several_ranges() {
        let blob = tree(&[
            &|w| {
                w.begin_node("memory").property_str("device_type", "memory");
                w.property_u32s("reg", &cells2(&[0x4000_0000, 0x1000, 0x9000_0000, 0x2000]));
                w.end_node();
            },
            &one_psci_cpu,
            &gic_v2,
        ]);
        let info = parse(&blob).unwrap();
        assert_eq!(info.memory.as_slice(), [range(0x4000_0000, 0x1000), range(0x9000_0000, 0x2000)]);
    }

    #[test]
    fn root_without_cell_counts_uses_two_address_cells_and_one_size_cell() {
        let mut w = FdtWriter::new();
        w.begin_node("");
        w.begin_node("memory@0").property_str("device_type", "memory");
        w.property_u32s("reg", &[0x1, 0x0, 0x8000_0000]);
        w.end_node();
        one_psci_cpu(&mut w);
        w.begin_node("intc").property_str("compatible", "arm,gic-400");
        w.property_u32s("reg", &[0, 0x1000, 0x1000, 0, 0x2000, 0x2000]);
        w.end_node();
        w.end_node();
        let blob = w.finish();
        let info = parse(&blob).unwrap();
        assert_eq!(info.memory.as_slice(), [range(0x1_0000_0000, 0x8000_0000)]);
    }

    #[test]
    fn missing_memory_node_is_no_memory() {
        let blob = tree(&[&one_psci_cpu, &gic_v2]);
        assert_eq!(parse(&blob).err(), Some(FdtError::NoMemory));
    }

    #[test]
    fn memory_of_size_zero_only_is_no_memory() {
        let blob = tree(&[&|w| memory_at(w, "memory@0", 0x4000_0000, 0), &one_psci_cpu, &gic_v2]);
        assert_eq!(parse(&blob).err(), Some(FdtError::NoMemory));
    }

    #[test]
    fn disabled_memory_node_is_ignored() {
        let blob = bootable(&|w| {
            w.begin_node("memory@100000000").property_str("device_type", "memory");
            w.property_u32s("reg", &cells2(&[0x1_0000_0000, 0x1000]));
            w.property_str("status", "disabled");
            w.end_node();
        });
        assert_eq!(parse(&blob).unwrap().memory.as_slice(), [range(0x4000_0000, 0x4000_0000)]);
    }

    #[test]
    fn memory_ranges_beyond_capacity_are_dropped_not_fatal() {
        let blob = tree(&[
            &|w| {
                for index in 0..MAX_MEMORY_RANGES as u64 + 4 {
                    memory_at(w, &format!("memory@{index}"), index * 0x10_0000, 0x1000);
                }
            },
            &one_psci_cpu,
            &gic_v2,
        ]);
        assert_eq!(parse(&blob).unwrap().memory.len(), MAX_MEMORY_RANGES);
    }

    // --- reservations ------------------------------------------------------------------

    #[test]
    fn memreserve_entries_and_reserved_memory_children_are_reserved() {
        let mut w = FdtWriter::new();
        w.reserve_memory(0, 0x1000);
        w.begin_node("").property_u32s("#address-cells", &[2]);
        w.property_u32s("#size-cells", &[2]);
        memory(&mut w);
        one_psci_cpu(&mut w);
        gic_v2(&mut w);
        w.begin_node("reserved-memory").property_u32s("#address-cells", &[1]);
        w.property_u32s("#size-cells", &[1]).property_bytes("ranges", &[]);
        w.begin_node("firmware@7000000").property_u32s("reg", &[0x0700_0000, 0x10_0000]);
        w.end_node();
        w.begin_node("pool").property_u32s("size", &[0x40_0000]);
        w.end_node();
        w.begin_node("unused@8000000").property_u32s("reg", &[0x0800_0000, 0x1000]);
        w.property_str("status", "disabled");
        w.end_node();
        w.end_node();
        w.end_node();
        let blob = w.finish();
        let info = parse(&blob).unwrap();
        assert_eq!(info.reserved.as_slice(), [range(0, 0x1000), range(0x0700_0000, 0x10_0000)]);
    }

    #[test]
    fn more_reservations_than_capacity_is_an_error() {
        let mut w = FdtWriter::new();
        for index in 0..=MAX_RESERVED_RANGES as u64 {
            w.reserve_memory(index * 0x1000, 0x1000);
        }
        w.begin_node("");
        w.property_u32s("#address-cells", &[2]).property_u32s("#size-cells", &[2]);
        memory(&mut w);
        one_psci_cpu(&mut w);
        gic_v2(&mut w);
        w.end_node();
        assert_eq!(parse(&w.finish()).err(), Some(FdtError::TooManyReservedRanges));
    }

    // --- cpus --------------------------------------------------------------------------

    #[test]
    fn missing_cpus_node_is_reported() {
        let blob = tree(&[&memory, &gic_v2]);
        assert_eq!(parse(&blob).err(), Some(FdtError::MissingNode("/cpus")));
    }

    #[test]
    fn cpus_node_without_a_cpu_child_is_no_cpus() {
        let blob = tree(&[&memory, &gic_v2, &|w| {
            w.begin_node("cpus").property_u32s("#address-cells", &[1]);
            w.begin_node("cpu-map").end_node();
            w.end_node();
        }]);
        assert_eq!(parse(&blob).err(), Some(FdtError::NoCpus));
    }

    #[test]
    fn enable_methods_are_read_per_core_and_unknown_ones_marked_unsupported() {
        let blob = tree(&[&memory, &gic_v2, &|w| {
            cpus_with(
                w,
                &[
                    &|_| {},
                    &|w| {
                        w.property_str("enable-method", "psci");
                    },
                    &|w| {
                        w.property_str("enable-method", "spin-table");
                        w.property_u64("cpu-release-addr", 0xd8);
                    },
                    &|w| {
                        w.property_str("enable-method", "brcm,bcm2836-smp");
                    },
                ],
            )
        }]);
        let methods: Vec<_> = parse(&blob).unwrap().cpus.iter().map(|cpu| cpu.enable_method).collect();
        assert_eq!(
            methods,
            [
                EnableMethod::None,
                EnableMethod::Psci,
                EnableMethod::SpinTable { release_addr: PhysAddr(0xd8) },
                EnableMethod::Unsupported,
            ]
        );
    }

    #[test]
    fn spin_table_core_without_release_address_is_reported() {
        let blob = tree(&[&memory, &gic_v2, &|w| {
            cpus_with(
                w,
                &[&|w| {
                    w.property_str("enable-method", "spin-table");
                }],
            )
        }]);
        assert_eq!(
            parse(&blob).err(),
            Some(FdtError::MissingProperty { node: "spin-table cpu", property: "cpu-release-addr" })
        );
    }

    #[test]
    fn two_cell_cpu_reg_carries_aff3() {
        let blob = tree(&[&memory, &gic_v2, &|w| {
            w.begin_node("cpus").property_u32s("#address-cells", &[2]);
            w.property_u32s("#size-cells", &[0]);
            w.begin_node("cpu@100000101").property_str("device_type", "cpu");
            w.property_u32s("reg", &[0x1, 0x101]);
            w.end_node();
            w.end_node();
        }]);
        assert_eq!(parse(&blob).unwrap().cpus[0].mpidr, 0x1_0000_0101);
    }

    #[test]
    fn more_cpus_than_capacity_is_an_error() {
        let blob = tree(&[&memory, &gic_v2, &|w| {
            w.begin_node("cpus").property_u32s("#address-cells", &[1]);
            for index in 0..=MAX_CPUS as u32 {
                w.begin_node(&format!("cpu@{index:x}")).property_str("device_type", "cpu");
                w.property_u32s("reg", &[index]);
                w.end_node();
            }
            w.end_node();
        }]);
        assert_eq!(parse(&blob).err(), Some(FdtError::TooManyCpus));
    }

    #[test]
    fn cpu_without_reg_is_reported() {
        let blob = tree(&[&memory, &gic_v2, &|w| {
            w.begin_node("cpus").property_u32s("#address-cells", &[1]);
            w.begin_node("cpu").property_str("device_type", "cpu").end_node();
            w.end_node();
        }]);
        assert_eq!(parse(&blob).err(), Some(FdtError::MissingProperty { node: "cpu", property: "reg" }));
    }

    // --- psci --------------------------------------------------------------------------

    #[test]
    fn psci_method_other_than_hvc_or_smc_is_reported() {
        let blob = bootable(&|w| {
            w.begin_node("psci").property_str("compatible", "arm,psci-0.2");
            w.property_str("method", "svc");
            w.end_node();
        });
        assert!(matches!(
            parse(&blob).err(),
            Some(FdtError::BadProperty { node: "psci", property: "method", .. })
        ));
    }

    #[test]
    fn tree_without_psci_node_has_no_conduit() {
        assert_eq!(parse(&bootable(&|_| {})).unwrap().psci, None);
    }

    // --- gic and address translation ---------------------------------------------------

    #[test]
    fn tree_without_a_gic_is_reported() {
        let blob = tree(&[&memory, &one_psci_cpu]);
        assert_eq!(parse(&blob).err(), Some(FdtError::NoInterruptController));
    }

    #[test]
    fn gicv3_redistributor_regions_follow_the_property() {
        let blob = tree(&[&memory, &one_psci_cpu, &|w| {
            w.begin_node("intc@8000000").property_str("compatible", "arm,gic-v3");
            w.property_u32s("#redistributor-regions", &[2]);
            w.property_u32s(
                "reg",
                &cells2(&[0x0800_0000, 0x1_0000, 0x080a_0000, 0xf6_0000, 0x4000_0000, 0x10_0000]),
            );
            w.end_node();
        }]);
        let GicInfo::V3 { redistributors, .. } = parse(&blob).unwrap().gic else { panic!("expected GICv3") };
        assert_eq!(redistributors.as_slice(), [range(0x080a_0000, 0xf6_0000), range(0x4000_0000, 0x10_0000)]);
    }

    #[test]
    fn gic_with_fewer_register_blocks_than_needed_is_reported() {
        let blob = tree(&[&memory, &one_psci_cpu, &|w| {
            w.begin_node("intc").property_str("compatible", "arm,gic-400");
            w.property_u32s("reg", &cells2(&[0x0800_0000, 0x1000]));
            w.end_node();
        }]);
        assert_eq!(
            parse(&blob).err(),
            Some(FdtError::BadProperty {
                node: GIC,
                property: "reg",
                reason: "has fewer entries than the device needs",
            })
        );
    }

    /// A bus at `/bus` (1 address cell, 1 size cell) holding a GIC-400, with `ranges` as
    /// given (or none).
    fn gic_on_bus(ranges: Option<&'static [u32]>) -> Vec<u8> {
        tree(&[&memory, &one_psci_cpu, &move |w| {
            w.begin_node("bus").property_str("compatible", "simple-bus");
            w.property_u32s("#address-cells", &[1]).property_u32s("#size-cells", &[1]);
            if let Some(ranges) = ranges {
                w.property_u32s("ranges", ranges);
            }
            w.begin_node("intc@40041000").property_str("compatible", "arm,gic-400");
            w.property_u32s("reg", &[0x4004_1000, 0x1000, 0x4004_2000, 0x2000]);
            w.end_node();
            w.end_node();
        }])
    }

    #[test]
    fn device_on_a_bus_is_translated_through_its_ranges() {
        let blob = gic_on_bus(Some(&[0x4000_0000, 0x0, 0xff80_0000, 0x0080_0000]));
        assert_eq!(
            parse(&blob).unwrap().gic,
            GicInfo::V2 {
                distributor: range(0xff84_1000, 0x1000),
                cpu_interface: range(0xff84_2000, 0x2000),
            }
        );
    }

    #[test]
    fn empty_ranges_maps_bus_addresses_one_to_one() {
        let blob = gic_on_bus(Some(&[]));
        let GicInfo::V2 { distributor, .. } = parse(&blob).unwrap().gic else { panic!() };
        assert_eq!(distributor, range(0x4004_1000, 0x1000));
    }

    #[test]
    fn device_on_a_bus_without_ranges_is_untranslatable() {
        assert_eq!(
            parse(&gic_on_bus(None)).err(),
            Some(FdtError::UntranslatableAddress { node: GIC, address: 0x4004_1000 })
        );
    }

    #[test]
    fn device_outside_every_bus_window_is_untranslatable() {
        let blob = gic_on_bus(Some(&[0x7e00_0000, 0x0, 0xfe00_0000, 0x0180_0000]));
        assert_eq!(
            parse(&blob).err(),
            Some(FdtError::UntranslatableAddress { node: GIC, address: 0x4004_1000 })
        );
    }

    #[test]
    fn device_straddling_the_end_of_a_window_is_untranslatable() {
        let blob = gic_on_bus(Some(&[0x4000_0000, 0x0, 0xff80_0000, 0x0004_1800]));
        assert_eq!(
            parse(&blob).err(),
            Some(FdtError::UntranslatableAddress { node: GIC, address: 0x4004_1000 })
        );
    }

    #[test]
    fn nested_buses_compose_their_translations() {
        // /outer maps its 0x1000_0000.. to CPU 0x2_0000_0000..; /outer/inner maps its 0x0..
        // to outer's 0x1000_0000 + 0x50_0000.
        let blob = tree(&[&memory, &one_psci_cpu, &|w| {
            w.begin_node("outer").property_u32s("#address-cells", &[1]);
            w.property_u32s("#size-cells", &[1]);
            w.property_u32s("ranges", &[0x1000_0000, 0x2, 0x0, 0x1000_0000]);
            w.begin_node("inner").property_u32s("#address-cells", &[1]);
            w.property_u32s("#size-cells", &[1]);
            w.property_u32s("ranges", &[0x0, 0x1050_0000, 0x10_0000]);
            w.begin_node("intc@1000").property_str("compatible", "arm,gic-400");
            w.property_u32s("reg", &[0x1000, 0x1000, 0x2000, 0x2000]);
            w.end_node();
            w.end_node();
            w.end_node();
        }]);
        assert_eq!(
            parse(&blob).unwrap().gic,
            GicInfo::V2 {
                distributor: range(0x2_0050_1000, 0x1000),
                cpu_interface: range(0x2_0050_2000, 0x2000),
            }
        );
    }

    // --- console -----------------------------------------------------------------------

    #[test]
    fn stdout_path_alias_names_the_console() {
        let blob = bootable(&|w| {
            pl011_at(w, "pl011@9000000", 0x0900_0000);
            pl011_at(w, "pl011@9001000", 0x0900_1000);
            w.begin_node("aliases").property_str("serial1", "/pl011@9001000").end_node();
            w.begin_node("chosen").property_str("stdout-path", "serial1:115200n8").end_node();
        });
        let console = parse(&blob).unwrap().console.unwrap();
        assert_eq!(console.regs, range(0x0900_1000, 0x1000));
        assert_eq!(console.clock_hz, None);
    }

    #[test]
    fn stdout_path_not_naming_a_pl011_falls_back_to_the_first_enabled_pl011() {
        let blob = bootable(&|w| {
            w.begin_node("serial@1000").property_str("compatible", "ns16550a").end_node();
            pl011_at(w, "pl011@9000000", 0x0900_0000);
            w.begin_node("chosen").property_str("stdout-path", "/serial@1000").end_node();
        });
        let console = parse(&blob).unwrap().console.unwrap();
        assert_eq!(console.regs.base, PhysAddr(0x0900_0000));
    }

    #[test]
    fn disabled_pl011_is_not_chosen_as_console() {
        let blob = bootable(&|w| {
            w.begin_node("pl011@9000000").property_str("compatible", "arm,pl011");
            w.property_u32s("reg", &cells2(&[0x0900_0000, 0x1000]));
            w.property_str("status", "disabled").end_node();
            pl011_at(w, "pl011@9001000", 0x0900_1000);
            w.begin_node("chosen").property_str("stdout-path", "/pl011@9000000").end_node();
        });
        let console = parse(&blob).unwrap().console.unwrap();
        assert_eq!(console.regs.base, PhysAddr(0x0900_1000));
    }

    #[test]
    fn tree_without_a_pl011_has_no_console() {
        assert_eq!(parse(&bootable(&|_| {})).unwrap().console, None);
    }

    #[test]
    fn console_clock_frequency_on_the_node_is_used() {
        let blob = bootable(&|w| {
            w.begin_node("pl011@9000000").property_str("compatible", "arm,pl011");
            w.property_u32s("reg", &cells2(&[0x0900_0000, 0x1000]));
            w.property_u32s("clock-frequency", &[48_000_000]).end_node();
        });
        assert_eq!(parse(&blob).unwrap().console.unwrap().clock_hz, Some(48_000_000));
    }

    // --- model, timer, bootargs --------------------------------------------------------

    #[test]
    fn model_falls_back_to_first_compatible_then_to_unknown_board() {
        let with_compatible = |compatible: Option<&'static [&'static str]>| {
            let mut w = FdtWriter::new();
            w.begin_node("");
            if let Some(compatible) = compatible {
                w.property_strs("compatible", compatible);
            }
            w.property_u32s("#address-cells", &[2]).property_u32s("#size-cells", &[2]);
            memory(&mut w);
            one_psci_cpu(&mut w);
            gic_v2(&mut w);
            w.end_node();
            w.finish()
        };
        let blob = with_compatible(Some(&["acme,board", "acme,soc"]));
        assert_eq!(parse(&blob).unwrap().model, "acme,board");
        let blob = with_compatible(None);
        assert_eq!(parse(&blob).unwrap().model, "unknown board");
    }

    #[test]
    fn timer_with_short_interrupts_keeps_the_architected_defaults() {
        let blob = bootable(&|w| {
            w.begin_node("timer").property_str("compatible", "arm,armv8-timer");
            w.property_u32s("interrupts", &[1, 13, 0xf08, 1, 14, 0xf08]);
            w.property_u32s("clock-frequency", &[54_000_000]).end_node();
        });
        let timer = parse(&blob).unwrap().timer;
        assert_eq!(
            timer,
            TimerInfo { physical_intid: 30, virtual_intid: 27, frequency_hz: Some(54_000_000) }
        );
    }

    #[test]
    fn timer_interrupts_are_read_as_ppis() {
        let blob = bootable(&|w| {
            w.begin_node("timer").property_str("compatible", "arm,armv7-timer");
            w.property_u32s("interrupts", &[1, 13, 8, 1, 4, 8, 1, 5, 8, 1, 10, 8]).end_node();
        });
        let timer = parse(&blob).unwrap().timer;
        assert_eq!((timer.physical_intid, timer.virtual_intid), (20, 21));
    }

    #[test]
    fn timer_interrupt_that_is_not_a_ppi_is_reported() {
        let blob = bootable(&|w| {
            w.begin_node("timer").property_str("compatible", "arm,armv8-timer");
            w.property_u32s("interrupts", &[1, 13, 8, 0, 14, 8, 1, 11, 8]).end_node();
        });
        assert!(matches!(
            parse(&blob).err(),
            Some(FdtError::BadProperty { node: "timer", property: "interrupts", .. })
        ));
    }

    #[test]
    fn bootargs_come_from_chosen() {
        let blob = bootable(&|w| {
            w.begin_node("chosen").property_str("bootargs", "cores=4 verbose").end_node();
        });
        assert_eq!(parse(&blob).unwrap().bootargs, "cores=4 verbose");
    }

    // --- blob_size and error text ------------------------------------------------------

    #[test]
    fn blob_size_reads_the_end_of_the_blocks_from_the_header_alone() {
        let needed = blob_size(&VIRT_GICV3_SMP8[..40]).unwrap();
        assert!(needed <= VIRT_GICV3_SMP8.len() && needed + 8 > VIRT_GICV3_SMP8.len());
        assert!(parse(&VIRT_GICV3_SMP8[..needed]).is_ok());
    }

    #[test]
    fn blob_size_rejects_a_header_that_is_not_a_device_tree() {
        assert_eq!(blob_size(&[0; 40]), Err(FdtError::BadMagic(0)));
        assert_eq!(blob_size(&[]), Err(FdtError::NoDeviceTree));
        assert_eq!(blob_size(&VIRT_GICV3_SMP8[..20]), Err(FdtError::Truncated { needed: 40, available: 20 }));
    }

    #[test]
    fn blob_size_rejects_blocks_reaching_beyond_two_mebibytes() {
        let mut header = VIRT_GICV3_SMP8[..40].to_vec();
        header[4..8].copy_from_slice(&(4u32 << 20).to_be_bytes());
        let strings_offset = u32::from_be_bytes(header[12..16].try_into().unwrap()) as usize;
        let strings_size = (MAX_BLOB_SIZE - strings_offset + 1) as u32;
        header[32..36].copy_from_slice(&strings_size.to_be_bytes());
        assert_eq!(blob_size(&header), Err(FdtError::TooLarge { total_size: MAX_BLOB_SIZE + 1 }));
        header[32..36].copy_from_slice(&(strings_size - 1).to_be_bytes());
        assert_eq!(blob_size(&header), Ok(MAX_BLOB_SIZE));
    }

    #[test]
    fn totalsize_above_two_mebibytes_with_free_space_is_accepted() {
        // QEMU's -dtb loader grows totalsize past 2 MiB with free space at the end.
        let mut blob = VIRT_GICV3_SMP8.to_vec();
        blob[4..8].copy_from_slice(&(3u32 << 20).to_be_bytes());
        assert!(parse(&blob).is_ok());
    }

    #[test]
    fn unpacked_qemu_tree_with_free_space_parses() {
        // QEMU passes its tree with totalsize 1 MiB, most of it free space.
        let mut blob = VIRT_GICV3_SMP8.to_vec();
        blob.resize(1 << 20, 0);
        blob[4..8].copy_from_slice(&(1u32 << 20).to_be_bytes());
        assert_eq!(parse(&blob).unwrap().cpus.len(), 8);
    }

    #[test]
    fn error_messages_are_single_lines_naming_the_device_tree() {
        let errors = [
            FdtError::NoDeviceTree,
            FdtError::BadMagic(0x1234_5678),
            FdtError::UnsupportedVersion { version: 15, last_compatible: 15 },
            FdtError::Truncated { needed: 8192, available: 4096 },
            FdtError::TooLarge { total_size: 3 << 20 },
            FdtError::BadHeader { reason: "strings block overlaps the header" },
            FdtError::BadStructure { offset: 0x1a4, reason: "unknown token" },
            FdtError::MissingNode("/cpus"),
            FdtError::MissingProperty { node: "psci", property: "method" },
            FdtError::BadProperty { node: "psci", property: "method", reason: "is odd" },
            FdtError::NoMemory,
            FdtError::NoCpus,
            FdtError::TooManyCpus,
            FdtError::TooManyReservedRanges,
            FdtError::NoInterruptController,
            FdtError::UntranslatableAddress { node: GIC, address: 0x4004_1000 },
        ];
        for error in errors {
            let line = error.to_string();
            assert!(line.starts_with("device tree: "), "{line}");
            assert!(!line.contains('\n') && line.len() < 100, "{line}");
        }
        assert_eq!(
            FdtError::BadMagic(0x1234_5678).to_string(),
            "device tree: bad magic 0x12345678 (expected 0xd00dfeed)"
        );
        assert_eq!(
            FdtError::TooLarge { total_size: 3 << 20 }.to_string(),
            "device tree: totalsize of 3145728 bytes exceeds the 2 MiB limit"
        );
    }

    // --- hostile input -----------------------------------------------------------------

    #[test]
    fn every_single_byte_corruption_of_a_board_tree_is_handled() {
        let blob = boards::rpi4_fallback();
        let mut corrupted = blob.clone();
        for position in 0..blob.len() {
            for value in [0x00, 0x01, 0x7f, 0xff, blob[position] ^ 0x04] {
                corrupted[position] = value;
                let _ = parse(&corrupted);
            }
            corrupted[position] = blob[position];
        }
    }

    #[test]
    fn every_prefix_of_a_qemu_tree_short_of_its_blocks_is_rejected_as_truncated() {
        let needed = blob_size(VIRT_GICV2_SMP4).unwrap();
        for length in 1..needed {
            assert!(
                matches!(parse(&VIRT_GICV2_SMP4[..length]), Err(FdtError::Truncated { .. })),
                "prefix of {length} bytes"
            );
        }
        for length in needed..=VIRT_GICV2_SMP4.len() {
            assert!(parse(&VIRT_GICV2_SMP4[..length]).is_ok(), "prefix of {length} bytes");
        }
    }

    /// Word values that hit lengths, offsets and cell counts more often than random bytes do.
    fn suspicious_word() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0u32), Just(u32::MAX), 0..64u32, any::<u32>()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn corrupted_or_truncated_blob_never_panics(
            which in 0..2usize,
            bytes in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            words in proptest::collection::vec((any::<usize>(), suspicious_word()), 0..4),
            cut in any::<usize>(),
        ) {
            let mut blob = match which {
                0 => VIRT_GICV3_SMP8.to_vec(),
                _ => boards::rpi4_fallback(),
            };
            let length = blob.len();
            for (position, value) in bytes {
                blob[position % length] = value;
            }
            for (position, value) in words {
                let at = (position % (length / 4)) * 4;
                blob[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
            // Cut in one case out of four; otherwise keep the whole blob.
            if cut % 4 == 0 {
                blob.truncate(cut / 4 % (length + 1));
            }
            let _ = parse(&blob);
        }
    }

    #[test]
    fn the_command_line_is_read_from_an_atag_list() {
        let mut atags = [5u32, ATAG_CORE, 0, 0x1000, 0, 4, ATAG_CMDLINE].map(u32::to_le_bytes).concat();
        atags.extend_from_slice(b"a=1 b\0\0\0");
        atags.extend_from_slice(&[0u8; 8]);
        assert_eq!(atag_cmdline(&atags), Some("a=1 b"));
        assert_eq!(atag_cmdline(&atags[..30]), None, "cut inside the tag");
        let no_cmdline = [5u32, ATAG_CORE, 0, 0x1000, 0, 0, 0].map(u32::to_le_bytes).concat();
        assert_eq!(atag_cmdline(&no_cmdline), None);
        let stuck = [5u32, ATAG_CORE, 0, 0x1000, 0, 1, 7].map(u32::to_le_bytes).concat();
        assert_eq!(atag_cmdline(&stuck), None, "a tag too short to step over");
    }

    #[test]
    fn an_atag_list_is_recognised_and_a_device_tree_is_not() {
        let atags = [5u32, ATAG_CORE, 0, 0x1000, 0].map(u32::to_le_bytes).concat();
        assert!(is_atag_list(&atags));
        assert!(!is_atag_list(&boards::virt_fallback()));
        assert!(!is_atag_list(&atags[..6]));
    }
}
