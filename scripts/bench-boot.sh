#!/bin/bash
# Boot-time and interpreter-speed benchmark for `img boot`. Run it on an otherwise idle
# machine: wall times (and so the ratios) include time the process waits for a CPU.
#  - Wall time from start to marker for rungs 1 (own boot sector), 4 (SYSLINUX) and
#    5 (GRUB), for img boot and for qemu-system-x86_64 (TCG) on the same image in the
#    same run, and their ratio (target: img/qemu <= 0.25).
#  - Guest instructions per second on a CPU-bound real-mode loop (target: >= 50 million).
# Needs: swift, nasm, qemu-system-x86_64, python3 and the rung 4/5 tools (see testdata/boot).
# Usage: scripts/bench-boot.sh [runs]   (best of `runs`, default 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

img=$(bash "$root/scripts/build-release.sh" 2>/dev/null)

# Images.
nasm -f bin -o "$tmp/rung1.bin" "$root/testdata/boot/rung1.asm"
truncate -s 1M "$tmp/rung1.bin"
sh "$root/testdata/boot/make-syslinux-image.sh" "$tmp/rung4.raw" "BENCH RUNG4 MARKER"
sh "$root/testdata/boot/make-grub-image.sh" "$tmp/rung5.raw" "BENCH RUNG5 MARKER"
nasm -f bin -o "$tmp/cpuloop.bin" "$root/testdata/boot/cpuloop.asm"
truncate -s 64K "$tmp/cpuloop.bin"

now() { date +%s.%N; }

# Wall and CPU seconds from start until img boot sees the marker (best of $runs each).
time_img() {
    local image=$1 marker=$2 best=999 bestcpu=999 real user sys
    local TIMEFORMAT='%R %U %S'
    "$img" boot --expect "$marker" --timeout 60 "$image" >/dev/null 2>&1 || { echo "img boot missed '$marker'" >&2; exit 1; }
    for _ in $(seq "$runs"); do
        read -r real user sys < <( { time "$img" boot --expect "$marker" --timeout 60 "$image" >/dev/null 2>&1; } 2>&1 )
        best=$(echo "if ($real < $best) $real else $best" | bc -l)
        bestcpu=$(echo "if ($user + $sys < $bestcpu) $user + $sys else $bestcpu" | bc -l)
    done
    printf '%.3f %.3f\n' "$best" "$bestcpu"
}

# Seconds from start until QEMU shows the marker on the screen, COM1 or the debug console.
time_qemu() {
    local image=$1 marker=$2 best=999 t
    for _ in $(seq "$runs"); do
        t=$(python3 - "$image" "$marker" "$tmp" <<'PY'
import os, subprocess, sys, time
image, marker, tmp = sys.argv[1:4]
serial, debugcon, vga = (os.path.join(tmp, n) for n in ("q-serial", "q-debugcon", "q-vga"))
for f in (serial, debugcon, vga):
    if os.path.exists(f): os.remove(f)
start = time.time()
p = subprocess.Popen(["qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-m", "32", "-no-reboot",
                      "-drive", f"if=ide,format=raw,file={image},snapshot=on",
                      "-serial", f"file:{serial}", "-debugcon", f"file:{debugcon}",
                      "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-monitor", "stdio"],
                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def text():
    out = b""
    for f in (serial, debugcon):
        if os.path.exists(f): out += open(f, "rb").read()
    if os.path.exists(vga):
        out += bytes(open(vga, "rb").read()[0::2])
    return out
found = None
while time.time() - start < 60:
    if marker.encode() in text():
        found = time.time() - start
        break
    if p.poll() is not None:
        if marker.encode() in text(): found = time.time() - start
        break
    try:
        p.stdin.write(f'pmemsave 0xb8000 4000 "{vga}"\n'.encode()); p.stdin.flush()
    except BrokenPipeError:
        pass
    time.sleep(0.005)
try:
    p.stdin.write(b"quit\n"); p.stdin.flush()
except BrokenPipeError:
    pass
p.wait()
print(f"{found:.3f}" if found is not None else "fail")
PY
)
        [ "$t" = fail ] && { echo "qemu missed '$marker'" >&2; exit 1; }
        best=$(echo "if ($t < $best) $t else $best" | bc -l)
    done
    printf '%.3f' "$best"
}

printf '%-28s %10s %10s %10s %8s\n' "boot to marker (best of $runs)" "img s" "img cpu s" "qemu s" "ratio"
for rung in "1 rung1.bin RUNG1 OK" "4 rung4.raw BENCH RUNG4 MARKER" "5 rung5.raw BENCH RUNG5 MARKER"; do
    set -- $rung
    n=$1 file=$2; shift 2; marker="$*"
    read -r ti tc < <(time_img "$tmp/$file" "$marker")
    tq=$(time_qemu "$tmp/$file" "$marker")
    printf '%-28s %10s %10s %10s %8.3f\n' "rung $n" "$ti" "$tc" "$tq" "$(echo "$ti / $tq" | bc -l)"
done

# Interpreter speed: run exactly N guest instructions of the CPU-bound loop. Both wall time
# and the process's CPU time (user+sys) are reported: on a shared machine the wall figure
# also measures how much of a core the process was given.
n=500000000
best=999
bestcpu=999
TIMEFORMAT='%R %U %S'
for _ in $(seq "$runs"); do
    read -r real user sys < <( { time "$img" boot --max-instructions "$n" --timeout 600 "$tmp/cpuloop.bin" >/dev/null 2>&1; } 2>&1 )
    cpu=$(echo "$user + $sys" | bc -l)
    best=$(echo "if ($real < $best) $real else $best" | bc -l)
    bestcpu=$(echo "if ($cpu < $bestcpu) $cpu else $bestcpu" | bc -l)
done
printf 'interpreter: %d guest instructions in %.3f s wall = %.1f million instructions/s; %.3f s CPU = %.1f million/s (release build)\n' \
    "$n" "$best" "$(echo "$n / $best / 1000000" | bc -l)" "$bestcpu" "$(echo "$n / $bestcpu / 1000000" | bc -l)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
