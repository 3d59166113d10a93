#!/usr/bin/env bash
# Benchmarks img convert against qemu-img convert on the same source in a tmpfs, in the
# same run, and prints the ratios the project's targets are stated in (issue 8):
#   qcow2            img/qemu-img wall time <= 0.8
#   qcow2 -c zstd    <= 0.5, output no more than 1% larger
#   qcow2 -c zlib    <= 0.5, output no more than 1% larger
#   compressed->raw  <= 0.7
#   peak RSS of img  < 256 MiB in every case
# Source: a 4 GiB raw image holding ~1.5 GiB of real files (a tar of the system libraries
# and the Swift toolchain) in six 256 MiB pieces separated by holes.
#
# Usage: scripts/bench-convert.sh [--no-build]
# Environment: BENCH_DIR (default /dev/shm/img-bench), REPEAT (runs per case, best
# wall time kept; default 2), IMG (img binary; default the release build).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--no-build" ]]; then
    bash scripts/build-release.sh >/dev/null
fi
IMG=${IMG:-$PWD/.build-static/release/img}
BENCH_DIR=${BENCH_DIR:-/dev/shm/img-bench}
REPEAT=${REPEAT:-2}
mkdir -p "$BENCH_DIR"
trap 'rm -rf "$BENCH_DIR"' EXIT
SRC=$BENCH_DIR/src.raw

echo "building the source image in $BENCH_DIR ..." >&2
rm -f "$SRC"
truncate -s 4G "$SRC"
tar cf - /usr/lib /opt/swift 2>/dev/null | {
    for i in 0 1 2 3 4 5; do
        dd of="$SRC" bs=1M seek=$((i * 640)) count=256 conv=notrunc iflag=fullblock status=none
    done
    cat >/dev/null
} || true
echo "source: $(du -h --apparent-size "$SRC" | cut -f1) virtual, $(du -h "$SRC" | cut -f1) allocated" >&2

# run OUT CMD...: best wall time (s) of REPEAT runs and the peak RSS (KiB) -> "$wall $rss"
run() {
    local out=$1; shift
    local best="" rss=0
    for _ in $(seq "$REPEAT"); do
        rm -f "$out"
        /usr/bin/time -o "$BENCH_DIR/time.txt" -f "%e %M" "$@" >/dev/null 2>&1
        read -r w m <"$BENCH_DIR/time.txt"
        if [[ -z "$best" ]] || awk "BEGIN{exit !($w < $best)}"; then best=$w; fi
        (( m > rss )) && rss=$m
    done
    echo "$best $rss"
}

size() { stat -c %s "$1"; }
status=0
printf "%-18s %9s %9s %7s %7s %12s %12s %7s %9s\n" case qemu-s img-s ratio target qemu-bytes img-bytes size% img-MiB
report() { # name qemu img target qemuOut imgOut sizeCheck
    local name=$1 q=($2) m=($3) target=$4 qo=$5 mo=$6 sizecheck=$7
    local ratio pct rssMiB ok=PASS
    ratio=$(awk "BEGIN{printf \"%.2f\", ${m[0]} / ${q[0]}}")
    pct=$(awk "BEGIN{printf \"%.2f\", ($(size "$mo") / $(size "$qo") - 1) * 100}")
    rssMiB=$(( m[1] / 1024 ))
    awk "BEGIN{exit !($ratio <= $target)}" || ok=FAIL
    (( rssMiB < 256 )) || ok=FAIL
    if [[ $sizecheck == yes ]] && ! awk "BEGIN{exit !($pct <= 1.0)}"; then ok=FAIL; fi
    [[ $ok == PASS ]] || status=1
    printf "%-18s %9s %9s %7s %7s %12s %12s %7s %9s %s\n" "$name" "${q[0]}" "${m[0]}" "$ratio" "$target" \
        "$(size "$qo")" "$(size "$mo")" "$pct" "$rssMiB" "$ok"
}

Q=$BENCH_DIR/q.out M=$BENCH_DIR/m.out
bench() { # name target sizecheck src args...
    local name=$1 target=$2 sizecheck=$3 src=$4; shift 4
    local q m
    q=$(run "$Q" qemu-img convert "$@" "$src" "$Q")
    m=$(run "$M" "$IMG" convert "$@" "$src" "$M")
    LAST_QEMU=${q%% *}
    qemu-img compare -q "$src" "$M" || { echo "$name: img output differs from the source" >&2; status=1; }
    report "$name" "$q" "$m" "$target" "$Q" "$M" "$sizecheck"
}

bench "qcow2" 0.8 no "$SRC" -O qcow2
# The floor for any tool: writing the qcow2 output's bytes into a new tmpfs file with plain
# 2 MiB write(2) calls and no reading at all (tmpfs serializes writes to one file on its
# inode lock, so page allocation and copying there cannot be spread over cores).
floor=$(run "$BENCH_DIR/floor" dd if=/dev/zero of="$BENCH_DIR/floor" bs=2M count=$(( $(size "$Q") / (2 << 20) )) status=none)
rm -f "$BENCH_DIR/floor"
echo "write floor: dd of the same bytes into a new file takes ${floor%% *} s," \
     "$(awk "BEGIN{printf \"%.2f\", ${floor%% *} / $LAST_QEMU}") of qemu-img's qcow2 time"
bench "qcow2 -c zstd" 0.5 yes "$SRC" -O qcow2 -c -o compression_type=zstd
bench "qcow2 -c zlib" 0.5 yes "$SRC" -O qcow2 -c
# Compressed qcow2 to raw: the source is qemu-img's own zlib-compressed output.
COMP=$BENCH_DIR/compressed.qcow2
qemu-img convert -O qcow2 -c "$SRC" "$COMP"
bench "compressed -> raw" 0.7 no "$COMP" -O raw
echo "img: $IMG ($("$IMG" --version)); qemu-img: $(qemu-img --version | head -1); $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
