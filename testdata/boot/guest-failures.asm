; Small guests that end badly, selected by the assembler symbol CASE:
;   1: HLT with interrupts off (exit 2)     2: spins forever (timeout, exit 1)
;   3: triple fault via an empty IDT       4: undefined opcode (exit 2 naming it)
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
%else
        db 0x0F, 0x0B            ; UD2
%endif
        times 510 - ($ - $$) db 0
        dw 0xAA55
