; Boot sector for the boot fuzz target's seed: reads the whole disk through the BIOS, one
; 8-sector chunk at a time with int 13h AH=42h (LBA), then sectors 2-3 again with AH=02h
; (CHS), so every sector a mutated image describes is read through the format layer; then
; exits through the debug port with status (0x21 << 1) | 1.
        bits 16
        org 0x7C00
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00
        mov [drive], dl
next:   mov si, packet
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
        jc chs                      ; past the end (or a read error): stop
        add dword [packet + 8], 8
        jmp next
chs:    mov ax, 0x0202              ; two sectors from cylinder 0, head 0, sector 2
        mov cx, 0x0002
        xor dh, dh
        mov dl, [drive]
        mov bx, 0x0800
        mov es, bx
        xor bx, bx
        int 0x13
        mov al, 0x21
        out 0xF4, al
        cli
        hlt
drive:  db 0
        align 4
packet: db 16, 0                    ; disk address packet: size, reserved
        dw 8                        ; sectors per read
        dw 0, 0x0800                ; buffer 0800:0000
        dq 0                        ; LBA
        times 510 - ($ - $$) db 0
        dw 0xAA55
