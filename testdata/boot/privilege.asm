; Privilege levels: IRET from ring 0 to ring 3, a system call from ring 3 through a DPL 3
; interrupt gate with the stack switched from the TSS, #GP(0) for CLI and HLT at CPL 3
; with IOPL 0, #GP for an interrupt gate with DPL 0 called from ring 3, and back to
; ring 0 for good. Reports on port 0xE9; exits (0x23 << 1) | 1, or 0x7F on failure.
        bits 16
        org 0x7C00
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00
        mov ax, 0x0203              ; the rest: sectors 2-4 to 0:7E00
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        lgdt [gdt_desc]
        lidt [idt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:ring0
        times 510 - ($ - $$) db 0
        dw 0xAA55

        bits 32
ring0:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x7000
        mov ax, 0x28                ; TSS: ring 0 stack for entries from ring 3
        ltr ax
        ; IRET to ring 3: SS, ESP, EFLAGS (IF=0, IOPL=0), CS, EIP.
        push dword 0x23             ; ring 3 data/stack selector (RPL 3)
        push dword 0x6000
        push dword 0x0002
        push dword 0x1B             ; ring 3 code selector (RPL 3)
        push dword ring3
        iretd

ring3:
        mov ax, 0x23
        mov ds, ax
        mov es, ax
        mov ax, cs
        and ax, 3
        cmp ax, 3
        jne fail3
        mov esi, msg_ring3
        int 0x30                    ; print through the ring 0 service (DPL 3 gate)
        mov dword [gp_count], 0
        cli                         ; CPL 3 > IOPL 0: #GP(0), skipped by the handler
        hlt                         ; privileged: #GP(0)
        int 0x31                    ; gate DPL 0: #GP(0x31*8+2)
        cmp dword [gp_count], 3
        jne fail3
        mov esi, msg_gp
        int 0x30
        int 0x32                    ; back to ring 0 for good
fail3:
        jmp fail3                   ; (ring 3 cannot do port I/O; spin until timeout)

; int 30h, ring 0: print DS:ESI on port E9; checks it came from ring 3 on the TSS stack.
print_service:
        cmp esp, 0x5000 - 20        ; ESP0 from the TSS minus the 5 pushed dwords
        jne fail
        mov eax, [esp + 4]          ; caller CS
        and eax, 3
        cmp eax, 3
        jne fail
.next:  lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp .next
.done:  iretd

; #GP handler: counts, checks the error code against the expected sequence, skips the
; faulting instruction (1 byte for CLI/HLT, 2 for INT n).
gp_handler:
        pop eax                     ; error code
        mov ebx, [gp_count]
        cmp eax, [gp_codes + ebx * 4]
        jne fail
        inc dword [gp_count]
        mov eax, [gp_lengths + ebx * 4]
        add [esp], eax
        iretd

to_ring0:
        mov ax, 0x10
        mov ds, ax
        mov esi, msg_done
.next:  lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp .next
.done:  mov al, 0x23
        out 0xF4, al
        hlt

fail:
        mov al, 0x7F
        out 0xF4, al
        hlt

gp_count:   dd 0
gp_codes:   dd 0, 0, 0x31 * 8 + 2
gp_lengths: dd 1, 1, 2
msg_ring3:  db "RING3 ok", 13, 10, 0
msg_gp:     db "GP ok", 13, 10, 0
msg_done:   db "RING0 again", 13, 10, 0

        align 8
gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 08: ring 0 code
        dq 0x00CF92000000FFFF       ; 10: ring 0 data
        dq 0x00CFFA000000FFFF       ; 18: ring 3 code
        dq 0x00CFF2000000FFFF       ; 20: ring 3 data
        dw 103, tss, 0x8900, 0      ; 28: 32-bit TSS (base below 64 KiB)
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

%macro gate 2                       ; offset, type/DPL byte
        dw %1, 0x08
        db 0, %2
        dw 0
%endmacro
        align 8
idt:
        times 13 dq 0
        gate gp_handler, 0x8E       ; 0Dh #GP
        times 0x30 - 14 dq 0
        gate print_service, 0xEE    ; 30h: DPL 3 interrupt gate
        gate fail, 0x8E             ; 31h: DPL 0, not callable from ring 3
        gate to_ring0, 0xEE         ; 32h
idt_end:
idt_desc:
        dw idt_end - idt - 1
        dd idt

        align 4
tss:
        dd 0
        dd 0x5000                   ; ESP0
        dd 0x10                     ; SS0
        times 23 dd 0
        times 2048 - ($ - $$) db 0
