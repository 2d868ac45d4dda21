//! The system call layer itself: numbers, capability addresses, methods and `PRINT`.
//!
//! Whatever a program puts in its registers, the kernel answers with an error, never by
//! trusting it: an unknown call or method, an address that names no slot (0, beyond the
//! root CNode, through an empty root slot, wider than 32 bits), a pointer to memory the
//! program cannot read.

use super::vspace::{page_va, Tables, SPARE_OFFSET, SPARE_SLOT};
use crate::child::UNKNOWN_SYSCALLS;
use crate::framework::{expect_err, expect_ok, scratch, Env, Outcome};
use crate::sys::{bare_syscall, identify, identify_raw_address, invoke_method, map, print_raw, retype, RW};
use libos::abi::cap::{slot, CapType, PAGE_SIZE};
use libos::abi::elf::USER_VA_END;
use libos::abi::syscall::{NOP, PRINT_MAX, YIELD};
use libos::abi::{method, CapAddr, SysError};

/// Text for `PRINT` calls that must fail before printing anything.
static TEXT: [u8; 2000] = [b'x'; 2000];

pub fn unknown_system_call_numbers_are_invalid_syscall(_env: &Env) -> Outcome {
    for number in UNKNOWN_SYSCALLS {
        expect_err(bare_syscall(number), SysError::InvalidSyscall)?;
    }
    Ok(())
}

pub fn nop_and_yield_succeed(_env: &Env) -> Outcome {
    expect_ok(bare_syscall(NOP))?;
    expect_ok(bare_syscall(YIELD))
}

pub fn capability_address_zero_names_no_slot(_env: &Env) -> Outcome {
    expect_err(identify(CapAddr::NULL), SysError::FailedLookup)
}

pub fn addresses_beyond_the_root_cnode_fail_lookup(_env: &Env) -> Outcome {
    // The first domain's root CNode has 64 slots.
    for address in [CapAddr::new(64, 0), CapAddr::new(0xffff, 1), CapAddr(u32::MAX)] {
        expect_err(identify(address), SysError::FailedLookup)?;
    }
    Ok(())
}

pub fn addresses_through_an_empty_root_slot_fail_lookup(_env: &Env) -> Outcome {
    for address in [CapAddr::new(3, 0), CapAddr::new(40, 7), CapAddr::new(63, 255)] {
        expect_err(identify(address), SysError::FailedLookup)?;
    }
    Ok(())
}

pub fn addresses_wider_than_32_bits_fail_lookup(_env: &Env) -> Outcome {
    let task = u64::from(slot::TASK_CNODE.0);
    for address in [1 << 32 | task, 1 << 63 | task, u64::MAX] {
        expect_err(identify_raw_address(address), SysError::FailedLookup)?;
    }
    Ok(())
}

pub fn unknown_methods_are_illegal_operations(env: &Env) -> Outcome {
    for unknown in [7, 15, 18, 63, 999, u64::MAX] {
        expect_err(invoke_method(env.ram, unknown, [0; 6]), SysError::IllegalOperation)?;
    }
    Ok(())
}

pub fn methods_of_another_type_are_illegal_operations(env: &Env) -> Outcome {
    let endpoint = scratch(0);
    expect_ok(retype(env.ram, CapType::Endpoint, 0, 0, 1, endpoint))?;
    let wrong = [
        (env.ram, method::DISPATCHER_RUN),
        (env.ram, method::DISPATCHER_KILL),
        (endpoint, method::DISPATCHER_SETUP),
        (env.ram, method::KERNEL_POWER_OFF),
        (slot::DISPATCHER, method::KERNEL_POWER_OFF),
        (env.ram, method::ENDPOINT_SEND),
        (slot::DISPATCHER, method::ENDPOINT_RECEIVE),
        (env.ram, method::ENDPOINT_BIND),
        (env.ram, method::VNODE_MODIFY_FLAGS),
        (endpoint, method::IRQ_ACK),
    ];
    for (cap, method) in wrong {
        expect_err(invoke_method(cap, method, [0; 6]), SysError::IllegalOperation)?;
    }
    Ok(())
}

pub fn print_of_a_null_pointer_is_an_invalid_argument(_env: &Env) -> Outcome {
    expect_err(print_raw(0, 5), SysError::InvalidArgument)
}

pub fn print_of_kernel_memory_is_an_invalid_argument(_env: &Env) -> Outcome {
    expect_err(print_raw(0xffff_0000_0000_0000, 8), SysError::InvalidArgument)?;
    expect_err(print_raw(0xffff_ffff_ffff_f000, 8), SysError::InvalidArgument)?;
    // Starting in user space does not help if the text runs past its end.
    expect_err(print_raw(USER_VA_END - 4, 8), SysError::InvalidArgument)
}

pub fn print_of_text_that_wraps_around_is_an_invalid_argument(_env: &Env) -> Outcome {
    expect_err(print_raw(u64::MAX - 3, 8), SysError::InvalidArgument)
}

pub fn print_of_unmapped_memory_is_an_invalid_argument(env: &Env) -> Outcome {
    expect_err(print_raw(page_va(0), 8), SysError::InvalidArgument)?;
    // One mapped page: text that starts on it and ends past it is refused as a whole.
    let t = Tables::build(env)?;
    let f = scratch(SPARE_SLOT);
    expect_ok(retype(env.ram, CapType::Frame, PAGE_SIZE, SPARE_OFFSET, 1, f))?;
    expect_ok(map(t.l3, 0, f, RW, 0, 1))?;
    expect_err(print_raw(page_va(1) - 4, 8), SysError::InvalidArgument)?;
    expect_err(print_raw(page_va(1), 1), SysError::InvalidArgument)
}

pub fn print_of_more_than_1024_bytes_is_a_range_error(_env: &Env) -> Outcome {
    let text = TEXT.as_ptr() as u64;
    expect_err(print_raw(text, PRINT_MAX + 1), SysError::RangeError)?;
    expect_err(print_raw(text, TEXT.len() as u64), SysError::RangeError)
}

pub fn print_of_no_text_succeeds(_env: &Env) -> Outcome {
    expect_ok(print_raw(TEXT.as_ptr() as u64, 0))
}
