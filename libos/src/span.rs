//! Spanning: running this domain on more cores, one dispatcher per core in the same address
//! space (`docs/DESIGN.md` §7, "span a domain to more cores").
//!
//! [`span`] asks this core's monitor to start a dispatcher on another core, in this
//! program's address space, running a function of the program. The monitor of that core
//! makes the dispatcher from its own core's RAM, with a small CSpace of its own there (in a
//! multikernel, capabilities belong to one core), and points it at this program's root
//! translation table, which the cores then share. So memory is shared, as in a threaded
//! program; capabilities, the slot and RAM allocators and the monitor client are not: a
//! function running on another core may compute, use memory, print, yield and return, and
//! should leave everything else to the program's first dispatcher.
//!
//! Unmapping memory the other cores may have cached translations of needs a TLB shootdown
//! ([`unmap_everywhere`]): this core's CPU driver changes the table and forgets its own
//! translations, then the monitors tell every other core the domain spans to forget theirs,
//! and the call returns when all have: message passing instead of a broadcast invalidate,
//! as in the multikernel paper.

use crate::cap::{CapRef, FrameCap};
use crate::error::Error;
use crate::monitor::{self, op};
use abi::cap::{slot, Rights, PAGE_SIZE};
use core::sync::atomic::{AtomicU64, Ordering};

/// What a new dispatcher on another core starts from: the trampoline gets its address.
#[repr(C)]
struct StartBlock {
    stack_top: u64,
    function: fn(u64),
    data: u64,
}

core::arch::global_asm!(
    ".pushsection .text.libos_span, \"ax\", %progbits",
    ".global __libos_span_start",
    ".type __libos_span_start, %function",
    // x0: the start block. Its first word is the stack to run on.
    "__libos_span_start:",
    "    ldr  x9, [x0]",
    "    mov  sp, x9",
    "    mov  x29, xzr",
    "    mov  x30, xzr",
    "    bl   {span_main}",
    "    udf  #0",
    ".size __libos_span_start, . - __libos_span_start",
    ".popsection",
    span_main = sym span_main,
);

extern "C" {
    fn __libos_span_start();
}

/// Runs the spanned function, then ends this dispatcher.
extern "C" fn span_main(block: *const StartBlock) -> ! {
    // SAFETY: `span` built the block before asking for this dispatcher, and keeps it (and
    // the stack) mapped for the life of the domain.
    let (function, data) = unsafe { ((*block).function, (*block).data) };
    function(data);
    crate::syscall::exit(0)
}

/// This domain's nonce for its root table, attached with the monitor on first use.
static NONCE: AtomicU64 = AtomicU64::new(0);

/// The nonce under which this core's monitor holds this domain's root table.
fn nonce() -> Result<u64, Error> {
    let known = NONCE.load(Ordering::Relaxed);
    if known != 0 {
        return Ok(known);
    }
    // Unpredictable enough for a name only this program and its monitor see: the counter
    // and where this program's stack is, mixed.
    let counter: u64;
    // SAFETY: reads the virtual counter, which EL0 may read; no memory effects.
    unsafe { core::arch::asm!("mrs {}, cntvct_el0", out(reg) counter, options(nomem, nostack)) };
    let mixed =
        (counter ^ (&counter as *const u64 as u64).rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    monitor::attach(mixed, CapRef(slot::ROOT_VNODE))?;
    NONCE.store(mixed, Ordering::Relaxed);
    Ok(mixed)
}

/// A dispatcher of this domain on another core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spanned {
    /// The domain, as the monitors name it (`monitor::kill` ends it on every core).
    pub domain: u64,
    /// This dispatcher of it.
    pub span: u64,
}

/// Runs `function(data)` on core `core`, on a new stack of `stack_bytes`, as a dispatcher of
/// this domain (see the module documentation for what it may do). It ends when the function
/// returns. The stack stays mapped for the life of the program.
pub fn span(core: u64, function: fn(u64), data: u64, stack_bytes: u64) -> Result<Spanned, Error> {
    let stack_bytes = stack_bytes.max(PAGE_SIZE).next_multiple_of(PAGE_SIZE);
    let rw = Rights::READ.union(Rights::WRITE);
    let mapping =
        crate::paging::with_current(|vspace| vspace.map_anonymous(stack_bytes + PAGE_SIZE, PAGE_SIZE, rw))?;
    // The start block in the first page, the stack above it.
    let block = mapping.as_ptr().cast::<StartBlock>();
    // SAFETY: the mapping is fresh, writable and at least a page; nothing else uses it.
    unsafe { block.write(StartBlock { stack_top: mapping.va() + mapping.bytes(), function, data }) };
    // The mapping is never given back (nothing unmaps it): the other core may run on it
    // until the domain ends.
    let _kept_for_good = mapping;
    let nonce = nonce()?;
    let entry = __libos_span_start as *const () as u64;
    let ([domain, span, _], _) = monitor::call([op::SPAN | core << 8, nonce, entry, block as u64])?;
    Ok(Spanned { domain, span })
}

/// Unmaps `frame` (mapped in this domain's address space at `vaddr`, `pages` pages) and
/// returns once every core this domain spans has forgotten its translations of them.
pub fn unmap_everywhere(frame: FrameCap, vaddr: u64, pages: u64) -> Result<u64, Error> {
    frame.unmap()?;
    shootdown(vaddr, pages)
}

/// Makes every other core this domain spans forget its translations of `pages` pages at
/// `vaddr`; the cores that did, as a mask.
pub fn shootdown(vaddr: u64, pages: u64) -> Result<u64, Error> {
    let nonce = nonce()?;
    Ok(monitor::call([op::SHOOTDOWN, nonce, vaddr, pages])?.0[0])
}
