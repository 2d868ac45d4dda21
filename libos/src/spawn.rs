//! Starting another program: a child domain built from capabilities, by the parent.
//!
//! The CPU driver builds only each core's first domain. Every other program is started
//! by a program, from a boot module, with nothing but the capability operations any
//! program has. [`spawn`] does it in these steps:
//!
//! 1. **Find and check the program.** The boot module archive is one read-only frame
//!    (`abi::cap::slot::MODULE_ARCHIVE`); it is mapped once and kept mapped. The module is
//!    looked up by name (`abi::modules`, [`boot_module`]) and checked by the same ELF
//!    checker the kernel uses (`abi::elf`), so a bad file is refused before anything is
//!    made. [`spawn_elf`] starts here too, with the file's bytes from wherever the caller
//!    has them (a boot module, a buffer on the heap): from this step on, one code path
//!    serves both.
//! 2. **Take one piece of RAM for everything.** [`child_bytes`] works out how much the
//!    child's objects need, plus the RAM the child gets for its own use; it comes as one
//!    RAM capability, and every object of the child is retyped from it. Revoking it later
//!    ([`Child::reclaim`]) destroys all of them at once, whatever the child made since.
//! 3. **Build the CSpace.** A root CNode of 64 slots with, as a core's first domain has,
//!    the task CNode in L1 slot 0, a page CNode (its image's frames and tables) in slot 1
//!    and a modules CNode (a copy of the archive frame) in slot 2, installed with
//!    `L1_CNODE_INSTALL` on the child's root. The parent reaches into the child's task and
//!    page CNodes by installing them, for the duration of the build, in free slots of its
//!    *own* root CNode: the child's slot `0:3` is then the parent's `t:3`, and objects can
//!    be retyped straight into it. They are removed again (`L1_CNODE_REMOVE`) at the end.
//! 4. **Build the address space**, with [`crate::paging`]'s three steps: an L0 table, then
//!    for each segment tables and frames from the child's RAM. Each frame is mapped for a
//!    moment in the parent, to copy the segment's file bytes in (the rest stays zero, as
//!    retype zeroes), unmapped there, and mapped in the child with the segment's rights.
//! 5. **Fill the well-known slots** (`abi::cap::slot`): DISPATCHER, ROOT_CNODE, ROOT_VNODE,
//!    TASK_CNODE, MODULES_CNODE, PARENT_ENDPOINT if given, and FREE_RAM — a RAM capability
//!    the child's own [`crate::ram`] allocates from — copied to INITIAL_RAM too.
//! 6. **Start it.** `DISPATCHER_SETUP` with the child's root CNode and L0 table (named by
//!    their addresses in the parent's CSpace), the ELF entry point, no stack (libos
//!    programs set up their own), the argument in `x0`, and the child's exit endpoint;
//!    then `DISPATCHER_RUN`.
//!
//! ## Hearing of a child's end
//!
//! Every child gets an exit endpoint of its own, made from its RAM like everything else
//! and bound to the parent's dispatcher. The kernel sends the exit notice there when the
//! child exits, faults or is killed, and [`Child::wait`] receives it. One endpoint per
//! child rather than one per parent with a badge per child: `wait` then never has to set
//! aside notices about other children, and reclaiming the child takes its endpoint along.
//! (It also sidesteps a kernel behaviour at the time of writing: deleting the last
//! capability with a given badge destroys the endpoint object itself, so the one shared
//! endpoint would die with the first child reclaimed.)
//!
//! ## Not done here
//!
//! Children start on the parent's core (cross-core spawning goes through the monitors).
//! Instruction caches are not maintained after copying code: that needs cache
//! maintenance EL0 may not do on Flotilla (SCTLR_EL1.UCI is clear), and QEMU does not
//! model it; on hardware with non-coherent instruction caches the kernel would have to.

use abi::cap::{L2_CNODE_SLOTS, PAGE_SIZE, SLOT_BYTES};
use abi::method::exit_notice;

use crate::cap::EndpointCap;
#[cfg(target_os = "none")]
use crate::cap::{CapRef, DispatcherCap, FrameCap, L1CNodeCap, RamCap, VNodeCap};
#[cfg(target_os = "none")]
use crate::error::Error;
#[cfg(target_os = "none")]
use crate::paging::{pieces, TableSource, VSpace, L3_REACH};
#[cfg(target_os = "none")]
use abi::cap::{slot, CapType, Rights};
#[cfg(target_os = "none")]
use abi::elf::{ElfImage, Segment};
#[cfg(target_os = "none")]
use abi::CapAddr;

/// RAM a child gets for its own use unless asked otherwise: 4 MiB.
pub const DEFAULT_CHILD_RAM: u64 = 4 << 20;
/// Slots in a child's root CNode.
pub const CHILD_ROOT_SLOTS: u64 = 64;

/// Bytes of the objects every child has whatever its image: root CNode, task, page and
/// modules CNodes, L0 table, dispatcher, exit endpoint, arguments page (each rounded up to
/// whole pages).
const FIXED_OBJECT_BYTES: u64 =
    CHILD_ROOT_SLOTS * SLOT_BYTES + 3 * L2_CNODE_SLOTS * SLOT_BYTES + 4 * PAGE_SIZE;

/// Bytes of RAM a child needs: its fixed objects, the frames of its segments (whose page
/// ranges are given), at most three translation tables per frame (one per level, a
/// generous bound), and `own_ram_bytes` for its own use. Every object is a whole number
/// of pages, so the RAM can be carved up page by page with nothing lost to alignment.
pub fn child_bytes(page_ranges: impl Iterator<Item = (u64, u64)>, own_ram_bytes: u64) -> u64 {
    let segments: u64 = page_ranges
        .map(|(start, end)| {
            let frames = crate::paging::pieces(start, end).count() as u64;
            (end - start) + 3 * frames * PAGE_SIZE
        })
        .sum();
    FIXED_OBJECT_BYTES + segments + own_ram_bytes.next_multiple_of(PAGE_SIZE)
}

/// How a child ended, from the kernel's exit notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit` (returned from main) with this status.
    Exited(u64),
    /// It took an exception it cannot survive: the syndrome (ESR), the faulting address
    /// (FAR) and the address of the instruction.
    Faulted { syndrome: u64, address: u64, pc: u64 },
    /// Someone killed it.
    Killed,
}

impl Exit {
    /// Decodes an exit notice's four words (`abi::method::exit_notice`); `None` for a kind
    /// this library does not know.
    pub fn from_notice(words: [u64; 4]) -> Option<Exit> {
        match words {
            [exit_notice::EXITED, status, ..] => Some(Exit::Exited(status)),
            [exit_notice::FAULTED, syndrome, address, pc] => Some(Exit::Faulted { syndrome, address, pc }),
            [exit_notice::KILLED, ..] => Some(Exit::Killed),
            _ => None,
        }
    }
}

/// How to start a child, beyond its name.
#[derive(Clone, Copy, Debug)]
pub struct SpawnOptions<'a> {
    /// What the child's main function gets as its argument.
    pub arg: u64,
    /// The strings the child reads with [`crate::args::args`] (none: an empty vector).
    pub args: &'a [&'a str],
    /// Hand the console down: copies of this program's console device and interrupt
    /// capabilities (`abi::cap::slot::CONSOLE_DEVICE`, `CONSOLE_IRQ`) go to the same slots
    /// of the child, if this program has them. This is how the boot core's monitor gives
    /// console input to init, and init to the shell.
    pub console: bool,
    /// RAM for the child's own allocations (its FREE_RAM).
    pub ram_bytes: u64,
    /// An endpoint to put in the child's PARENT_ENDPOINT slot.
    pub parent_endpoint: Option<EndpointCap>,
    /// The endpoint to put in the child's MONITOR slot; `None`: a copy of the parent's own.
    pub monitor_endpoint: Option<EndpointCap>,
    /// Where the kernel reports the child's end (typically a badged copy of an endpoint the
    /// parent already receives on, so the badge says which child it was); `None`: a new
    /// endpoint of the child's own, for [`Child::wait`], which waits on it.
    pub exit_endpoint: Option<EndpointCap>,
}

impl Default for SpawnOptions<'_> {
    fn default() -> Self {
        SpawnOptions {
            arg: 0,
            args: &[],
            console: false,
            ram_bytes: DEFAULT_CHILD_RAM,
            parent_endpoint: None,
            monitor_endpoint: None,
            exit_endpoint: None,
        }
    }
}

/// A running (or ended) child domain.
#[cfg(target_os = "none")]
#[derive(Debug)]
#[must_use = "a child's memory is only reclaimed by `Child::reclaim`"]
pub struct Child {
    /// Everything the child is made of was retyped from this.
    ram: RamCap,
    /// The parent's copy of the child's dispatcher capability, and the child's exit
    /// endpoint: the first two of the kept slots.
    kept: CapRef,
    /// Physical address of the child's root translation table.
    root_base: u64,
}

#[cfg(target_os = "none")]
impl Child {
    /// The child's dispatcher.
    pub fn dispatcher(&self) -> DispatcherCap {
        DispatcherCap(self.kept.offset(kept_slot::DISPATCHER))
    }

    /// The endpoint the kernel sends the child's exit notice to (bound to the parent).
    pub fn exit_endpoint(&self) -> EndpointCap {
        EndpointCap(self.kept.offset(kept_slot::EXIT))
    }

    /// Physical address of the child's root translation table: what names its address space
    /// to the monitors when it spans other cores.
    pub fn root_table_base(&self) -> u64 {
        self.root_base
    }

    /// Bytes of RAM the child and everything it made occupy.
    pub fn ram_bytes(&self) -> Result<u64, Error> {
        Ok(self.ram.0.identify()?.size)
    }

    /// Stops the child for good (its exit notice says [`Exit::Killed`]).
    pub fn kill(&self) -> Result<(), Error> {
        self.dispatcher().kill()
    }

    /// Waits until the child ends, and says how. Only the kernel sends on the exit
    /// endpoint, once per child, so a second `wait` on the same child waits forever.
    pub fn wait(&self) -> Result<Exit, Error> {
        let message = self.exit_endpoint().receive()?;
        Exit::from_notice(message.words).ok_or(Error::Sys(abi::SysError::InvalidSyscall))
    }

    /// Destroys the child (if it still runs, it stops) and everything it is made of and
    /// made, by revoking its RAM, and gives the RAM back.
    pub fn reclaim(self) -> Result<(), Error> {
        // A given exit endpoint is not made from the child's RAM: delete this copy of it.
        let _ = self.exit_endpoint().0.delete();
        crate::ram::free_ram(self.ram)?;
        // The revoke emptied the other kept slot: it held an object made from the RAM.
        crate::cspace::free_slots(self.kept, kept_slot::COUNT);
        Ok(())
    }
}

/// The parent slots a [`Child`] keeps, consecutive: which is which.
#[cfg(target_os = "none")]
mod kept_slot {
    pub const DISPATCHER: u32 = 0;
    pub const EXIT: u32 = 1;
    pub const COUNT: u32 = 2;
}

/// The boot module archive, mapped read-only on first use.
#[cfg(target_os = "none")]
static ARCHIVE: spin::Once<&'static [u8]> = spin::Once::new();

/// Starts the boot module `name` as a child on this core, with `arg` and the default
/// options.
#[cfg(target_os = "none")]
pub fn spawn(name: &str, arg: u64) -> Result<Child, Error> {
    spawn_with(name, SpawnOptions { arg, ..SpawnOptions::default() })
}

/// Starts the boot module `name` as a child on this core (see the module documentation).
#[cfg(target_os = "none")]
pub fn spawn_with(name: &str, options: SpawnOptions<'_>) -> Result<Child, Error> {
    spawn_elf(boot_module(name)?, options)
}

/// The name of boot module `index` (in archive order), if there is one.
#[cfg(target_os = "none")]
pub fn module_name(index: usize) -> Option<&'static str> {
    let archive = abi::modules::Archive::new(archive().ok()?)?;
    let name = archive.modules().nth(index).map(|m| m.name);
    name
}

/// The bytes of the boot module `name`, in the archive (mapped read-only on first use).
#[cfg(target_os = "none")]
pub fn boot_module(name: &str) -> Result<&'static [u8], Error> {
    let archive = abi::modules::Archive::new(archive()?).ok_or(Error::NoModuleArchive)?;
    archive.find(name).map(|module| module.bytes).ok_or(Error::NoSuchModule)
}

/// Starts the ELF executable `bytes` as a child on this core. The file is checked before
/// anything is made, and a file the checker refuses is [`Error::BadElf`] with its reason;
/// `bytes` is only read during the call (the segments are copied into the child).
#[cfg(target_os = "none")]
pub fn spawn_elf(bytes: &[u8], options: SpawnOptions<'_>) -> Result<Child, Error> {
    let image = ElfImage::parse(bytes).map_err(Error::BadElf)?;
    if !options.args.is_empty() {
        crate::args::encode(options.args, &mut [0; crate::args::PAGE_BYTES]).map_err(Error::BadArguments)?;
    }
    let total_bytes = child_bytes(image.segments().map(|s| s.page_range()), options.ram_bytes);
    let ram = crate::ram::alloc_ram(total_bytes, PAGE_SIZE)?;
    let kept = match crate::cspace::alloc_slots(kept_slot::COUNT) {
        Ok(kept) => kept,
        Err(e) => {
            let _ = crate::ram::free_ram(ram);
            return Err(e);
        }
    };
    let mut scratch = Scratch::default();
    let built = scratch.prepare().and_then(|()| build(&scratch, ram, kept, &image, &options));
    scratch.clean_up();
    match built {
        Ok(root_base) => Ok(Child { ram, kept, root_base }),
        Err(e) => {
            // The revoke empties the kept slots too, but for a given exit endpoint's copy.
            let _ = kept.offset(kept_slot::EXIT).delete();
            let _ = crate::ram::free_ram(ram);
            crate::cspace::free_slots(kept, kept_slot::COUNT);
            Err(e)
        }
    }
}

/// Maps the boot module archive (read-only, once) and returns its bytes.
#[cfg(target_os = "none")]
fn archive() -> Result<&'static [u8], Error> {
    ARCHIVE.try_call_once(map_archive).copied()
}

#[cfg(target_os = "none")]
fn map_archive() -> Result<&'static [u8], Error> {
    let original = FrameCap(CapRef(slot::MODULE_ARCHIVE));
    let info = original.0.identify().map_err(|_| Error::NoModuleArchive)?;
    if info.ty != CapType::Frame || info.size == 0 {
        return Err(Error::NoModuleArchive);
    }
    crate::paging::with_current(|vspace| {
        let va = vspace.alloc_region(info.size, L3_REACH)?;
        // Each 2 MiB of the archive is mapped through a copy of its capability of its own
        // (one capability, one mapping). The original stays unmapped, free to be copied.
        for (start, end) in pieces(va, va + info.size) {
            let copy = crate::cspace::alloc_slot()?;
            original.0.copy_to(copy)?;
            let offset_pages = (start - va) / PAGE_SIZE;
            vspace.map_frame_pages(
                start,
                FrameCap(copy),
                offset_pages,
                (end - start) / PAGE_SIZE,
                Rights::READ,
            )?;
        }
        // SAFETY: `info.size` bytes at `va` are now mapped readable, and stay mapped (and
        // unchanged: the frame is read-only) for the rest of the program.
        Ok(unsafe { core::slice::from_raw_parts(va as *const u8, info.size as usize) })
    })
}

/// What a spawn borrows from the parent while it builds, given back by
/// [`Scratch::clean_up`] whether the build worked or not.
#[cfg(target_os = "none")]
#[derive(Default)]
struct Scratch {
    /// Four consecutive parent slots for the child's root, task, page and modules CNodes
    /// while they are being made.
    slots: Option<CapRef>,
    /// Parent root CNode slots where the child's task and page CNodes are installed.
    task_l1: Option<u32>,
    page_l1: Option<u32>,
    /// A 2 MiB range of the parent's window for copying segments.
    window: Option<u64>,
}

#[cfg(target_os = "none")]
impl Scratch {
    const ROOT: u32 = 0;
    const TASK: u32 = 1;
    const PAGE: u32 = 2;
    const MODULES: u32 = 3;
    const COUNT: u32 = 4;

    fn prepare(&mut self) -> Result<(), Error> {
        self.slots = Some(crate::cspace::alloc_slots(Scratch::COUNT)?);
        self.task_l1 = Some(crate::cspace::reserve_l1_slot()?);
        self.page_l1 = Some(crate::cspace::reserve_l1_slot()?);
        self.window = Some(crate::paging::with_current(|v| v.alloc_region(L3_REACH, L3_REACH))?);
        Ok(())
    }

    /// Scratch slot `i` (one of the constants above).
    fn slot(&self, i: u32) -> Result<CapRef, Error> {
        let first = self.slots.ok_or(Error::OutOfSlots)?;
        Ok(first.offset(i))
    }

    /// The child's task CNode slot `addr.l2_index()`, as the parent sees it.
    fn in_task(&self, addr: CapAddr) -> Result<CapRef, Error> {
        let l1 = self.task_l1.ok_or(Error::OutOfSlots)?;
        Ok(CapRef(CapAddr::new(l1, addr.l2_index())))
    }

    /// Undoes the borrowing. Deleting the parent's capabilities here loses nothing: the
    /// child holds its own copies of them, or, after a failed build, is destroyed next.
    fn clean_up(self) {
        let root = L1CNodeCap(CapRef(slot::ROOT_CNODE));
        for l1 in [self.task_l1, self.page_l1].into_iter().flatten() {
            let _ = root.remove(l1);
            crate::cspace::release_l1_slot(l1);
        }
        if let Some(first) = self.slots {
            for i in 0..Scratch::COUNT {
                let _ = first.offset(i).delete();
            }
            crate::cspace::free_slots(first, Scratch::COUNT);
        }
        if let Some(window) = self.window {
            let _ = crate::paging::with_current(|v| v.free_region(window, L3_REACH));
        }
    }
}

/// Carves the child's RAM into its objects, page by page from the start, and puts tables
/// and frames in its page CNode.
#[cfg(target_os = "none")]
struct ChildMemory {
    ram: RamCap,
    /// Bytes of the RAM used so far.
    used: u64,
    /// The page CNode as installed in the parent, and its next free slot.
    page_l1: u32,
    next_page_slot: u32,
}

#[cfg(target_os = "none")]
impl ChildMemory {
    /// Makes one object of `ty` taking `bytes` of the RAM (`object_bytes` as for retype)
    /// into `dest`.
    fn make(&mut self, ty: CapType, object_bytes: u64, bytes: u64, dest: CapRef) -> Result<(), Error> {
        self.ram.0.retype(ty, object_bytes, self.used, 1, dest)?;
        self.used += bytes;
        Ok(())
    }

    /// Makes one object into the next slot of the page CNode.
    fn make_in_page_cnode(&mut self, ty: CapType, object_bytes: u64, bytes: u64) -> Result<CapRef, Error> {
        if u64::from(self.next_page_slot) >= L2_CNODE_SLOTS {
            return Err(Error::OutOfSlots);
        }
        let dest = CapRef(CapAddr::new(self.page_l1, self.next_page_slot));
        self.make(ty, object_bytes, bytes, dest)?;
        self.next_page_slot += 1;
        Ok(dest)
    }
}

#[cfg(target_os = "none")]
impl TableSource for ChildMemory {
    fn make_table(&mut self, ty: CapType) -> Result<VNodeCap, Error> {
        self.make_in_page_cnode(ty, 0, PAGE_SIZE).map(VNodeCap)
    }
}

/// Where a child's CNodes go in its root CNode: as in a core's first domain.
#[cfg(target_os = "none")]
const CHILD_TASK_L1: u32 = slot::TASK_CNODE.l1_index();
#[cfg(target_os = "none")]
const CHILD_PAGE_L1: u32 = 1;
#[cfg(target_os = "none")]
const CHILD_MODULES_L1: u32 = slot::MODULE_ARCHIVE.l1_index();

/// Steps 3 to 6 of the module documentation, leaving the parent's copy of the child's
/// dispatcher capability and its exit endpoint in the `kept` slots.
#[cfg(target_os = "none")]
fn build(
    scratch: &Scratch,
    ram: RamCap,
    kept: CapRef,
    image: &ElfImage<'_>,
    options: &SpawnOptions<'_>,
) -> Result<u64, Error> {
    let (task_l1, page_l1) =
        (scratch.task_l1.ok_or(Error::OutOfSlots)?, scratch.page_l1.ok_or(Error::OutOfSlots)?);
    let (root, task) = (scratch.slot(Scratch::ROOT)?, scratch.slot(Scratch::TASK)?);
    let (page, modules) = (scratch.slot(Scratch::PAGE)?, scratch.slot(Scratch::MODULES)?);
    let mut memory = ChildMemory { ram, used: 0, page_l1, next_page_slot: 0 };

    // Step 3: the CSpace, and the parent's way into it.
    let l2_bytes = L2_CNODE_SLOTS * SLOT_BYTES;
    let root_bytes = CHILD_ROOT_SLOTS * SLOT_BYTES;
    memory.make(CapType::L1CNode, root_bytes, root_bytes.next_multiple_of(PAGE_SIZE), root)?;
    for cnode in [task, page, modules] {
        memory.make(CapType::L2CNode, 0, l2_bytes, cnode)?;
    }
    let child_root = L1CNodeCap(root);
    child_root.install(CHILD_TASK_L1, task)?;
    child_root.install(CHILD_PAGE_L1, page)?;
    child_root.install(CHILD_MODULES_L1, modules)?;
    let parent_root = L1CNodeCap(CapRef(slot::ROOT_CNODE));
    parent_root.install(task_l1, task)?;
    parent_root.install(page_l1, page)?;

    // Step 5, first part: the slots the next steps need.
    root.copy_to(scratch.in_task(slot::ROOT_CNODE)?)?;
    task.copy_to(scratch.in_task(slot::TASK_CNODE)?)?;
    modules.copy_to(scratch.in_task(slot::MODULES_CNODE)?)?;
    let vroot = VNodeCap(scratch.in_task(slot::ROOT_VNODE)?);
    memory.make(CapType::VNodeL0, 0, PAGE_SIZE, vroot.0)?;
    let root_base = vroot.0.identify()?.base;
    let dispatcher = DispatcherCap(scratch.in_task(slot::DISPATCHER)?);
    let dispatcher_bytes = abi::cap::DISPATCHER_BYTES.next_multiple_of(PAGE_SIZE);
    memory.make(CapType::Dispatcher, 0, dispatcher_bytes, dispatcher.0)?;

    // Step 4: the address space.
    let window = scratch.window.ok_or(Error::OutOfVirtualSpace)?;
    let mut vspace = VSpace::new(vroot, memory);
    for segment in image.segments() {
        let (start, end) = segment.page_range();
        for (piece_start, piece_end) in pieces(start, end) {
            let bytes = piece_end - piece_start;
            let frame = FrameCap(vspace.source_mut().make_in_page_cnode(CapType::Frame, bytes, bytes)?);
            load(frame, window, (piece_start, piece_end), &segment)?;
            vspace.map_frame_pages(piece_start, frame, 0, bytes / PAGE_SIZE, segment_rights(&segment))?;
        }
    }

    // Step 5, the rest. The child's modules CNode gets a copy of the archive frame of its
    // own: the parent's copies are mapped, and a copy starts unmapped.
    let free_ram = scratch.in_task(slot::FREE_RAM)?;
    let own_bytes = options.ram_bytes.next_multiple_of(PAGE_SIZE);
    vspace.source_mut().make(CapType::Ram, own_bytes, own_bytes, free_ram)?;
    free_ram.copy_to(scratch.in_task(slot::INITIAL_RAM)?)?;
    if let Some(endpoint) = options.parent_endpoint {
        endpoint.0.copy_to(scratch.in_task(slot::PARENT_ENDPOINT)?)?;
    }
    // The child asks the same monitor as its parent (a program without one passes none).
    match options.monitor_endpoint {
        Some(monitor) => monitor.0.copy_to(scratch.in_task(slot::MONITOR)?)?,
        None => match CapRef(slot::MONITOR).copy_to(scratch.in_task(slot::MONITOR)?) {
            Ok(()) | Err(Error::Sys(abi::SysError::SlotEmpty)) => {}
            Err(e) => return Err(e),
        },
    }
    if !options.args.is_empty() {
        let frame = FrameCap(scratch.in_task(slot::ARGUMENTS)?);
        vspace.source_mut().make(CapType::Frame, PAGE_SIZE, PAGE_SIZE, frame.0)?;
        write_arguments(frame, window, options.args)?;
    }
    if options.console {
        for device in [slot::CONSOLE_DEVICE, slot::CONSOLE_IRQ] {
            match CapRef(device).copy_to(scratch.in_task(device)?) {
                Ok(()) | Err(Error::Sys(abi::SysError::SlotEmpty)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    with_modules_installed(modules, |l1| {
        CapRef(slot::MODULE_ARCHIVE).copy_to(CapRef(CapAddr::new(l1, slot::MODULE_ARCHIVE.l2_index())))
    })?;

    // Step 6: start it, with an exit endpoint bound to the parent, keeping a copy of its
    // dispatcher capability.
    let exit = EndpointCap(kept.offset(kept_slot::EXIT));
    match options.exit_endpoint {
        Some(given) => given.0.copy_to(exit.0)?,
        None => {
            let exit_bytes = abi::cap::ENDPOINT_BYTES.next_multiple_of(PAGE_SIZE);
            vspace.source_mut().make(CapType::Endpoint, 0, exit_bytes, exit.0)?;
            exit.bind(DispatcherCap(CapRef(slot::DISPATCHER)))?;
        }
    }
    dispatcher.setup(L1CNodeCap(root), vroot, image.entry(), 0, options.arg, Some(exit))?;
    let copy = DispatcherCap(kept.offset(kept_slot::DISPATCHER));
    dispatcher.0.copy_to(copy.0)?;
    copy.run()?;
    Ok(root_base)
}

/// Runs `f` with the child's modules CNode installed in a free slot of the parent's root
/// CNode, whose index `f` gets.
#[cfg(target_os = "none")]
fn with_modules_installed(modules: CapRef, f: impl FnOnce(u32) -> Result<(), Error>) -> Result<(), Error> {
    let l1 = crate::cspace::reserve_l1_slot()?;
    let parent_root = L1CNodeCap(CapRef(slot::ROOT_CNODE));
    let result = parent_root.install(l1, modules).and_then(|()| f(l1));
    let _ = parent_root.remove(l1);
    crate::cspace::release_l1_slot(l1);
    result
}

/// Writes `args` into the child's arguments `frame`, through a mapping at the parent's
/// `window` that is removed again.
#[cfg(target_os = "none")]
fn write_arguments(frame: FrameCap, window: u64, args: &[&str]) -> Result<(), Error> {
    let rights = Rights::READ.union(Rights::WRITE);
    crate::paging::with_current(|v| v.map_frame_pages(window, frame, 0, 1, rights))?;
    // SAFETY: the page at `window` is the frame just mapped writable; nothing else refers
    // to it while this reference lives.
    let page = unsafe { &mut *(window as *mut [u8; crate::args::PAGE_BYTES]) };
    let written = crate::args::encode(args, page).map_err(Error::BadArguments);
    frame.unmap()?;
    written
}

/// The mapping rights a segment's flags ask for (never both writable and executable: the
/// ELF checker refused such segments).
#[cfg(target_os = "none")]
fn segment_rights(segment: &Segment<'_>) -> Rights {
    match (segment.flags.write, segment.flags.execute) {
        (true, _) => Rights::READ.union(Rights::WRITE),
        (false, true) => Rights::READ.union(Rights::EXECUTE),
        (false, false) => Rights::READ,
    }
}

/// Copies the part of `segment`'s file bytes that falls in the child's `[start, end)` into
/// `frame`, through a mapping at the parent's 2 MiB `window` that is removed again.
#[cfg(target_os = "none")]
fn load(frame: FrameCap, window: u64, (start, end): (u64, u64), segment: &Segment<'_>) -> Result<(), Error> {
    let file_start = segment.vaddr;
    let file_end = file_start + segment.file_bytes.len() as u64;
    let (from, to) = (file_start.max(start), file_end.min(end));
    if from >= to {
        // Nothing of the file here: retype already zeroed the frame.
        return Ok(());
    }
    // Where `start` appears in the parent: the same offset within a 2 MiB block, so the
    // piece (which lies in one such block) stays in one table of the window.
    let at = window + start % L3_REACH;
    let rights = Rights::READ.union(Rights::WRITE);
    crate::paging::with_current(|v| v.map_frame_pages(at, frame, 0, (end - start) / PAGE_SIZE, rights))?;
    let source = &segment.file_bytes[(from - file_start) as usize..(to - file_start) as usize];
    // SAFETY: `[at, at + (end - start))` is the frame just mapped writable, nothing else
    // refers to it, and `source` (in the archive) does not overlap it.
    unsafe {
        core::ptr::copy_nonoverlapping(source.as_ptr(), (at + (from - start)) as *mut u8, source.len());
    }
    frame.unmap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_notices_decode_by_kind() {
        assert_eq!(Exit::from_notice([exit_notice::EXITED, 7, 0, 0]), Some(Exit::Exited(7)));
        assert_eq!(
            Exit::from_notice([exit_notice::FAULTED, 0x9200_0045, 0x10, 0x40_0010]),
            Some(Exit::Faulted { syndrome: 0x9200_0045, address: 0x10, pc: 0x40_0010 })
        );
        assert_eq!(Exit::from_notice([exit_notice::KILLED, 0, 0, 0]), Some(Exit::Killed));
        assert_eq!(Exit::from_notice([0, 0, 0, 0]), None);
    }

    #[test]
    fn a_child_needs_its_fixed_objects_frames_tables_and_own_ram() {
        // One page of text, and data straddling a 2 MiB boundary (two frames).
        let ranges = [(0x40_0000, 0x40_1000), (0x1f_f000, 0x20_1000)];
        let bytes = child_bytes(ranges.into_iter(), 4 << 20);
        let frames = 0x1000 + 0x2000;
        let tables = 3 * 3 * PAGE_SIZE;
        assert_eq!(bytes, FIXED_OBJECT_BYTES + frames + tables + (4 << 20));
        assert_eq!(child_bytes([].into_iter(), 1) % PAGE_SIZE, 0, "own RAM rounds up to pages");
    }
}
