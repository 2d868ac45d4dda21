//! The kernel's virtual address space, and how each core's tables are filled in.
//!
//! Every core's TTBR1 tables show:
//! - the kernel image at [`KERNEL_VBASE`]: text (read-only, executable at EL1), read-only
//!   data, and the `.shared` page that all cores map;
//! - the core's **private** `.data`/`.bss` and stacks, at the same virtual addresses on every
//!   core but backed by that core's own physical pages, with unmapped guard pages under each
//!   stack (a plain Rust `static` in the kernel is therefore per-core);
//! - a linear map of all RAM at [`LINEAR_BASE`] + physical address, and the devices the CPU
//!   driver uses, at the same offset but with Device attributes.
//!
//! TTBR0 holds an identity map of the kernel text only while the MMU is switched on; user
//! address spaces replace it later.
//!
//! The functions here are plain logic over a [`Mapper`], so the host tests check the exact
//! mappings each core gets.

use crate::addr::{PhysAddr, PhysRange, VirtAddr, PAGE_SIZE};
use crate::paging::{Attributes, MapError, Mapper, TableMemory};

/// Link address of the image (must match `boot/link.ld`). The top 512 GiB of the address
/// space: L0 index 511 of TTBR1.
pub const KERNEL_VBASE: u64 = 0xffff_ff80_0000_0000;
/// Physical address `pa` is visible to the kernel at `LINEAR_BASE + pa` (RAM and MMIO).
pub const LINEAR_BASE: u64 = 0xffff_0000_0000_0000;
/// The device tree blob passed by the loader is mapped here (plus its offset in its page)
/// before the linear map exists.
pub const FDT_WINDOW_VA: u64 = KERNEL_VBASE + (1 << 30);

/// Kernel virtual address of physical address `pa` in the linear map.
pub const fn phys_to_linear(pa: PhysAddr) -> VirtAddr {
    VirtAddr(LINEAR_BASE + pa.0)
}

/// Offsets of the image's regions from its start, as laid out by the linker script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub text_end: u64,
    /// Where the `.data` template (initial values) sits inside the read-only part.
    pub data_template: u64,
    pub shared_start: u64,
    pub shared_end: u64,
    pub bootpool_start: u64,
    pub bootpool_end: u64,
    pub percore_start: u64,
    pub data_end: u64,
    pub bss_end: u64,
    pub stack_bottom: u64,
    pub stack_top: u64,
    pub exception_stack_bottom: u64,
    pub exception_stack_top: u64,
    pub percore_end: u64,
}

impl Layout {
    /// Bytes of a core's private area (data, bss, guards and stacks).
    pub const fn percore_size(&self) -> u64 {
        self.percore_end - self.percore_start
    }
    /// Bytes of initialised `.data` each core starts with.
    pub const fn data_size(&self) -> u64 {
        self.data_end - self.percore_start
    }
    /// Bytes the boot core's image occupies from the load address: the `image_size` of the
    /// Image header.
    pub const fn image_size(&self) -> u64 {
        self.percore_end
    }
}

/// Whose tables are being built: the boot core's also map the boot page-table pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreRole {
    Boot,
    Secondary,
}

/// Maps the kernel image into one core's TTBR1 tables: shared text, read-only data and
/// `.shared` at `image_pa`, and that core's private area at `percore_pa`.
pub fn map_kernel_image<M: TableMemory>(
    m: &mut Mapper<'_, M>,
    layout: &Layout,
    image_pa: PhysAddr,
    percore_pa: PhysAddr,
    role: CoreRole,
) -> Result<(), MapError> {
    let va = |offset: u64| VirtAddr(KERNEL_VBASE + offset);
    let shared = |m: &mut Mapper<'_, M>, start: u64, end: u64, attrs| {
        m.map(va(start), image_pa.offset(start), end - start, attrs)
    };
    shared(m, 0, layout.text_end, Attributes::KERNEL_TEXT)?;
    shared(m, layout.text_end, layout.shared_start, Attributes::KERNEL_RODATA)?;
    shared(m, layout.shared_start, layout.shared_end, Attributes::KERNEL_DATA)?;
    if role == CoreRole::Boot {
        shared(m, layout.bootpool_start, layout.bootpool_end, Attributes::KERNEL_DATA)?;
    }
    let private = |m: &mut Mapper<'_, M>, start: u64, end: u64| {
        m.map(
            va(start),
            percore_pa.offset(start - layout.percore_start),
            end - start,
            Attributes::KERNEL_DATA,
        )
    };
    private(m, layout.percore_start, layout.bss_end)?;
    private(m, layout.stack_bottom, layout.stack_top)?;
    private(m, layout.exception_stack_bottom, layout.exception_stack_top)
}

/// Maps the kernel text at its physical address (into TTBR0 tables), so the instructions
/// that switch the MMU on keep executing until they branch to the kernel's virtual address.
pub fn map_identity_text<M: TableMemory>(
    m: &mut Mapper<'_, M>,
    layout: &Layout,
    image_pa: PhysAddr,
) -> Result<(), MapError> {
    m.map(VirtAddr(image_pa.0), image_pa, layout.text_end, Attributes::KERNEL_TEXT)
}

/// Maps all RAM into the linear map (cached, never executable) and each MMIO range with
/// Device attributes.
pub fn map_linear<M: TableMemory>(
    m: &mut Mapper<'_, M>,
    ram: &[PhysRange],
    mmio: &[PhysRange],
) -> Result<(), MapError> {
    for range in ram {
        m.map(phys_to_linear(range.base), range.base, range.size_bytes, Attributes::KERNEL_DATA)?;
    }
    for range in mmio {
        let base = range.base.align_down(PAGE_SIZE);
        let end = range.end().checked_align_up(PAGE_SIZE).ok_or(MapError::NonCanonical)?;
        m.map(phys_to_linear(base), base, end.0 - base.0, Attributes::DEVICE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::test_tables::VecTables;
    use crate::paging::{Access, MemoryKind};

    fn sample_layout() -> Layout {
        Layout {
            text_end: 0x2_0000,
            data_template: 0x2_8000,
            shared_start: 0x3_0000,
            shared_end: 0x3_4000,
            bootpool_start: 0x3_4000,
            bootpool_end: 0x5_4000,
            percore_start: 0x5_4000,
            data_end: 0x5_4100,
            bss_end: 0x5_8000,
            stack_bottom: 0x5_9000,
            stack_top: 0x6_9000,
            exception_stack_bottom: 0x6_a000,
            exception_stack_top: 0x6_e000,
            percore_end: 0x6_e000,
        }
    }

    fn attrs_at<M: TableMemory>(m: &mut Mapper<'_, M>, offset: u64) -> Option<(PhysAddr, Attributes)> {
        m.translate(VirtAddr(KERNEL_VBASE + offset)).map(|t| (t.pa, t.attrs.unwrap()))
    }

    #[test]
    fn secondary_core_sees_shared_text_and_its_own_private_data() {
        let l = sample_layout();
        let mut mem = VecTables::new(64);
        let mut m = Mapper::new(&mut mem).unwrap();
        let image = PhysAddr(0x4020_0000);
        let private = PhysAddr(0x4800_0000);
        map_kernel_image(&mut m, &l, image, private, CoreRole::Secondary).unwrap();
        assert_eq!(attrs_at(&mut m, 0x40), Some((image.offset(0x40), Attributes::KERNEL_TEXT)));
        assert_eq!(attrs_at(&mut m, l.text_end), Some((image.offset(l.text_end), Attributes::KERNEL_RODATA)));
        assert_eq!(
            attrs_at(&mut m, l.shared_start + 8),
            Some((image.offset(l.shared_start + 8), Attributes::KERNEL_DATA))
        );
        assert_eq!(attrs_at(&mut m, l.bootpool_start), None, "only the boot core maps the boot pool");
        assert_eq!(
            attrs_at(&mut m, l.percore_start + 16),
            Some((private.offset(16), Attributes::KERNEL_DATA))
        );
        let stack_top_byte = l.stack_top - 1;
        assert_eq!(
            attrs_at(&mut m, stack_top_byte).unwrap().0,
            private.offset(stack_top_byte - l.percore_start)
        );
    }

    #[test]
    fn guard_pages_under_both_stacks_are_unmapped() {
        let l = sample_layout();
        let mut mem = VecTables::new(64);
        let mut m = Mapper::new(&mut mem).unwrap();
        map_kernel_image(&mut m, &l, PhysAddr(0x4020_0000), PhysAddr(0x4800_0000), CoreRole::Boot).unwrap();
        assert_eq!(attrs_at(&mut m, l.stack_bottom - 8), None);
        assert_eq!(attrs_at(&mut m, l.exception_stack_bottom - 8), None);
        assert!(attrs_at(&mut m, l.stack_bottom).is_some());
        assert!(attrs_at(&mut m, l.bootpool_start).is_some());
    }

    #[test]
    fn nothing_writable_is_executable_in_the_kernel_image() {
        let l = sample_layout();
        let mut mem = VecTables::new(64);
        let mut m = Mapper::new(&mut mem).unwrap();
        map_kernel_image(&mut m, &l, PhysAddr(0x4020_0000), PhysAddr(0x4800_0000), CoreRole::Boot).unwrap();
        for offset in (0..l.percore_end).step_by(PAGE_SIZE as usize) {
            if let Some((_, attrs)) = attrs_at(&mut m, offset) {
                let executable = attrs.access == Access::KernelExecute;
                assert!(!(executable && offset >= l.text_end), "executable page at {offset:#x}");
            }
        }
    }

    #[test]
    fn linear_map_covers_ram_cached_and_mmio_as_device() {
        let mut mem = VecTables::new(64);
        let mut m = Mapper::new(&mut mem).unwrap();
        let ram = [PhysRange::new(PhysAddr(0x4000_0000), 128 << 20)];
        let uart = [PhysRange::new(PhysAddr(0x0900_0000), 0x200)];
        map_linear(&mut m, &ram, &uart).unwrap();
        let t = m.translate(phys_to_linear(PhysAddr(0x4100_0008))).unwrap();
        assert_eq!(t.pa, PhysAddr(0x4100_0008));
        assert_eq!(t.attrs.unwrap().kind, MemoryKind::Normal);
        let t = m.translate(phys_to_linear(PhysAddr(0x0900_0018))).unwrap();
        assert_eq!(t.attrs, Some(Attributes::DEVICE));
        assert_eq!(m.translate(phys_to_linear(PhysAddr(0x3fff_f000))), None);
    }
}
