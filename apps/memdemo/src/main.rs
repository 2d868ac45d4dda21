//! # memdemo: libos's memory management, step by step
//!
//! A tour of what a Flotilla program can do with the capabilities it starts with, printing
//! each step as it goes:
//!
//! 1. **Slots.** Takes 300 slots at once — more than the task CNode has free — so the slot
//!    allocator has to grow the CSpace with a new L2 CNode; then gives them back.
//! 2. **Heap.** Allocates a 64 MiB `Vec<u8>`. The heap starts empty, so this is what maps
//!    it: the allocator's rescue hook asks `libos::paging` for 64 MiB of new memory (RAM,
//!    retyped into frames, mapped with tables made on the way). Every page is written
//!    and read back with a pattern, then the vector is dropped.
//! 3. **Explicit paging by hand.** One page of RAM, retyped into a frame, mapped at an
//!    address of the window, written and read through, unmapped, destroyed.
//! 4. **Messages.** Makes an endpoint, binds it to itself, and sends itself four words and
//!    a capability (the frame of step 3 once more), which arrives in a fresh slot.
//! 5. **Spawning.** Starts the boot module `hello` with argument 42 as a child, waits for
//!    its exit notice, and reclaims everything it was made of by revoking its one RAM
//!    capability. Then starts a copy of itself that spins until killed (argument
//!    [`tour::SPIN_UNTIL_KILLED`]), kills it, and checks that its exit notice says so and
//!    that both times every byte of RAM came back.
//!
//! Each core's CPU driver starts this program as its first domain (with
//! `flotilla.first=memdemo`), with the core's number as the argument; every core does
//! the whole tour on its own memory, which is also a test that nothing here is shared
//! between cores. The last line is `memdemo: ok (core N)`, or what failed.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
libos::entry!(main);

#[cfg(target_os = "none")]
fn main(arg: u64) -> u64 {
    if arg == tour::SPIN_UNTIL_KILLED {
        tour::spin()
    }
    let core = arg;
    match tour::run(core) {
        Ok(()) => {
            libos::println!("memdemo: ok (core {core})");
            0
        }
        Err(e) => {
            libos::println!("memdemo: failed on core {core}: {e}");
            1
        }
    }
}

#[cfg(target_os = "none")]
mod tour {
    use alloc::vec;
    use alloc::vec::Vec;
    use core::fmt;
    use libos::abi::cap::{CapType, Rights, PAGE_SIZE};
    use libos::cap::{CapRef, FrameCap};
    use libos::lmp::Endpoint;
    use libos::spawn::Exit;
    use libos::{cspace, heap, paging, println, ram, spawn, syscall, Error};

    const MIB: u64 = 1 << 20;
    /// Slots taken at once in step 1: more than a task CNode's 240 free ones.
    const SLOTS: usize = 300;
    /// The vector of step 2.
    const HEAP_BYTES: usize = 64 << 20;

    /// What went wrong: libos refused something, or what it did was not what it said.
    #[derive(Debug)]
    pub enum Failure {
        Libos(Error),
        Check(&'static str),
    }

    impl From<Error> for Failure {
        fn from(e: Error) -> Failure {
            Failure::Libos(e)
        }
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Failure::Libos(e) => write!(f, "{e}"),
                Failure::Check(what) => write!(f, "expected that {what}"),
            }
        }
    }

    /// Fails with `what` unless `ok`: reported rather than panicking, so the tour says
    /// which step went wrong and exits with status 1.
    fn check(ok: bool, what: &'static str) -> Result<(), Failure> {
        if ok {
            Ok(())
        } else {
            Err(Failure::Check(what))
        }
    }

    pub fn run(core: u64) -> Result<(), Failure> {
        println!("memdemo[{core}]: {} MiB of RAM free", ram::free_bytes() / MIB);
        slots(core)?;
        heap(core)?;
        one_frame(core)?;
        message(core)?;
        children(core)
    }

    fn slots(core: u64) -> Result<(), Failure> {
        let mut taken = [CapRef::new(libos::abi::CapAddr::NULL); SLOTS];
        for slot in taken.iter_mut() {
            *slot = cspace::alloc_slot()?;
        }
        let last = taken[SLOTS - 1].addr();
        println!("memdemo[{core}]: took {SLOTS} slots, the last at {last:?}: the CSpace grew");
        check(last.l1_index() > 2, "the last slot is in a new L2 CNode")?;
        for slot in taken {
            cspace::free_slot(slot);
        }
        Ok(())
    }

    fn heap(core: u64) -> Result<(), Failure> {
        let before = heap::stats().mapped_bytes;
        let mut bytes: Vec<u8> = vec![0; HEAP_BYTES];
        let mapped = heap::stats().mapped_bytes;
        println!(
            "memdemo[{core}]: a {} MiB Vec grew the heap from {} to {} MiB",
            HEAP_BYTES as u64 / MIB,
            before / MIB,
            mapped / MIB
        );
        let pages = HEAP_BYTES / PAGE_SIZE as usize;
        let pattern = |page: usize| (page as u8) ^ 0x5a ^ (core as u8);
        for (page, chunk) in bytes.chunks_exact_mut(PAGE_SIZE as usize).enumerate() {
            chunk[0] = pattern(page);
            chunk[PAGE_SIZE as usize - 1] = !pattern(page);
        }
        let intact = bytes.chunks_exact(PAGE_SIZE as usize).enumerate().all(|(page, chunk)| {
            chunk[0] == pattern(page) && chunk[PAGE_SIZE as usize - 1] == !pattern(page)
        });
        check(intact, "every heap page reads back what was written")?;
        println!("memdemo[{core}]: wrote and read back all {pages} pages");
        drop(bytes);
        let after = heap::stats();
        println!(
            "memdemo[{core}]: dropped it: {} KiB in use, {} MiB stay mapped for later",
            after.allocated_bytes / 1024,
            after.mapped_bytes / MIB
        );
        Ok(())
    }

    fn one_frame(core: u64) -> Result<(), Failure> {
        let memory = ram::alloc_ram(PAGE_SIZE, PAGE_SIZE)?;
        let frame = FrameCap(memory.make(CapType::Frame, PAGE_SIZE, 0)?);
        let rights = Rights::READ.union(Rights::WRITE);
        let va = paging::with_current(|v| {
            let va = v.alloc_region(PAGE_SIZE, PAGE_SIZE)?;
            v.map_frame(va, frame, rights).map(|()| va)
        })?;
        let word = va as *mut u64;
        // SAFETY: the page at `va` was just mapped readable and writable, and nothing else
        // refers to it.
        let read = unsafe {
            word.write_volatile(0xf107_1118 + core);
            word.read_volatile()
        };
        println!("memdemo[{core}]: mapped a frame at {va:#x}, wrote and read {read:#x}");
        check(read == 0xf107_1118 + core, "the frame reads back what was written")?;
        frame.unmap()?;
        paging::with_current(|v| v.free_region(va, PAGE_SIZE))?;
        // Freeing the RAM destroys the frame made from it; its slot goes back by hand.
        ram::free_ram(memory)?;
        cspace::free_slot(frame.cap());
        println!("memdemo[{core}]: unmapped it and freed its RAM");
        Ok(())
    }

    fn message(core: u64) -> Result<(), Failure> {
        let endpoint = Endpoint::for_self()?;
        let memory = ram::alloc_ram(PAGE_SIZE, PAGE_SIZE)?;
        let frame = memory.make(CapType::Frame, PAGE_SIZE, 0)?;
        let words = [1, 2, 3, core];
        endpoint.cap().send(words, Some(frame))?;
        let message = endpoint.cap().receive()?;
        check(message.words == words, "the words arrive as sent")?;
        let Some(copy) = message.cap else {
            return Err(Failure::Check("the frame arrives with the words"));
        };
        let (sent, arrived) = (frame.identify()?, copy.identify()?);
        check(arrived.ty == sent.ty && arrived.base == sent.base, "what arrives is the frame sent")?;
        println!(
            "memdemo[{core}]: sent myself {words:?} and a frame, received {:?} and the frame in {:?}",
            message.words,
            copy.addr()
        );
        // Freeing the RAM destroys the frame and the copy that came by message.
        ram::free_ram(memory)?;
        cspace::free_slot(copy);
        cspace::free_slot(frame);
        endpoint.destroy()?;
        Ok(())
    }

    /// The argument that makes memdemo, started as a child, spin until killed.
    pub const SPIN_UNTIL_KILLED: u64 = 0x5350_494e;

    /// What memdemo does as that child: says so, then gives the core away for good.
    pub fn spin() -> ! {
        println!("memdemo (child): spinning until killed");
        loop {
            syscall::yield_now();
        }
    }

    fn children(core: u64) -> Result<(), Failure> {
        let child = spawn::spawn("hello", 42)?;
        println!("memdemo[{core}]: spawned hello with arg 42 ({} KiB of RAM)", child.ram_bytes()? / 1024);
        let exit = child.wait()?;
        println!("memdemo[{core}]: hello ended: {exit:?}");
        check(exit == Exit::Exited(0), "hello exits with status 0")?;
        child.reclaim()?;
        let free = ram::free_bytes();
        println!("memdemo[{core}]: reclaimed hello: {} KiB of RAM free", free / 1024);

        // A child that never ends by itself, so that its end is surely the kill.
        let child = spawn::spawn("memdemo", SPIN_UNTIL_KILLED)?;
        syscall::yield_now();
        child.kill()?;
        let exit = child.wait()?;
        println!("memdemo[{core}]: killed the spinning copy of memdemo: {exit:?}");
        check(exit == Exit::Killed, "a killed child's notice says so")?;
        child.reclaim()?;
        check(ram::free_bytes() == free, "reclaiming gives back every byte")?;
        println!("memdemo[{core}]: reclaimed it too: all {} KiB back", free / 1024);
        Ok(())
    }
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    eprintln!("memdemo is a Flotilla user program: `cargo xtask run` builds it into the kernel image");
    std::process::ExitCode::from(2)
}
