//! Console input: the PL011 UART's receive side, driven by its interrupt.
//!
//! The kernel prints (transmits) on the same UART, polling, a line at a time; this module
//! touches only what receiving needs, so the two never step on each other: the receive
//! data and flag registers, and the receive interrupts in the mask and clear registers.
//!
//! The shell holds the UART's registers as a device frame and its interrupt as an IRQ
//! capability (`slot::CONSOLE_DEVICE`, `slot::CONSOLE_IRQ`), handed down by the monitor
//! through init. The interrupt is delivered to the shell's endpoint as a message; the
//! shell then drains the receive FIFO and acknowledges, and in between sleeps in
//! `receive`, so an idle shell costs its core nothing.
//!
//! Registers: Arm PrimeCell UART (PL011) Technical Reference Manual, r1p5, §3.2–3.3.

use libos::abi::cap::{slot, CapType, Rights, PAGE_SIZE};
use libos::abi::method;
use libos::cap::{CapRef, EndpointCap, FrameCap};
use libos::Error;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Data register (UARTDR): the received character in the low byte.
    DR [
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Flag register (UARTFR).
    FR [
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) []
    ],
    /// Interrupt mask set/clear (UARTIMSC) and interrupt clear (UARTICR).
    INT [
        /// Receive timeout: characters wait in the FIFO below its trigger level.
        RT OFFSET(6) NUMBITS(1) [],
        /// Receive: the FIFO reached its trigger level.
        RX OFFSET(4) NUMBITS(1) []
    ]
];

register_structs! {
    Pl011Registers {
        (0x00 => dr: ReadOnly<u32, DR::Register>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x38 => imsc: ReadWrite<u32, INT::Register>),
        (0x3c => _reserved2),
        (0x44 => icr: WriteOnly<u32, INT::Register>),
        (0x48 => @END),
    }
}

/// Why console input is not available.
#[derive(Debug)]
pub enum OpenError {
    /// This program was not given the console's device frame or interrupt.
    NotHanded(&'static str),
    /// Mapping the registers or connecting the interrupt failed.
    Failed(&'static str, Error),
}

impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OpenError::NotHanded(what) => write!(f, "no {what} capability was handed to the shell"),
            OpenError::Failed(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

/// The console UART's receive side, its interrupt connected to an endpoint.
pub struct ConsoleInput {
    regs: *const Pl011Registers,
}

impl ConsoleInput {
    /// Maps the UART's registers, routes its interrupt to `endpoint` (as messages with
    /// that capability's badge) and enables the receive interrupts.
    pub fn open(endpoint: EndpointCap) -> Result<ConsoleInput, OpenError> {
        let device = CapRef(slot::CONSOLE_DEVICE);
        let info = device.identify().map_err(|_| OpenError::NotHanded("console device"))?;
        if info.ty != CapType::DevFrame {
            return Err(OpenError::NotHanded("console device"));
        }
        if CapRef(slot::CONSOLE_IRQ).identify().map(|i| i.ty) != Ok(CapType::Irq) {
            return Err(OpenError::NotHanded("console interrupt"));
        }
        let rw = Rights::READ.union(Rights::WRITE);
        let va = libos::paging::with_current(|vspace| {
            let va = vspace.alloc_region(info.size, PAGE_SIZE)?;
            vspace.map_frame_pages(va, FrameCap(device), 0, info.size / PAGE_SIZE, rw)?;
            Ok(va)
        })
        .map_err(|e| OpenError::Failed("mapping the UART", e))?;
        let input = ConsoleInput { regs: (va + info.base % PAGE_SIZE) as *const Pl011Registers };
        let irq = CapRef(slot::CONSOLE_IRQ);
        irq.invoke(method::IRQ_CONNECT, [endpoint.cap().raw(), 0, 0, 0, 0, 0])
            .map_err(|e| OpenError::Failed("connecting the UART's interrupt", e))?;
        input.regs().imsc.write(INT::RX::SET + INT::RT::SET);
        Ok(input)
    }

    fn regs(&self) -> &Pl011Registers {
        // SAFETY: `open` mapped the UART's register page (device memory) for the rest of
        // the program, and `regs` points at the UART's registers within it.
        unsafe { &*self.regs }
    }

    /// After an interrupt message: takes every byte waiting in the receive FIFO, then
    /// acknowledges the interrupt.
    ///
    /// The receive interrupts are cleared *before* the FIFO is drained: a character that
    /// arrives after the last read raises them anew, and fires once acknowledged. (Clearing
    /// after draining could lose that character's interrupt, and with a FIFO that is no
    /// longer empty the next one may never come.)
    pub fn take(&self, mut byte: impl FnMut(u8)) -> Result<(), Error> {
        let regs = self.regs();
        regs.icr.write(INT::RX::SET + INT::RT::SET);
        while !regs.fr.is_set(FR::RXFE) {
            byte(regs.dr.read(DR::DATA) as u8);
        }
        CapRef(slot::CONSOLE_IRQ).invoke(method::IRQ_ACK, [0; 6]).map(drop)
    }
}
