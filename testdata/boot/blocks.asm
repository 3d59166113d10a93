; 32-bit flat protected-mode workload for the compiled blocks (Sources/Emulator/CPU/Blocks):
; every specialized micro-op form with registers and memory, taken and not-taken branches,
; LOOP/JECXZ, calls, flags through PUSHFD/POPFD, code that rewrites an immediate and an
; opcode later in its own block, and A20 changes (which drop every block) inside a block.
; RunLoopTests runs it sliced (blocks) and stepped (the interpreter) at many budgets; the
; guest checks its own results and writes a checksum.
; Exit status 0x21 (-> 67) on success, 0x7F (-> 255) on a failed check.
        bits 16
        org 0x7C00
boot:
        cli
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
        jc real_fail
        jmp start
real_fail:
        mov al, 0x7F
        out 0xF4, al
        hlt
        times 510 - ($ - $$) db 0
        dw 0xAA55

start:
        lgdt [gdt_desc]
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
        mov esp, 0x9000
        mov ebp, data
        xor esi, esi                ; checksum

        ; ALU forms: all eight operations, register/register, register/memory and immediates.
        mov ecx, 40
        mov eax, 0x12345678
        mov ebx, 0x9ABCDEF0
alu_loop:
        add eax, ebx
        adc ebx, ecx
        sub eax, ecx
        sbb edx, eax
        and ebx, 0xFFF0FFFF
        or edx, ecx
        xor eax, edx
        cmp eax, ebx
        setb dl
        add [ebp], eax
        sub [ebp + 4], ebx
        xor ebx, [ebp]
        adc eax, [ebp + 4]
        sub ebx, [ebp + 4]
        sbb eax, [ebp]
        cmp edx, [ebp + 8]
        adc esi, 0
        cmp [ebp + 8], ecx
        adc dword [ebp + 8], 3
        sbb dword [ebp + 12], 0x11
        and dword [ebp + 12], 0x7FFFFFFF
        or eax, 0x101
        add esi, eax
        add esi, ebx
        add esi, edx
        dec ecx
        jnz alu_loop

        ; Byte operations, TEST, shifts, LEA with a scaled index, MOVZX and MOVSX.
        mov ecx, 30
        lea edi, [ebp + 16]
byte_loop:
        mov [edi + ecx], cl
        mov al, [edi + ecx]
        cmp al, 7
        adc al, 0x20
        and al, 0x3F
        test eax, eax
        test ecx, [ebp]
        test eax, 0x10
        test al, 1
        jz .even
        shl eax, 3
        jmp .shifted
.even:
        shr eax, 1
        sar ebx, 5
        rol edx, 7
.shifted:
        lea ebx, [ebx + ecx * 4 + 0x100]
        movzx edx, byte [edi + ecx]
        movsx eax, byte [edi + ecx - 1]
        movzx ebx, bx
        movsx edx, dx
        mov byte [ebp + 80], 0xF0
        movsx edx, byte [ebp + 80]
        movzx eax, word [ebp + 80]
        add esi, eax
        add esi, ebx
        add esi, edx
        loop byte_loop

        ; Stack, calls, flags and the carry/direction operations.
        mov ecx, 25
stack_loop:
        push ecx
        push esi
        call leaf
        pop ebx
        pop edx
        stc
        adc esi, edx
        clc
        adc esi, ebx
        cmc
        adc esi, 0
        pushfd
        pop eax
        and eax, 0x8D5
        add esi, eax
        std
        cld
        push eax
        popfd
        inc edx
        dec ebx
        inc dword [ebp + 96]
        dec dword [ebp + 100]
        add esi, [ebp + 96]
        add esi, [ebp + 100]
        dec ecx
        jnz stack_loop
        xor ecx, ecx
        jecxz .no_count
        jmp fail
.no_count:

        ; MUL, SHRD/SHLD with registers and memory, MOV immediate forms.
        mov ecx, 20
        mov dword [ebp + 104], 0x13579BDF
mul_loop:
        mov eax, 0x0DEADBEF
        mov edx, ecx
        mul edx
        mul dword [ebp + 104]
        add esi, eax
        add esi, edx
        mov ebx, 0xCAFEF00D
        shrd eax, ebx, 7
        shld edx, eax, 3
        shrd [ebp + 104], ebx, 5
        shld [ebp + 108], edx, 11
        mov dword [ebp + 112], 0x55AA55AA
        mov edi, 0xA5A5A5A5
        add esi, eax
        add esi, edx
        add esi, [ebp + 104]
        add esi, [ebp + 108]
        add esi, [ebp + 112]
        add esi, edi
        loop mul_loop

        ; Self-modifying code: each store rewrites an immediate or an opcode that comes
        ; right after it in the same straight-line run; the new bytes must be the ones
        ; executed. One store form per run: dword, byte, and read-modify-write.
        mov ecx, 6
smc_loop:
        mov [patch_imm + 1], ecx
patch_imm:
        mov eax, 0x11111111
        cmp eax, ecx
        jne fail
        mov dl, 0x40
        mov [patch_op], dl          ; INC EAX over the NOP
patch_op:
        nop
        lea edx, [ecx + 1]
        cmp eax, edx
        jne fail
        mov dl, 0x90
        mov [patch_op], dl
        mov dword [patch_add + 1], 0
        add dword [patch_add + 1], ecx
patch_add:
        mov ebx, 0x22222222
        cmp ebx, ecx
        jne fail
        add esi, eax
        add esi, ebx
        loop smc_loop

        ; Branches within one block: a backward JNZ to the middle of its block with a
        ; forward skip inside, LOOP, a JMP back to the block's start (left by a JB just
        ; past the block's end), and a loop whose store rewrites an immediate the next
        ; pass runs. Each loop fits in the two 64-byte lines a block may span.
        align 64
        mov ecx, 37
        xor eax, eax
        xor edx, edx
within_jnz:
        add eax, ecx
        adc edx, 0
        test cl, 1
        jz .even
        xor eax, 0x55
.even:
        dec ecx
        jnz within_jnz
        add esi, eax
        add esi, edx
        mov ecx, 23
within_loop:
        rol eax, 3
        add edx, eax
        loop within_loop
        add esi, edx
        align 64
        mov ecx, 50
within_jmp:
        sub ecx, 3
        jb .done
        add esi, ecx
        jmp within_jmp
.done:
        align 64
        mov ecx, 5
        xor eax, eax
within_smc:
        add eax, 0x11111111
        mov [within_smc + 1], ecx   ; the ADD's immediate, run by the next pass
        dec ecx
        jnz within_smc
        cmp eax, 0x11111111 + 5 + 4 + 3 + 2
        jne fail
        add esi, eax

        ; The A20 gate off and on through port 92h in the middle of a run: each change drops
        ; every compiled block (the one running included), and the loop goes on correctly.
        mov ecx, 4
a20_loop:
        in al, 0x92
        and al, ~2
        out 0x92, al
        add esi, ecx
        or al, 2
        out 0x92, al
        rol esi, 3
        loop a20_loop

        ; Report: the checksum on the debug console as 8 hex digits, then the exit.
        mov ecx, 8
hex_loop:
        rol esi, 4
        mov eax, esi
        and eax, 15
        mov al, [hex_digits + eax]
        out 0xE9, al
        loop hex_loop
        mov al, 0x21
        out 0xF4, al
        hlt

leaf:
        mov eax, [esp + 4]
        add eax, [esp + 8]
        xor esi, eax
        ret

fail:
        mov al, 0x7F
        out 0xF4, al
        hlt

hex_digits: db "0123456789ABCDEF"
        align 8
gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 0x08: code, flat, 32-bit
        dq 0x00CF92000000FFFF       ; 0x10: data, flat
gdt_desc:
        dw gdt_desc - gdt - 1
        dd gdt
        align 16
data:
        times 128 db 0x5A
        times 512 * 5 - ($ - $$) db 0
