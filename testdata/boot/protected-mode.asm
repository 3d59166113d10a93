; Protected-mode round trip, reported on the debug console (port 0xE9):
;  A20 through the 8042 and port 92h, CPUID, GDT/IDT load, far jump to 32-bit code,
;  a #GP with its error code from loading a selector beyond the GDT limit, a #NP from a
;  not-present segment, a software interrupt through a 32-bit trap gate, a 16-bit
;  protected-mode segment, and the way back to real mode, where int 10h works again.
; Exit status 0x21 (-> 67) on success, 0x7F (-> 255) on the first failed check.
        bits 16
        org 0x7C00
boot:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov ax, 0x0204              ; the rest of this file: sectors 2-5 to 0:7E00
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        jc fail
        jmp start
fail:
        mov al, 0x7F
        out 0xF4, al
        hlt
        times 510 - ($ - $$) db 0
        dw 0xAA55

start:
        cli

        ; A20 through the keyboard controller, checked by the 1 MiB wrap-around.
        call kbc_wait
        mov al, 0xD1
        out 0x64, al
        call kbc_wait
        mov al, 0xDF
        out 0x60, al
        call a20_on
        jz fail
        ; ... off again through port 92h, then on.
        in al, 0x92
        and al, ~2
        out 0x92, al
        call a20_on
        jnz fail
        in al, 0x92
        or al, 2
        out 0x92, al
        call a20_on
        jz fail
        mov si, msg_a20
        call debug_print

        ; CPUID exists (EFLAGS.ID toggles) and names a vendor.
        pushfd
        pop eax
        mov ecx, eax
        xor eax, 1 << 21
        push eax
        popfd
        pushfd
        pop eax
        cmp eax, ecx
        je fail
        xor eax, eax
        cpuid
        mov [vendor], ebx
        mov [vendor + 4], edx
        mov [vendor + 8], ecx
        mov si, msg_cpuid
        call debug_print
        mov si, vendor
        call debug_print
        mov si, crlf
        call debug_print

        lgdt [gdt_desc]
        lidt [idt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32

        bits 32
pm32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x7000
        mov esi, msg_pm
        call debug_print32

        ; #GP(selector) for a selector past the GDT limit.
        mov dword [expect_vector], 13
        mov dword [expect_code], 0x0F8
        mov dword [resume], after_gp
        mov ax, 0x0F8
        mov fs, ax
        jmp fail32
after_gp:
        ; #NP(selector) for a data segment whose present bit is clear.
        mov dword [expect_vector], 11
        mov dword [expect_code], 0x28
        mov dword [resume], after_np
        mov ax, 0x28
        mov gs, ax
        jmp fail32
after_np:
        ; #GP(0) from a dword read crossing the 4 KiB limit of selector 30h; the
        ; instruction is undone, so EBX keeps its old value.
        mov ax, 0x30
        mov fs, ax
        mov ebx, [fs:0x0FFC]            ; inside the limit
        mov dword [expect_vector], 13
        mov dword [expect_code], 0
        mov dword [resume], after_limit
        mov ebx, 0x11111111
        mov ebx, [fs:0x0FFE]
        jmp fail32
after_limit:
        cmp ebx, 0x11111111
        jne fail32
        ; int 0x40 through a 32-bit trap gate, returning with IRETD.
        mov dword [swint_hits], 0
        int 0x40
        cmp dword [swint_hits], 1
        jne fail32
        ; A 32-bit data segment with a 4 GiB limit reaches above 1 MiB.
        mov dword [0x200000], 0x12345678
        cmp dword [0x200000], 0x12345678
        jne fail32
        mov esi, msg_exc
        call debug_print32

        ; Back to real mode through a 16-bit protected-mode code segment.
        jmp 0x18:pm16
        bits 16
pm16:
        mov ax, 0x20
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, cr0
        and al, ~1
        mov cr0, eax
        jmp 0:real_again
real_again:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        lidt [real_idt]
        sti
        mov si, msg_real
        call debug_print
        mov ah, 0x0E
        mov al, '!'
        int 0x10
        mov al, 0x21
        out 0xF4, al
        hlt

; ZF clear when A20 is on: 0:0500 and FFFF:0510 are different bytes.
a20_on:
        push ds
        mov ax, 0xFFFF
        mov ds, ax
        mov byte [es:0x0500], 0x00
        mov byte [ds:0x0510], 0xFF
        cmp byte [es:0x0500], 0xFF
        pop ds
        ret

kbc_wait:
        in al, 0x64
        test al, 2
        jnz kbc_wait
        ret

debug_print:
        lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp debug_print
.done:  ret

        bits 32
debug_print32:
        lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp debug_print32
.done:  ret

fail32:
        mov al, 0x7F
        out 0xF4, al
        hlt

; Fault handler for #GP and #NP: checks vector and error code, resumes at [resume].
fault_gp:
        push dword 13
        jmp fault_common
fault_np:
        push dword 11
fault_common:
        pop eax
        cmp eax, [expect_vector]
        jne fail32
        pop eax                     ; error code
        cmp eax, [expect_code]
        jne fail32
        mov eax, [resume]
        mov [esp], eax              ; return to the resume point
        iretd

swint:
        inc dword [swint_hits]
        iretd

expect_vector: dd 0
expect_code:   dd 0
resume:        dd 0
swint_hits:    dd 0
vendor:        times 13 db 0

        align 8
gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 08: 32-bit code, 4 GiB
        dq 0x00CF92000000FFFF       ; 10: 32-bit data, 4 GiB
        dq 0x00009A000000FFFF       ; 18: 16-bit code, 64 KiB
        dq 0x000092000000FFFF       ; 20: 16-bit data, 64 KiB
        dq 0x00CF12000000FFFF       ; 28: data, not present
        dq 0x0000920000000FFF       ; 30: data, limit 4 KiB
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

%macro gate 2                       ; offset, type byte
        dw %1, 0x08
        db 0, %2
        dw 0
%endmacro
        align 8
idt:
        times 11 dq 0
        gate fault_np, 0x8E         ; 11 #NP
        dq 0
        gate fault_gp, 0x8E         ; 13 #GP
        times 0x40 - 14 dq 0
        gate swint, 0x8F            ; 40h: 32-bit trap gate
idt_end:
idt_desc:
        dw idt_end - idt - 1
        dd idt
real_idt:
        dw 0x3FF
        dd 0

msg_a20:   db "A20 ok", 13, 10, 0
msg_cpuid: db "CPUID ", 0
crlf:      db 13, 10, 0
msg_pm:    db "PM32 ok", 13, 10, 0
msg_exc:   db "EXCEPTIONS ok", 13, 10, 0
msg_real:  db "REAL MODE AGAIN", 13, 10, 0
        times 2560 - ($ - $$) db 0
