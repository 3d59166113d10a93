; Checks BIOS services and devices against the machine img boot builds for a 1 MiB
; hard disk and 32 MiB of memory. Prints "BIOS OK" on the debug console and exits with
; (0x22 << 1) | 1, or prints "FAIL n" (n = number of the failed check) and exits 0x7F.
        bits 16
        org 0x7C00
%macro expect 1                     ; jump to failure number %1 unless ZF is set
        mov byte [check], %1
        jne fail
%endmacro
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        mov ax, 0x0204              ; rest of this file: sectors 2-5 to 0:7E00
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        jmp main
fail:
        mov si, msg_fail
        call print
        mov al, [check]
        aam                         ; AH = tens, AL = units
        add ax, '00'
        xchg al, ah
        out 0xE9, al
        mov al, ah
        out 0xE9, al
        mov al, 0x7F
        out 0xF4, al
        hlt
print:
        lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp print
.done:  ret
check:  db 0
msg_fail: db "FAIL ", 0
        times 510 - ($ - $$) db 0
        dw 0xAA55

main:
        int 0x12                    ; conventional memory below the EBDA
        cmp ax, 639
        expect 1
        int 0x11                    ; equipment: no floppy, 80x25 colour
        mov bx, ax
        and bx, 0x31
        cmp bx, 0x20
        expect 2
        mov ah, 0x88                ; KiB above 1 MiB
        int 0x15
        cmp ax, 31 * 1024
        expect 3
        mov ax, 0xE801
        int 0x15
        cmp ax, 15 * 1024
        expect 4
        cmp bx, 256                 ; 64 KiB blocks above 16 MiB
        expect 5

        ; E820: four entries, the last one usable RAM from 1 MiB to 32 MiB.
        xor ebx, ebx
        xor bp, bp
.e820:
        mov eax, 0xE820
        mov edx, 0x534D4150
        mov ecx, 20
        mov di, 0x6000
        int 0x15
        mov byte [check], 6
        jc fail
        cmp eax, 0x534D4150
        expect 7
        inc bp
        test ebx, ebx
        jnz .e820
        cmp bp, 4
        expect 8
        cmp dword [0x6000], 0x100000
        expect 9
        cmp dword [0x6008], 31 << 20
        expect 10
        cmp dword [0x6010], 1
        expect 11

        mov ah, 0xC0                ; configuration table: model byte FCh
        int 0x15
        cmp byte [es:bx + 2], 0xFC
        expect 12
        xor ax, ax
        mov es, ax
        mov ax, 0x2401              ; A20 on, then query
        int 0x15
        mov ax, 0x2402
        int 0x15
        cmp al, 1
        expect 13

        ; The timer tick advances while we halt (IRQ0 -> int 08h -> BDA 46Ch).
        xor ah, ah
        int 0x1A
        mov si, dx
        hlt
        hlt
        hlt
        xor ah, ah
        int 0x1A
        cmp dx, si
        mov byte [check], 14
        je fail
        mov ah, 0x02                ; RTC time, BCD
        int 0x1A
        mov byte [check], 15
        jc fail
        cmp ch, 0x23
        mov byte [check], 16
        ja fail

        mov ah, 0x08                ; hard disk geometry: 16 heads, 63 sectors, 1 drive
        mov dl, 0x80
        int 0x13
        mov byte [check], 17
        jc fail
        cmp dx, 0x0F01
        expect 18
        and cl, 0x3F
        cmp cl, 63
        expect 19
        mov word [0x6000], 0x1A     ; EDD drive parameters: 2048 sectors
        mov si, 0x6000
        mov ah, 0x48
        mov dl, 0x80
        int 0x13
        mov byte [check], 20
        jc fail
        cmp dword [0x6010], 2048
        expect 21

        mov ax, 0x0E41              ; teletype "AB", cursor at column 2
        int 0x10
        mov ax, 0x0E42
        int 0x10
        mov ah, 0x03
        xor bh, bh
        int 0x10
        cmp dx, 0x0002
        expect 22
        push ds
        mov ax, 0xB800
        mov ds, ax
        cmp word [0], 0x0741        ; 'A' grey on black in video memory
        pop ds
        expect 23
        mov ah, 0x0F
        int 0x10
        cmp ax, 0x5003
        expect 24

        cmp word [0x400], 0x3F8     ; BIOS data area: COM1, one hard disk, 80 columns
        expect 25
        cmp byte [0x475], 1
        expect 26
        cmp word [0x44A], 80
        expect 27

        ; PIT channel 2 in mode 0, gated through port 61h: OUT (bit 5) goes high.
        in al, 0x61
        and al, 0xFC
        or al, 1
        out 0x61, al
        mov al, 0xB0
        out 0x43, al
        mov al, 0x00
        out 0x42, al
        mov al, 0x10                ; 4096 ticks, about 3.4 ms
        out 0x42, al
        mov cx, 0xFFFF
.pit:   in al, 0x61
        test al, 0x20
        jnz .pit_done
        loop .pit
        mov byte [check], 28
        jmp fail
.pit_done:

        mov al, 0xAA                ; 8042 self-test
        out 0x64, al
.kbc:   in al, 0x64
        test al, 1
        jz .kbc
        in al, 0x60
        cmp al, 0x55
        expect 29
        mov dx, 0x3FF               ; UART scratch register
        mov al, 0x5A
        out dx, al
        in al, dx
        cmp al, 0x5A
        expect 30
        mov al, 0x10                ; CMOS: no floppy drives
        out 0x70, al
        in al, 0x71
        cmp al, 0
        expect 31

        mov si, msg_ok
        call print
        mov al, 0x22
        out 0xF4, al
        hlt
msg_ok: db "BIOS OK", 0
        times 2560 - ($ - $$) db 0
