; Rung 3 volume boot record: loaded by an MBR at 0:7C00 with DL = drive and DS:SI
; pointing at its partition table entry. It prints where it was started from and exits.
        bits 16
        org 0x7C00
        cld
        mov eax, [si + 8]           ; partition start LBA from the MBR's entry
        xor bx, bx
        mov ds, bx
        mov [start_lba], eax
        mov si, msg
        call print
        mov eax, [start_lba]
        call print_hex32
        mov si, crlf
        call print
        mov al, 0x11                ; exit status (0x11 << 1) | 1 = 35
        out 0xF4, al
        cli
        hlt

print:
        lodsb
        test al, al
        jz .done
        call putc
        jmp print
.done:  ret

putc:                               ; screen through int 10h, and the debug console 0xE9
        out 0xE9, al
        mov ah, 0x0E
        mov bx, 7
        int 0x10
        ret

print_hex32:
        mov cx, 8
.next:  rol eax, 4
        push eax
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .digit
        add al, 7
.digit: call putc
        pop eax
        loop .next
        ret

start_lba: dd 0
msg:    db "VBR CHAINLOADED from LBA 0x", 0
crlf:   db 13, 10, 0
        times 510 - ($ - $$) db 0
        dw 0xAA55
