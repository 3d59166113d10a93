; Echoes keys read with int 16h AH=00h to the debug console until Enter, after checking
; AH=01h reports a key as available; then exits with status (0x12 << 1) | 1.
        bits 16
        org 0x7C00
        xor ax, ax
        mov ds, ax
        sti
        mov ah, 0x01
        int 0x16
        jz fail                     ; the scripted keys must be waiting already
next:
        xor ah, ah
        int 0x16
        cmp al, 13
        je done
        out 0xE9, al
        jmp next
done:
        mov al, 0x12
        out 0xF4, al
fail:
        cli
        hlt
        times 510 - ($ - $$) db 0
        dw 0xAA55
