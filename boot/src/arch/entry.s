// Flotilla entry code: the first instructions every core executes.
//
// Runs with the MMU off, so it must be position independent: only PC-relative addressing
// (adr/adrp) for anything inside the image. Literal-pool loads (`ldr xN, =sym`) give
// link-time virtual addresses and are used only to jump to, or point the stack at, the
// kernel's virtual addresses once the MMU is on.

.macro adr_l reg, sym
    adrp    \reg, \sym
    add     \reg, \reg, :lo12:\sym
.endm

// ---------------------------------------------------------------------------------------
// The Linux arm64 Image header (Documentation/arch/arm64/booting.rst). The loader jumps to
// byte 0 with x0 = physical address of the device tree blob.
.section .text.head, "ax"
.global _image_start
_image_start:
    b       primary_entry               // code0
    .word   0                           // code1
    .quad   0                           // text_offset: any 2 MiB-aligned base will do
    .quad   __image_size                // image_size: file plus .bss, stacks, page tables
    .quad   {image_flags}               // little-endian, 4 KiB pages, place anywhere
    .quad   0, 0, 0                     // reserved
    .word   {image_magic}               // "ARM\x64"
    .word   0                           // reserved (PE/COFF offset)

.section .text.boot, "ax"

// The boot core. x0 = device tree physical address (0 if the loader passed none).
.type primary_entry, %function
primary_entry:
    mov     x19, x0
    adr     x20, _image_start           // physical load address
    mrs     x22, CurrentEL              // reported by the CPU driver
    bl      drop_to_el1
    msr     daifset, #0xf

    // The boot core's private area sits right after the image, at the same offset from the
    // load address as from KERNEL_VBASE, so PC-relative addresses reach it before the MMU is on.
    adr_l   x0, __stack_top
    mov     sp, x0

    // This core's .data starts as a copy of the read-only template; .bss, the shared page
    // and the boot page-table pool start zeroed.
    adr_l   x0, __data_start
    adr_l   x1, __data_lma
    adr_l   x2, __data_end
1:  cmp     x0, x2
    b.hs    2f
    ldr     x3, [x1], #8
    str     x3, [x0], #8
    b       1b
2:  adr_l   x0, __bss_start
    adr_l   x1, __bss_end
    bl      zero_range
    adr_l   x0, __shared_start
    adr_l   x1, __bootpool_end
    bl      zero_range

    mov     x0, x19
    mov     x1, x20
    bl      {early_tables}              // -> x0 = TTBR0 root, x1 = TTBR1 root (0 on failure)
    cbz     x1, park
    bl      enable_mmu
    ldr     x8, =primary_virtual
    br      x8

// Secondary cores, released by PSCI CPU_ON or the spin-table. Each finds the tables the
// boot core built for it by looking its MPIDR up in the hand-off table.
.global secondary_entry
.type secondary_entry, %function
secondary_entry:
    mrs     x22, CurrentEL
    bl      drop_to_el1
    msr     daifset, #0xf
    mrs     x0, mpidr_el1
    ldr     x1, ={mpidr_mask}
    and     x0, x0, x1
    adr_l   x1, {handoff}
    mov     x2, #{handoff_count}
1:  cbz     x2, park
    ldr     x3, [x1, #{off_ttbr1}]
    cbz     x3, 2f                      // unused entry
    ldr     x4, [x1, #{off_mpidr}]
    cmp     x4, x0
    b.eq    3f
2:  add     x1, x1, #{handoff_stride}
    sub     x2, x2, #1
    b       1b
3:  ldr     x21, [x1, #{off_core_id}]
    ldr     x0, [x1, #{off_ttbr0}]
    ldr     x1, [x1, #{off_ttbr1}]
    bl      enable_mmu
    ldr     x8, =secondary_virtual
    br      x8

// x0 = start, x1 = end (both 8-byte aligned). Clobbers x0.
.type zero_range, %function
zero_range:
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:  ret

// Leaves EL2 for EL1 if entered at EL2; returns at EL1 either way. Clobbers x9.
.type drop_to_el1, %function
drop_to_el1:
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.eq    1f
    b.hi    park                        // EL3 entry is not supported
    ret
1:  mov     x9, #(1 << 31)              // HCR_EL2.RW: EL1 runs AArch64; nothing trapped
    msr     hcr_el2, x9
    mrs     x9, cnthctl_el2
    orr     x9, x9, #3                  // EL1PCTEN | EL1PCEN: EL1 may use the physical counter/timer
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr            // virtual counter == physical counter
    mrs     x9, id_aa64pfr0_el1
    ubfx    x9, x9, #24, #4             // GIC system register interface implemented?
    cbz     x9, 2f
    mrs     x9, S3_4_C12_C9_5           // ICC_SRE_EL2
    orr     x9, x9, #0x1                // SRE: system-register interface
    orr     x9, x9, #0x8                // Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x9
    isb
2:  mov     x9, #0x33ff                 // CPTR_EL2: RES1 bits only, FP/SIMD not trapped
    msr     cptr_el2, x9
    msr     hstr_el2, xzr
    msr     vttbr_el2, xzr
    ldr     x9, ={sctlr_el1_mmu_off}
    msr     sctlr_el1, x9
    mov     x9, #0x3c5                  // SPSR: EL1h, D/A/I/F masked
    msr     spsr_el2, x9
    msr     elr_el2, x30
    eret

// x0 = TTBR0 root, x1 = TTBR1 root. Turns the MMU and caches on. Clobbers x9, x10.
.type enable_mmu, %function
enable_mmu:
    ldr     x9, ={mair}
    msr     mair_el1, x9
    ldr     x9, ={tcr}
    mrs     x10, id_aa64mmfr0_el1
    and     x10, x10, #0xf              // PARange
    cmp     x10, #5
    b.ls    1f
    mov     x10, #5                     // 52-bit PAs need FEAT_LPA2 setup: use 48 bits
1:  bfi     x9, x10, #32, #3            // TCR_EL1.IPS
    msr     tcr_el1, x9
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x1
    isb
    tlbi    vmalle1
    ic      iallu
    dsb     nsh
    isb
    ldr     x9, ={sctlr_el1_mmu_on}
    msr     sctlr_el1, x9
    isb
    ret

.global park
.type park, %function
park:
    wfe
    b       park

// ---------------------------------------------------------------------------------------
// From here on the MMU is on and we run at kernel virtual addresses.
.section .text, "ax"

.type primary_virtual, %function
primary_virtual:
    ldr     x0, =__stack_top
    mov     sp, x0
    mov     x29, xzr                    // end of the frame-pointer chain for backtraces
    mov     x30, xzr
    mov     x0, x19
    mov     x1, x20
    lsr     x2, x22, #2
    bl      kernel_primary_main
    b       park

.type secondary_virtual, %function
secondary_virtual:
    ldr     x0, =__stack_top            // same address as on the boot core; this core's own pages
    mov     sp, x0
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x21
    lsr     x1, x22, #2
    bl      kernel_secondary_main
    b       park
