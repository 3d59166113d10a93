; Rung 1 test boot sector: prints through int 10h and COM1, loads two more sectors with
; int 13h CHS (AH=02h) and one with the EDD packet call (AH=42h), checks what it read,
; then leaves through the isa-debug-exit port 0xF4.
        bits 16
        org 0x7C00

COM1    equ 0x3F8

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        mov [drive], dl

        call serial_init
        mov si, msg_hello
        call print

        ; CHS read: sectors 2-3 (cylinder 0, head 0) to 0:7E00, right after this sector,
        ; so the code assembled there runs at its assembled address.
        mov ax, 0x0202
        mov cx, 0x0002
        xor dh, dh
        mov dl, [drive]
        mov bx, 0x7E00
        int 0x13
        jc fail
        cmp word [0x7E00], 'S2'
        jne fail
        cmp word [0x8000], 'S3'
        jne fail

        ; LBA read: sector 3 (0-based) to 0:9000 through a disk address packet.
        mov ah, 0x41
        mov bx, 0x55AA
        mov dl, [drive]
        int 0x13
        jc fail
        cmp bx, 0xAA55
        jne fail
        mov si, dap
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
        jc fail
        cmp word [0x9000], 'S4'
        jne fail

        ; Write it back to LBA 5 with AH=43h, then read LBA 5 into 0:A000 and compare:
        ; the write must be visible to the guest (the image file itself stays unchanged).
        mov word [0x9000], 'W5'
        mov word [dap + 8], 5
        mov si, dap
        mov ax, 0x4300
        mov dl, [drive]
        int 0x13
        jc fail
        mov word [dap + 4], 0xA000
        mov si, dap
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
        jc fail
        cmp word [0xA000], 'W5'
        jne fail

        jmp 0x0000:stage2        ; run the code loaded from sector 2

fail:
        mov si, msg_fail
        call print
        mov al, 0x7F
        out 0xF4, al
        hlt

; Prints the zero-terminated string at DS:SI on the screen (int 10h) and COM1.
print:
        lodsb
        test al, al
        jz .done
        mov ah, 0x0E
        mov bx, 0x0007
        int 0x10
        call serial_put
        jmp print
.done:
        ret

serial_init:
        mov dx, COM1 + 3
        mov al, 0x80            ; DLAB
        out dx, al
        mov dx, COM1
        mov al, 1               ; 115200 baud
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, COM1 + 3
        mov al, 0x03            ; 8N1
        out dx, al
        ret

serial_put:
        push dx
        push ax
        mov dx, COM1 + 5
.wait:
        in al, dx
        test al, 0x20
        jz .wait
        pop ax
        mov dx, COM1
        out dx, al
        pop dx
        ret

drive:  db 0
dap:    db 0x10, 0
        dw 1                    ; sectors
        dw 0x9000, 0x0000       ; buffer offset, segment
        dq 3                    ; LBA
msg_hello: db "Hello from the rung 1 boot sector", 13, 10, 0
msg_fail:  db "RUNG1 FAILED", 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55

; Sector 2: a marker word, then code that reports success.
        dw 'S2'
stage2:
        mov si, msg_ok
        call print
        mov al, 0x10            ; exit status (0x10 << 1) | 1 = 33
        out 0xF4, al
        cli
        hlt
msg_ok: db "RUNG1 OK: CHS and LBA reads verified, write kept", 13, 10, 0
        times 1024 - ($ - $$) db 0

; Sector 3 and 4: markers only.
        dw 'S3'
        times 1536 - ($ - $$) db 0
        dw 'S4'
        times 2048 - ($ - $$) db 0
