//! Errors the kernel returns, with stable numeric codes (the value in `x0` after a system
//! call; 0 means success).

use core::fmt;

/// A system call's failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum SysError {
    /// No system call has this number.
    InvalidSyscall = 1,
    /// The capability is of the wrong type for the operation (or the slot is empty).
    InvalidCapability = 2,
    /// The capability address does not resolve to a slot in the caller's CSpace.
    FailedLookup = 3,
    /// The destination slot is not empty: delete what is there first.
    SlotOccupied = 4,
    /// The memory is already (partly) retyped, or the object still has descendants:
    /// revoke first.
    RevokeFirst = 5,
    /// A size, count, index or offset is out of range.
    RangeError = 6,
    /// An address or size is not suitably aligned.
    AlignmentError = 7,
    /// The operation is not defined for this capability or in this state.
    IllegalOperation = 8,
    /// The capability lacks a right the operation needs.
    InsufficientRights = 9,
    /// Not enough memory (or address-space identifiers) to complete the operation.
    NotEnoughMemory = 10,
    /// The capability has copies or descendants on other cores: ask the monitor.
    RetryThroughMonitor = 11,
    /// An argument is invalid (a bad user pointer, an unknown flag).
    InvalidArgument = 12,
    /// The page-table entry is already in use.
    AlreadyMapped = 13,
    /// The capability is not mapped anywhere.
    NotMapped = 14,
    /// The endpoint's queue is full: try again later.
    WouldBlock = 15,
    /// The endpoint's receiver is gone.
    DeadEndpoint = 16,
    /// The source slot is empty.
    SlotEmpty = 17,
}

impl SysError {
    /// Every error, in code order.
    pub const ALL: [SysError; 17] = [
        SysError::InvalidSyscall,
        SysError::InvalidCapability,
        SysError::FailedLookup,
        SysError::SlotOccupied,
        SysError::RevokeFirst,
        SysError::RangeError,
        SysError::AlignmentError,
        SysError::IllegalOperation,
        SysError::InsufficientRights,
        SysError::NotEnoughMemory,
        SysError::RetryThroughMonitor,
        SysError::InvalidArgument,
        SysError::AlreadyMapped,
        SysError::NotMapped,
        SysError::WouldBlock,
        SysError::DeadEndpoint,
        SysError::SlotEmpty,
    ];

    /// The error with `code`, if there is one.
    pub fn from_code(code: u64) -> Option<SysError> {
        SysError::ALL.iter().copied().find(|e| *e as u64 == code)
    }

    pub const fn code(self) -> u64 {
        self as u64
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        for (i, e) in SysError::ALL.iter().enumerate() {
            assert_eq!(e.code(), i as u64 + 1);
            assert_eq!(SysError::from_code(e.code()), Some(*e));
        }
        assert_eq!(SysError::from_code(0), None);
        assert_eq!(SysError::from_code(999), None);
    }
}
