//! QEMU test harness (filled in below).
