#!/bin/bash
# Benchmark: img check vs qemu-img check on a qcow2 with 512-byte clusters, ~1.5 GiB of data
# (about 3 million clusters) and three internal snapshots; then -r all after zeroing every
# refcount block. Builds the image in tmpfs, prints wall time, max RSS and the ratios
# img/qemu-img measured in the same run.
#   usage: scripts/bench-check.sh [path-to-img]   (default: release build, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=${1:-$(bash scripts/build-release.sh 2>/dev/null)}
WORK=$(mktemp -d /dev/shm/bench-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src.qcow2
DATA_MB=${DATA_MB:-1536}
RUNS=${RUNS:-3}

echo "building ${DATA_MB} MiB of data in 512-byte clusters with 3 snapshots in $WORK ..."
head -c $((DATA_MB << 20)) /dev/urandom > "$WORK/raw"
qemu-img convert -O qcow2 -o cluster_size=512 "$WORK/raw" "$SRC"
rm "$WORK/raw"
for s in 1 2 3; do
    qemu-img snapshot -c "snap$s" "$SRC"
    qemu-io -c "write -P $s $((s * 256))M 32M" "$SRC" >/dev/null
done
qemu-img check "$SRC" | tail -2

# Runs a command RUNS times; prints the best wall time (s) and the max RSS (KiB) of that run.
measure() {
    local best="" rss=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" >/dev/null 2>&1 || true
        read -r t m < "$WORK/t"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
    done
    echo "$best $rss"
}

# Zeroes every refcount block the refcount table names.
zero_refblocks() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], 'r+b')
h = f.read(64)
cbits = struct.unpack('>I', h[20:24])[0]; cs = 1 << cbits
rt_off = struct.unpack('>Q', h[48:56])[0]; rt_cl = struct.unpack('>I', h[56:60])[0]
f.seek(rt_off); rt = f.read(rt_cl * cs)
for i in range(0, len(rt), 8):
    off = struct.unpack('>Q', rt[i:i+8])[0] & ~0x1ff
    if off:
        f.seek(off); f.write(b'\0' * cs)
PY
}

read -r qt qm < <(measure qemu-img check "$SRC")
read -r it im < <(measure "$IMG" check "$SRC")
echo "check:        qemu-img ${qt}s ${qm}KiB   img ${it}s ${im}KiB   time ratio $(awk "BEGIN{printf \"%.2f\", $it/$qt}")x   rss ratio $(awk "BEGIN{printf \"%.2f\", $im/$qm}")x"

# -r all after zeroing the refcount blocks: every run on a fresh damaged copy.
cp "$SRC" "$WORK/damaged.qcow2"; zero_refblocks "$WORK/damaged.qcow2"
repair() { cp "$WORK/damaged.qcow2" "$WORK/r.qcow2"; /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" "$WORK/r.qcow2" >/dev/null 2>&1 || true; cat "$WORK/t"; }
best_repair() {
    local best="" rss=""
    for _ in $(seq "$RUNS"); do
        read -r t m < <(repair "$@")
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
    done
    echo "$best $rss"
}
read -r qt qm < <(best_repair qemu-img check -r all)
qemu-img check "$WORK/r.qcow2" >/dev/null && q_ok=clean || q_ok=NOT-clean
read -r it im < <(best_repair "$IMG" check -r all)
qemu-img check "$WORK/r.qcow2" >/dev/null && i_ok=clean || i_ok=NOT-clean
echo "check -r all: qemu-img ${qt}s ${qm}KiB ($q_ok)   img ${it}s ${im}KiB ($i_ok)   time ratio $(awk "BEGIN{printf \"%.2f\", $it/$qt}")x   rss ratio $(awk "BEGIN{printf \"%.2f\", $im/$qm}")x"
