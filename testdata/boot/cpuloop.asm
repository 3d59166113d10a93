; CPU-bound real-mode loop for the interpreter speed benchmark: ALU, shifts, memory
; operands, string stores and branches, forever. The benchmark stops it with
; --max-instructions and divides by the wall time.
        bits 16
        org 0x7C00
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        cld
outer:
        mov cx, 1000
        mov di, 0x8000
inner:
        add ax, cx
        xor bx, ax
        shl bx, 1
        mov [di], bx
        add dx, [di]
        inc di
        adc si, dx
        stosb
        dec cx
        jnz inner
        call leaf
        jmp outer
leaf:
        push ax
        ror ax, 3
        pop ax
        ret
        times 510 - ($ - $$) db 0
        dw 0xAA55
