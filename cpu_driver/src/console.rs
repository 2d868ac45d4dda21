//! The kernel console: a PL011 UART, written a whole line at a time.
//!
//! Every core has its own `Console` (a per-core static pointing at the one UART) and takes
//! the shared [`CONSOLE_LOCK`] for each line, so lines from different cores never
//! interleave (the console contract in docs/DESIGN.md §8). Output is polled: the kernel prints
//! little, and a polled UART still works when everything else has failed.
//!
//! Register layout: Arm PrimeCell UART (PL011) Technical Reference Manual, r1p5, §3.2.

use crate::shared::CONSOLE_LOCK;
use boot::bootinfo::{UartInfo, UartKind};
use boot::layout::phys_to_linear;
use core::fmt::{self, Write};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Flag register (UARTFR, offset 0x18).
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Control register (UARTCR, offset 0x30).
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Line control register (UARTLCR_H, offset 0x2c).
    LCR_H [
        /// Word length: 0b11 = 8 bits.
        WLEN OFFSET(5) NUMBITS(2) [],
        /// FIFOs enabled.
        FEN OFFSET(4) NUMBITS(1) []
    ]
];

register_structs! {
    Pl011Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: ReadWrite<u32>),
        (0x28 => fbrd: ReadWrite<u32>),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => imsc: ReadWrite<u32>),
        (0x3c => _reserved3),
        (0x44 => icr: WriteOnly<u32>),
        (0x48 => @END),
    }
}

/// Baud rate used when Flotilla has to program the UART itself.
const BAUD: u32 = 115_200;

/// A PL011 reached through the linear map.
#[derive(Clone, Copy)]
pub struct Pl011 {
    regs: *const Pl011Registers,
}

// SAFETY: the pointer is to MMIO that stays mapped; concurrent use from several cores is
// serialised by `CONSOLE_LOCK` (and a byte written unserialised is merely garbled output).
unsafe impl Send for Pl011 {}
// SAFETY: as above.
unsafe impl Sync for Pl011 {}

impl Pl011 {
    /// # Safety
    /// `info.regs` must be a PL011's registers, mapped as Device memory in the linear map.
    pub unsafe fn new(info: &UartInfo) -> Pl011 {
        let UartKind::Pl011 = info.kind;
        Pl011 { regs: phys_to_linear(info.regs.base).as_u64() as *const Pl011Registers }
    }

    fn regs(&self) -> &Pl011Registers {
        // SAFETY: `new`'s contract: a mapped PL011 for the kernel's lifetime.
        unsafe { &*self.regs }
    }

    /// Leaves a UART that firmware (or QEMU) already enabled as it is; otherwise programs
    /// 8N1 at 115200 baud from the reference clock, when the device tree gave one.
    pub fn init(&self, clock_hz: Option<u32>) {
        let regs = self.regs();
        if regs.cr.is_set(CR::UARTEN) {
            return;
        }
        if let Some(clock) = clock_hz {
            // Baud divisor = clock / (16 * baud), as a 16.6 fixed-point number (TRM §3.3.6).
            let divisor_x64 = (u64::from(clock) * 4) / u64::from(BAUD);
            regs.ibrd.set((divisor_x64 >> 6) as u32);
            regs.fbrd.set((divisor_x64 & 0x3f) as u32);
        }
        regs.lcr_h.write(LCR_H::WLEN.val(0b11) + LCR_H::FEN::SET);
        regs.imsc.set(0);
        regs.icr.set(0x7ff);
        regs.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    fn put_byte(&self, byte: u8) {
        let regs = self.regs();
        while regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        regs.dr.set(u32::from(byte));
    }

    fn flush(&self) {
        while self.regs().fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }
}

impl Write for Pl011 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.put_byte(b'\r');
            }
            self.put_byte(byte);
        }
        Ok(())
    }
}

/// This core's console (per-core, like every kernel static).
static CONSOLE: spin::Once<Pl011> = spin::Once::new();

/// Sets up this core's console. The first core to call it with a UART that is off turns it on.
///
/// # Safety
/// As [`Pl011::new`].
pub unsafe fn init(info: &UartInfo) {
    // SAFETY: forwarded contract.
    let uart = unsafe { Pl011::new(info) };
    uart.init(info.clock_hz);
    CONSOLE.call_once(|| uart);
}

/// Prints one line (the formatted text plus a newline) without interleaving with other
/// cores. Silently drops the line if this core has no console yet.
pub fn print_line(args: fmt::Arguments<'_>) {
    if let Some(uart) = CONSOLE.get() {
        let mut uart = *uart;
        CONSOLE_LOCK.lock();
        let _ = uart.write_fmt(args);
        let _ = uart.write_str("\n");
        CONSOLE_LOCK.unlock();
    }
}

/// Prints bytes from user space as one piece (a `print` system call), turning `\n` into
/// `\r\n` and anything that is not printable ASCII into `?`, so a program cannot send
/// terminal control sequences through the kernel's console. Carriage return and backspace
/// pass: with them alone a line editor redraws its line (they move the cursor within it).
pub fn print_bytes(bytes: &[u8]) {
    if let Some(uart) = CONSOLE.get() {
        CONSOLE_LOCK.lock();
        for &b in bytes {
            match b {
                b'\n' => {
                    uart.put_byte(b'\r');
                    uart.put_byte(b'\n');
                }
                b'\t' | b'\r' | 0x08 | 0x20..=0x7e => uart.put_byte(b),
                _ => uart.put_byte(b'?'),
            }
        }
        CONSOLE_LOCK.unlock();
    }
}

/// Prints a line from the fault path: steals the lock if another core seems stuck holding it.
pub fn print_line_urgent(args: fmt::Arguments<'_>) {
    if let Some(uart) = CONSOLE.get() {
        let mut uart = *uart;
        CONSOLE_LOCK.lock_or_steal(1 << 20);
        let _ = uart.write_fmt(args);
        let _ = uart.write_str("\n");
        uart.flush();
        CONSOLE_LOCK.unlock();
    }
}

/// Prints a line on the console: `kprintln!("core {}: ...", id)`.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}
