// The exception vector table (Arm ARM D1.10.2): 16 entries of 0x80 bytes, 2 KiB aligned.
//
// Every entry saves the interrupted context in an ExceptionFrame on the current stack and
// calls `handle_exception(kind, frame)`. Entries taken from EL1 first check for a kernel
// stack overflow: if the stack pointer has run into the guard page under the kernel stack,
// nothing can be pushed there, so they switch to the per-core exception stack first and tell
// the handler (kind | OVERFLOW).

.macro ENTRY_EL1 kind
    .balign 0x80
    msr     tpidr_el1, x0               // scratch: the only free register here
    ldr     x0, =__stack_bottom + {frame_size}
    cmp     sp, x0
    mrs     x0, tpidr_el1
    b.lo    1f
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp]
    mov     x0, #\kind
    b       save_rest
1:  ldr     x0, =__exception_stack_top - {frame_size}
    mov     sp, x0
    mrs     x0, tpidr_el1
    stp     x0, x1, [sp]
    mov     x0, #(\kind | {overflow})
    b       save_rest
.endm

.macro ENTRY_OTHER kind
    .balign 0x80
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp]
    mov     x0, #\kind
    b       save_rest
.endm

.section .text.vectors, "ax"
.balign 2048
.global exception_vectors
.type exception_vectors, %function
exception_vectors:
    // Current EL, SP_EL0 (never used by Flotilla's kernel)
    ENTRY_OTHER {kind_unexpected}
    ENTRY_OTHER {kind_unexpected}
    ENTRY_OTHER {kind_unexpected}
    ENTRY_OTHER {kind_unexpected}
    // Current EL, SP_ELx: faults and interrupts in the CPU driver
    ENTRY_EL1 {kind_el1_sync}
    ENTRY_EL1 {kind_el1_irq}
    ENTRY_EL1 {kind_el1_fiq}
    ENTRY_EL1 {kind_el1_serror}
    // Lower EL, AArch64: user programs
    ENTRY_OTHER {kind_el0_sync}
    ENTRY_OTHER {kind_el0_irq}
    ENTRY_OTHER {kind_el0_fiq}
    ENTRY_OTHER {kind_el0_serror}
    // Lower EL, AArch32: not supported
    ENTRY_OTHER {kind_unexpected}
    ENTRY_OTHER {kind_unexpected}
    ENTRY_OTHER {kind_unexpected}
    ENTRY_OTHER {kind_unexpected}

// x0 = kind; x0/x1 of the interrupted context are saved at [sp]. Saves the rest, calls the
// handler, restores everything (the handler may have changed the frame) and returns.
.type save_rest, %function
save_rest:
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x1, elr_el1
    stp     x30, x1, [sp, #16 * 15]
    mrs     x2, spsr_el1
    mrs     x3, esr_el1
    stp     x2, x3, [sp, #16 * 16]
    mrs     x4, far_el1
    str     x4, [sp, #16 * 17]
    mov     x1, sp
    bl      {handler}
// Returns to the context in the frame at sp (also the way into EL0 for a new dispatcher).
.global exception_return
.type exception_return, %function
exception_return:
    ldp     x2, x3, [sp, #16 * 16]
    msr     spsr_el1, x2
    ldp     x30, x1, [sp, #16 * 15]
    msr     elr_el1, x1
    ldp     x28, x29, [sp, #16 * 14]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x0, x1, [sp]
    add     sp, sp, #{frame_size}
    eret
