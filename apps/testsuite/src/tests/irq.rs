//! Interrupts delivered to user space: an IRQ capability routes a shared interrupt to an
//! endpoint as a message `[intid, 0, 0, 0]`, and the interrupt stays masked after each
//! delivery until the handler acknowledges it.
//!
//! The device is the console UART (the first domain holds its registers as a device frame
//! and its IRQ capability): its transmit interrupt is raised whenever the transmit FIFO has
//! room, which it has after every line the kernel prints, so enabling it in the UART's
//! mask register makes the interrupt fire at once. Registers: Arm PL011 TRM §3.3.

use super::vspace::{page_va, Tables};
use crate::framework::{expect_eq, expect_ok, expect_that, Env, Outcome};
use crate::sys::{self, invoke_method, map, RW};
use libos::abi::cap::slot;
use libos::abi::method;
use libos::lmp::Endpoint;

/// UARTIMSC (interrupt mask set/clear), UARTICR (interrupt clear), TXIM (transmit).
const UART_IMSC: u64 = 0x38;
const UART_ICR: u64 = 0x44;
const TXIM: u32 = 1 << 5;

fn write_register(base: u64, offset: u64, value: u32) {
    // SAFETY: `base` maps the UART's register page (device memory), and these are
    // 32-bit registers at these offsets.
    unsafe { ((base + offset) as *mut u32).write_volatile(value) }
}

pub fn the_console_interrupt_arrives_as_a_message_and_stays_masked_until_acknowledged(env: &Env) -> Outcome {
    let t = Tables::build(env)?;
    expect_ok(map(t.l3, 0, slot::CONSOLE_DEVICE, RW, 0, 1))?;
    let uart = page_va(0) + (expect_ok(sys::identify(slot::CONSOLE_DEVICE))?.base % 4096);
    let endpoint = expect_ok(Endpoint::for_self())?;
    let outcome = (|| {
        let endpoint_cap = endpoint.cap().cap().0;
        expect_ok(invoke_method(
            slot::CONSOLE_IRQ,
            method::IRQ_CONNECT,
            [u64::from(endpoint_cap.0), 0, 0, 0, 0, 0],
        ))?;
        write_register(uart, UART_IMSC, TXIM);
        let message = expect_ok(endpoint.cap().receive())?;
        let intid = message.words[0];
        expect_that((32..1020).contains(&intid), format_args!("interrupt {intid} is a shared one"))?;
        // Quiet the device, then acknowledge: nothing more may be queued meanwhile.
        write_register(uart, UART_IMSC, 0);
        write_register(uart, UART_ICR, TXIM);
        expect_ok(invoke_method(slot::CONSOLE_IRQ, method::IRQ_ACK, [0; 6]))?;
        expect_ok(endpoint.cap().send([7, 0, 0, 0], None))?;
        expect_eq(expect_ok(endpoint.cap().receive())?.words[0], 7)
    })();
    write_register(uart, UART_IMSC, 0);
    let _ = endpoint.destroy();
    expect_ok(sys::unmap(slot::CONSOLE_DEVICE))?;
    outcome
}
