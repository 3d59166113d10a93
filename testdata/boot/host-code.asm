; 32-bit flat protected-mode workload for the blocks' host code (Sources/Emulator/CPU/
; Blocks/Host): every form it compiles, each at the start of its own block (where host
; code begins) with edge-case operands, its result and FLAGS folded into a checksum; ADC/
; SBB chains and conditional jumps on the record of each kind of operation inside one
; block; memory operands below the ROM, above 1 MiB, and in a line holding code.
; RunLoopTests runs it sliced and stepped; the checksum (defined flags only) is compared
; with QEMU's. Exit status 0x21 (-> 67).
        bits 16
        org 0x7C00
boot:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov ax, 0x0217              ; the rest of this file: sectors 2-24 to 0:7E00
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        jc real_fail
        in al, 0x92                 ; A20 on: data above 1 MiB
        or al, 2
        out 0x92, al
        jmp start
real_fail:
        mov al, 0x7F
        out 0xF4, al
        hlt
        times 510 - ($ - $$) db 0
        dw 0xAA55

LOW equ 0x80000                     ; data below the ROM
HIGH equ 0x110000                   ; data above 1 MiB

start:
        lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32

        bits 32
; Folds FLAGS (the bits in %1) and EAX, EBX, EDX into ESI, then starts a new block.
%macro OBSERVE 1
        pushfd
        pop ecx
        and ecx, %1
        add esi, ecx
        add esi, eax
        xor esi, ebx
        add esi, edx
        rol esi, 5
        jmp %%next
%%next:
%endmacro

; The instruction %2 at the start of a block, its flags observed through mask %1.
%macro CHECK 2
        jmp %%start
%%start:
        %2
        OBSERVE %1
%endmacro

; The same with two instructions.
%macro CHECK2 3
        jmp %%start
%%start:
        %2
        %3
        OBSERVE %1
%endmacro

ARITH equ 0x8D5                     ; CF PF AF ZF SF OF
LOGIC equ 0x8C5                     ; AF is undefined after AND/OR/XOR/TEST
SHIFTS equ 0x0C5                    ; OF and AF are undefined for counts above 1

; The eight ALU operations on the operands %1.
%macro ALU8 1
        CHECK ARITH, {add %1}
        CHECK LOGIC, {or %1}
        CHECK ARITH, {adc %1}
        CHECK ARITH, {sbb %1}
        CHECK LOGIC, {and %1}
        CHECK ARITH, {sub %1}
        CHECK LOGIC, {xor %1}
        CHECK ARITH, {cmp %1}
%endmacro

; Loads EAX, EBX, EDX and the memory operands from the value table (index EDI).
%macro OPERANDS 0
        mov eax, [values + edi * 4]
        mov ebx, [values + 4 + edi * 4]
        mov edx, [values + 8 + edi * 4]
        mov [LOW], ebx
        mov [HIGH], edx
        mov [ebp + 4], eax          ; (through EBP: mov [LOW + 4], eax would be A3, a form host code leaves alone)
%endmacro

pm32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x70000            ; clear of the code
        xor esi, esi                ; checksum
        xor edi, edi                ; value index
        mov ebp, LOW

pass:
        OPERANDS
        ALU8 {eax, ebx}
        ALU8 {ebx, 0x80000001}
        ALU8 {edx, [LOW]}
        OPERANDS
        ALU8 {dword [HIGH], eax}
        add esi, [HIGH]
        ALU8 {dword [LOW + 4], 0x7FFFFFFF}
        add esi, [LOW + 4]
        CHECK LOGIC, {test eax, edx}
        CHECK ARITH & ~1, {inc eax}
        CHECK ARITH & ~1, {dec edx}
        OPERANDS
        ; Shifts, each group on fresh operands (a shift's result is a poor next operand).
        CHECK ARITH, {shl eax, 1}
        CHECK SHIFTS, {shl ebx, 7}
        CHECK SHIFTS, {sal edx, 31}
        OPERANDS
        CHECK ARITH, {shr eax, 1}
        CHECK SHIFTS, {shr ebx, 13}
        CHECK SHIFTS, {shr edx, 31}
        OPERANDS
        CHECK ARITH, {sar eax, 1}
        CHECK SHIFTS, {sar ebx, 9}
        CHECK SHIFTS, {sar edx, 31}
        OPERANDS
        CHECK ARITH, {shld eax, ebx, 1}
        CHECK SHIFTS, {shld edx, eax, 12}
        CHECK SHIFTS, {shld ebx, edx, 31}
        OPERANDS
        CHECK ARITH, {shrd ebx, edx, 1}
        CHECK SHIFTS, {shrd eax, ebx, 31}
        CHECK SHIFTS, {shrd edx, eax, 20}
        CHECK ARITH, {shl eax, 0}   ; count 0: nothing changes, not even the flags
        CHECK ARITH, {shrd eax, ebx, 0}
        OPERANDS
        CHECK ARITH, {mov ecx, [HIGH]}
        CHECK ARITH, {lea ebx, [eax + edx * 4 + 0x1234]}
        CHECK ARITH, {mov [HIGH + 8], ebx}
        add esi, [HIGH + 8]
        CHECK ARITH, {mov dword [LOW + 8], 0xDEADBEEF}
        add esi, [LOW + 8]
        CHECK ARITH, {mov ebx, 0x13579BDF}
        CHECK ARITH, {mov edx, eax}

        ; Stack, memory increments, extensions, MUL, flag instructions, byte forms.
        OPERANDS
        CHECK ARITH, {push ebx}
        CHECK ARITH, {pop edx}
        CHECK ARITH, {push esp}     ; the old ESP
        CHECK ARITH, {pop eax}
        mov ebx, esp
        sub ebx, 0x100
        push ebx
        jmp pop_esp
pop_esp:                            ; POP ESP at a block start: ESP is the value popped
        pop esp
        mov eax, esp
        mov esp, 0x70000
        OBSERVE ARITH
        CHECK2 ARITH, {inc dword [HIGH]}, {mov edx, [HIGH]}
        CHECK2 ARITH, {dec dword [ebp + 4]}, {mov eax, [ebp + 4]}
        OPERANDS
        CHECK ARITH, {movzx eax, byte [values + 5]}
        CHECK ARITH, {movsx ebx, word [HIGH + 2]}
        CHECK ARITH, {movzx edx, bh}
        CHECK ARITH, {movsx eax, dx}
        CHECK ARITH, {movsx ebx, ah}
        OPERANDS
        CHECK 0x801, {mul ebx}      ; CF and OF only: the rest is undefined
        CHECK 0x801, {mul eax}
        CHECK ARITH, {stc}          ; FLAGS folded (after the ROL): CF in FLAGS
        CHECK ARITH, {cmc}
        CHECK ARITH, {clc}
        CHECK2 ARITH, {add eax, ebx}, {stc}    ; CF in the pending record
        CHECK2 ARITH, {sub eax, edx}, {cmc}
        CHECK2 ARITH, {and eax, edx}, {clc}
        CHECK2 ARITH, {stc}, {adc eax, ebx}
        CHECK 0x400, {std}
        CHECK 0x400, {cld}
        OPERANDS
        CHECK ARITH, {mov al, [HIGH + 1]}
        CHECK2 ARITH, {mov [HIGH + 3], dh}, {mov ebx, [HIGH]}
        CHECK ARITH, {add ah, 0x9C}
        CHECK ARITH, {cmp bl, 0x80}
        CHECK ARITH, {sub dh, 0x7F}
        CHECK LOGIC, {xor al, 0xAA}
        CHECK ARITH, {adc bh, 0xF0}
        CHECK LOGIC, {test bh, dl}
        CHECK LOGIC, {test al, 0x81}
        CHECK ARITH, {mov dh, 0xA5}
        ; A 16-bit stack segment: SP wraps, so host code leaves PUSH and POP to the runner.
        mov ax, 0x18
        mov ss, ax
        OPERANDS
        CHECK2 ARITH, {push eax}, {mov edx, esp}
        CHECK2 ARITH, {pop ebx}, {mov edx, esp}
        mov cx, 0x10
        mov ss, cx

        ; Carry chains and conditional jumps inside one block: each jump replays the
        ; record of the operation before it, a taken one skips the ADD after it.
        OPERANDS
        add eax, ebx
        adc edx, eax
        sbb ebx, edx
        adc eax, 0x40000000
        OBSERVE ARITH
%macro JUMPS 3                      ; %3: the operation whose record is tested
        OPERANDS
        %1
        %2
        %3
        jo %%o
        add esi, 1
%%o:    jno %%no
        add esi, 2
%%no:   jb %%b
        add esi, 4
%%b:    jae %%ae
        add esi, 8
%%ae:   je %%e
        add esi, 16
%%e:    jne %%ne
        add esi, 32
%%ne:   jbe %%be
        add esi, 64
%%be:   ja %%a
        add esi, 128
%%a:    js %%s
        add esi, 256
%%s:    jns %%ns
        add esi, 512
%%ns:   jp %%p
        add esi, 1024
%%p:    jnp %%np
        add esi, 2048
%%np:   jl %%l
        add esi, 4096
%%l:    jge %%ge
        add esi, 8192
%%ge:   jle %%le
        add esi, 16384
%%le:   jg %%g
        add esi, 32768
%%g:
        OBSERVE ARITH
%endmacro
        ; CF before ADC/SBB/INC/DEC: set by SUB 1 - 2, clear after SUB 1 - 1.
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {add eax, ebx}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {sub eax, edx}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {cmp ebx, eax}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {and eax, edx}
        JUMPS {mov ecx, 1}, {sub ecx, 2}, {adc eax, ebx}
        JUMPS {mov ecx, 1}, {sub ecx, 1}, {adc eax, ebx}
        JUMPS {mov ecx, 1}, {sub ecx, 2}, {sbb edx, eax}
        JUMPS {mov ecx, 1}, {sub ecx, 1}, {sbb edx, eax}
        JUMPS {mov ecx, 1}, {sub ecx, 2}, {inc eax}
        JUMPS {mov ecx, 1}, {sub ecx, 1}, {dec ebx}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {shr eax, 1}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {cmp bl, 0x80}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {add ah, 0x90}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {test dh, 0x81}
        JUMPS {mov ecx, ecx}, {mov ecx, ecx}, {mul edx}

        ; A loop within one block whose memory operand is in a line holding code (host
        ; code leaves such a store to the runner, which drops the block).
        mov ecx, 3
code_line_loop:
        add [code_line_data], ecx
        dec ecx
        jnz code_line_loop
        jmp code_line_done
code_line_data: dd 0x01020304
code_line_done:
        add esi, [code_line_data]
        OBSERVE ARITH

        ; A store into a line holding other code: the immediate of the MOV at
        ; patched_move changes every pass, and its block must be dropped each time.
        CHECK2 ARITH, {lea ecx, [edi * 8 + 3]}, {mov [patched_move + 1], ecx}
        jmp patched_move
        times 128 db 0xCC
patched_move:
        mov eax, 0x11111111
        OBSERVE ARITH

        ; A store into the BIOS ROM is ignored; the sum of what is read back goes to EDI
        ; at the end, left out of the checksum (QEMU's firmware area may be writable;
        ; RunLoopTests compares it with the interpreter's). Two lines away from the
        ; store above, so that its block is not dropped with the code it wrote over.
        jmp rom_store
        times 128 db 0xCC
rom_store:

        mov dword [0xFA010], 0x12345678
        mov ecx, [0xFA010]
        add [ebp + 64], ecx
        inc edi
        cmp edi, (values_end - values) / 4 - 2
        jb pass
        mov edi, [ebp + 64]

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

hex_digits: db "0123456789ABCDEF"
        align 4
values: dd 0x0F0F0F0F, 0x3C3C3C3C, 0x11111111, 0x99999999   ; passes 1-4: blocks get host code on their 5th run
        dd 0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x12345678, 0x80000001, 0xFFFFFFFE
        dd 0x55555555, 0xAAAAAAAA, 0x00008000, 0xFFFF7FFF, 0x00000080
values_end:
        align 8
gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 0x08: code, flat, 32-bit
        dq 0x00CF92000000FFFF       ; 0x10: data, flat
        dq 0x008F92000000FFFF       ; 0x18: data, flat, 16-bit (B clear): a 16-bit stack
gdt_desc:
        dw gdt_desc - gdt - 1
        dd gdt
        times 512 * 24 - ($ - $$) db 0
