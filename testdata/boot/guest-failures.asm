; Small guests that end badly, selected by the assembler symbol CASE:
;   1: HLT with interrupts off (exit 2)     2: spins forever (timeout, exit 1)
;   3: triple fault via an empty IDT       4: undefined opcode (exit 2 naming it)
;   5: HLT with interrupts on but the timer masked at the PIC: nothing can wake it (exit 2)
        bits 16
        org 0x7C00
        xor ax, ax
        mov ds, ax
%if CASE == 1
        cli
        hlt
%elif CASE == 2
spin:   jmp spin
%elif CASE == 3
        lidt [empty_idt]
        int3
empty_idt: dw 0
        dd 0
%elif CASE == 5
        mov al, 0xFF
        out 0x21, al             ; mask every master line, the timer's included
        sti
        hlt
%else
        db 0x0F, 0x0B            ; UD2
%endif
        times 510 - ($ - $$) db 0
        dw 0xAA55
