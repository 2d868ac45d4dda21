//! The system calls the tests make: one small function per invocation method, with the
//! arguments in the order `abi::method` documents, returning the kernel's answer as it is.
//!
//! Rights travel as the raw bits the kernel reads from a register (see [`R`], [`RW`], …),
//! not as `abi::Rights`, because several tests exist precisely to pass bits no `Rights`
//! value can hold. For the same reason there are raw forms for what libos's typed calls
//! cannot express: a capability address wider than 32 bits, a system call number the
//! kernel does not know, a `PRINT` of memory that is not a `&str`.

use libos::abi::cap::CapType;
use libos::abi::{method, syscall as call, CapAddr, Rights, SysError};
use libos::syscall::{check, invoke};

/// What a system call answers.
pub type SysResult<T> = Result<T, SysError>;

/// Rights bits as a register carries them.
pub const NONE: u64 = Rights::NONE.bits();
pub const R: u64 = Rights::READ.bits();
pub const RW: u64 = R | Rights::WRITE.bits();
pub const RX: u64 = R | Rights::EXECUTE.bits();
pub const RWX: u64 = RW | Rights::EXECUTE.bits();
pub const ALL: u64 = Rights::ALL.bits();

/// What IDENTIFY tells about a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The `CapType` number.
    pub ctype: u64,
    pub rights: u64,
    pub owner_core: u64,
    pub base: u64,
    pub size_bytes: u64,
    pub badge: u64,
}

pub fn identify(cap: CapAddr) -> SysResult<Identity> {
    let [header, base, size_bytes, badge, ..] = invoke(cap, method::IDENTIFY, [0; 6])?;
    Ok(Identity {
        ctype: header & 0xff,
        rights: (header >> 8) & 0xff,
        owner_core: header >> 16,
        base,
        size_bytes,
        badge,
    })
}

/// Invokes `method` with `args`, keeping only whether it succeeded.
fn call(cap: CapAddr, method: u64, args: [u64; 6]) -> SysResult<()> {
    invoke(cap, method, args).map(|_| ())
}

pub fn copy(src: CapAddr, dest: CapAddr) -> SysResult<()> {
    call(src, method::COPY, [u64::from(dest.0), 0, 0, 0, 0, 0])
}

pub fn mint(src: CapAddr, dest: CapAddr, rights: u64, badge: u64) -> SysResult<()> {
    call(src, method::MINT, [u64::from(dest.0), rights, badge, 0, 0, 0])
}

pub fn retype(
    src: CapAddr,
    ty: CapType,
    object_bytes: u64,
    offset: u64,
    count: u64,
    dest: CapAddr,
) -> SysResult<()> {
    retype_with_type_number(src, ty as u64, object_bytes, offset, count, dest)
}

/// RETYPE with any type number, known to the ABI or not.
pub fn retype_with_type_number(
    src: CapAddr,
    ty: u64,
    object_bytes: u64,
    offset: u64,
    count: u64,
    dest: CapAddr,
) -> SysResult<()> {
    call(src, method::RETYPE, [ty, object_bytes, offset, count, u64::from(dest.0), 0])
}

pub fn delete(cap: CapAddr) -> SysResult<()> {
    call(cap, method::DELETE, [0; 6])
}

pub fn revoke(cap: CapAddr) -> SysResult<()> {
    call(cap, method::REVOKE, [0; 6])
}

pub fn unmap(cap: CapAddr) -> SysResult<()> {
    call(cap, method::UNMAP, [0; 6])
}

pub fn map(
    table: CapAddr,
    index: u64,
    child: CapAddr,
    rights: u64,
    offset_pages: u64,
    pages: u64,
) -> SysResult<()> {
    call(table, method::VNODE_MAP, [index, u64::from(child.0), rights, offset_pages, pages, 0])
}

pub fn modify_flags(table: CapAddr, index: u64, pages: u64, rights: u64) -> SysResult<()> {
    call(table, method::VNODE_MODIFY_FLAGS, [index, pages, rights, 0, 0, 0])
}

/// DISPATCHER_SETUP; `exit_endpoint` is `None` for "no endpoint" (a 0 in the register).
pub fn dispatcher_setup(
    dispatcher: CapAddr,
    cspace_root: CapAddr,
    vspace_root: CapAddr,
    entry: u64,
    stack: u64,
    arg: u64,
    exit_endpoint: Option<CapAddr>,
) -> SysResult<()> {
    let exit = exit_endpoint.map_or(0, |e| u64::from(e.0));
    let args = [u64::from(cspace_root.0), u64::from(vspace_root.0), entry, stack, arg, exit];
    call(dispatcher, method::DISPATCHER_SETUP, args)
}

pub fn dispatcher_run(dispatcher: CapAddr) -> SysResult<()> {
    call(dispatcher, method::DISPATCHER_RUN, [0; 6])
}

pub fn dispatcher_kill(dispatcher: CapAddr) -> SysResult<()> {
    call(dispatcher, method::DISPATCHER_KILL, [0; 6])
}

/// Any method number on `cap`.
pub fn invoke_method(cap: CapAddr, method: u64, args: [u64; 6]) -> SysResult<()> {
    call(cap, method, args)
}

/// INVOKE with a capability address of any width: IDENTIFY on the raw register value
/// `cap`, which libos's `invoke` (taking a 32-bit `CapAddr`) cannot pass.
pub fn identify_raw_address(cap: u64) -> SysResult<()> {
    // SAFETY: IDENTIFY reads no user memory and changes nothing; whatever `cap` names, the
    // kernel only looks it up.
    let [code, ..] =
        unsafe { libos::syscall::syscall(call::INVOKE, [cap, method::IDENTIFY, 0, 0, 0, 0, 0, 0]) };
    check(code)
}

/// COPY of `src` into a destination given as a raw register value (possibly wider than a
/// `CapAddr`).
pub fn copy_to_raw_address(src: CapAddr, dest: u64) -> SysResult<()> {
    call(src, method::COPY, [dest, 0, 0, 0, 0, 0])
}

/// System call `number` with no arguments: for numbers the kernel does not define, and for
/// NOP and YIELD.
pub fn bare_syscall(number: u64) -> SysResult<()> {
    assert!(number != call::EXIT && number != call::INVOKE && number != call::PRINT);
    // SAFETY: the numbers this is used with read no memory and change nothing of ours
    // (EXIT, INVOKE and PRINT, which would, are excluded above).
    let [code, ..] = unsafe { libos::syscall::syscall(number, [0; 8]) };
    check(code)
}

/// PRINT of `len` bytes at user address `ptr`, which need not be valid: the kernel checks
/// it before it reads.
pub fn print_raw(ptr: u64, len: u64) -> SysResult<()> {
    // SAFETY: PRINT only ever reads user memory, and only after checking that every byte
    // is readable by this program; it writes none.
    let [code, ..] = unsafe { libos::syscall::syscall(call::PRINT, [ptr, len, 0, 0, 0, 0, 0, 0]) };
    check(code)
}

/// What ENDPOINT_RECEIVE answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub words: [u64; 4],
    pub badge: u64,
    /// A capability came with the message and is now in the slot given.
    pub cap_delivered: bool,
}

/// ENDPOINT_RECEIVE on `endpoint` into `dest` (`None`: no slot, so a capability that comes
/// is dropped). It blocks if nothing is queued: call it only when something is.
pub fn receive(endpoint: CapAddr, dest: Option<CapAddr>) -> SysResult<Received> {
    let dest = dest.map_or(0, |d| u64::from(d.0));
    let [w0, w1, w2, w3, badge, delivered, _] =
        invoke(endpoint, method::ENDPOINT_RECEIVE, [dest, 0, 0, 0, 0, 0])?;
    Ok(Received { words: [w0, w1, w2, w3], badge, cap_delivered: delivered == 1 })
}

/// ENDPOINT_BIND of `endpoint` to `dispatcher`.
pub fn bind(endpoint: CapAddr, dispatcher: CapAddr) -> SysResult<()> {
    call(endpoint, method::ENDPOINT_BIND, [u64::from(dispatcher.0), 0, 0, 0, 0, 0])
}
