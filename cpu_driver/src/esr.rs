//! Decoding the Exception Syndrome Register, so a fault report says what happened in words.
//!
//! Source: Arm ARM (DDI 0487), ESR_EL1 (D19.2.40): EC in bits 31:26, IL in bit 25, ISS in
//! 24:0; data/instruction abort ISS encodings and the fault status codes (DFSC/IFSC).

use core::fmt;

/// A decoded syndrome; its `Display` is one line such as
/// `ESR 0x96000045: data abort from EL1 (translation fault, level 1; write)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syndrome(pub u64);

impl Syndrome {
    /// Exception class, bits 31:26.
    pub const fn class(self) -> u8 {
        ((self.0 >> 26) & 0x3f) as u8
    }

    /// Instruction-specific syndrome, bits 24:0.
    pub const fn iss(self) -> u32 {
        (self.0 & 0x1ff_ffff) as u32
    }

    /// The exception class in words.
    pub fn class_name(self) -> &'static str {
        match self.class() {
            0x00 => "unknown reason (undefined instruction)",
            0x01 => "trapped WFI/WFE",
            0x07 => "trapped FP/SIMD access",
            0x0e => "illegal execution state",
            0x15 => "SVC from AArch64",
            0x16 => "HVC from AArch64",
            0x17 => "SMC from AArch64",
            0x18 => "trapped system register access",
            0x20 => "instruction abort from EL0",
            0x21 => "instruction abort from EL1",
            0x22 => "PC alignment fault",
            0x24 => "data abort from EL0",
            0x25 => "data abort from EL1",
            0x26 => "SP alignment fault",
            0x2c => "floating-point exception",
            0x2f => "SError interrupt",
            0x30 | 0x31 => "breakpoint",
            0x32 | 0x33 => "software step",
            0x34 | 0x35 => "watchpoint",
            0x3c => "BRK instruction",
            _ => "reserved exception class",
        }
    }

    /// True for instruction and data aborts, whose ISS carries a fault status code.
    pub const fn is_abort(self) -> bool {
        matches!(self.class(), 0x20 | 0x21 | 0x24 | 0x25)
    }

    /// True for data aborts caused by a write (ISS.WnR, bit 6).
    pub const fn is_write(self) -> bool {
        matches!(self.class(), 0x24 | 0x25) && self.iss() & (1 << 6) != 0
    }
}

/// The fault status code (DFSC/IFSC, ISS bits 5:0) in words.
pub fn fault_status_name(status: u32) -> (&'static str, Option<u32>) {
    let level = status & 0b11;
    match status & 0x3f {
        0x00..=0x03 => ("address size fault", Some(level)),
        0x04..=0x07 => ("translation fault", Some(level)),
        0x08..=0x0b => ("access flag fault", Some(level)),
        0x0c..=0x0f => ("permission fault", Some(level)),
        0x10 => ("synchronous external abort", None),
        0x11 => ("synchronous tag check fault", None),
        0x21 => ("alignment fault", None),
        0x30 => ("TLB conflict abort", None),
        0x31 => ("unsupported atomic hardware update", None),
        _ => ("other fault", None),
    }
}

impl fmt::Display for Syndrome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ESR {:#010x}: {}", self.0, self.class_name())?;
        if self.is_abort() {
            let (name, level) = fault_status_name(self.iss());
            write!(f, " ({name}")?;
            if let Some(level) = level {
                write!(f, ", level {level}")?;
            }
            if matches!(self.class(), 0x24 | 0x25) {
                write!(f, "; {}", if self.is_write() { "write" } else { "read" })?;
            }
            write!(f, ")")?;
        } else if self.class() == 0x15 {
            write!(f, " (#{})", self.iss() & 0xffff)?;
        } else if self.class() == 0x3c {
            write!(f, " (#{:#x})", self.iss() & 0xffff)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_translation_fault_at_el1_reads_as_such() {
        assert_eq!(
            Syndrome(0x9600_0045).to_string(),
            "ESR 0x96000045: data abort from EL1 (translation fault, level 1; write)"
        );
    }

    #[test]
    fn read_permission_fault_from_el0_names_level_and_direction() {
        assert_eq!(
            Syndrome(0x9200_000f).to_string(),
            "ESR 0x9200000f: data abort from EL0 (permission fault, level 3; read)"
        );
    }

    #[test]
    fn instruction_abort_has_no_direction() {
        assert_eq!(
            Syndrome(0x8600_0007).to_string(),
            "ESR 0x86000007: instruction abort from EL1 (translation fault, level 3)"
        );
    }

    #[test]
    fn brk_and_svc_show_their_immediates() {
        assert_eq!(Syndrome(0xf200_03e8).to_string(), "ESR 0xf20003e8: BRK instruction (#0x3e8)");
        assert_eq!(Syndrome(0x5600_0007).to_string(), "ESR 0x56000007: SVC from AArch64 (#7)");
    }

    #[test]
    fn undefined_instruction_is_class_zero() {
        assert_eq!(Syndrome(0x0200_0000).class_name(), "unknown reason (undefined instruction)");
    }

    #[test]
    fn alignment_fault_has_no_level() {
        assert_eq!(fault_status_name(0x21), ("alignment fault", None));
    }
}
