#!/usr/bin/env bash
# Lifecycle operations timed against qemu-img on identical copies of the same files, in the
# same run: commit, safe rebase onto nothing, snapshot create + delete, amend refcount_bits.
# Prints each time and the ratio img/qemu-img (below 1: img is faster).
# Usage: scripts/bench-lifecycle.sh [data MiB, default 256]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-256}
IMG=$(bash scripts/build-release.sh 2>/dev/null)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc; }
ratio() { printf '%-34s img %7.3fs  qemu-img %7.3fs  ratio %.2f\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"; }

make_chain() {  # $1: directory
    mkdir -p "$1"
    qemu-img create -q -f qcow2 "$1/base.qcow2" 4G
    qemu-io -c "write -P 1 0 ${MIB}M" "$1/base.qcow2" >/dev/null
    qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "$1/top.qcow2"
    qemu-io -c "write -P 2 $((MIB / 2))M ${MIB}M" "$1/top.qcow2" >/dev/null
}

for tool in img qemu; do make_chain "$W/commit-$tool"; make_chain "$W/rebase-$tool"; make_chain "$W/snap-$tool"; done

a=$(timed "$IMG" commit -q "$W/commit-img/top.qcow2")
b=$(timed qemu-img commit -q "$W/commit-qemu/top.qcow2")
ratio "commit (${MIB} MiB overlay)" "$a" "$b"

a=$(timed "$IMG" rebase -q -b "" "$W/rebase-img/top.qcow2")
b=$(timed qemu-img rebase -q -b "" "$W/rebase-qemu/top.qcow2")
ratio "rebase -b \"\" (4 GiB virtual)" "$a" "$b"

snaps() {  # $1: tool, $2: image
    for i in 1 2 3 4 5 6 7 8; do "$1" snapshot -c "s$i" "$2"; done
    for i in 1 2 3 4 5 6 7 8; do "$1" snapshot -d "s$i" "$2"; done
}
a=$(timed snaps "$IMG" "$W/snap-img/base.qcow2")
b=$(timed snaps qemu-img "$W/snap-qemu/base.qcow2")
ratio "8 snapshot -c then 8 -d" "$a" "$b"

a=$(timed "$IMG" amend -o refcount_bits=64 "$W/snap-img/top.qcow2")
b=$(timed qemu-img amend -o refcount_bits=64 "$W/snap-qemu/top.qcow2")
ratio "amend refcount_bits=64" "$a" "$b"

for f in "$W"/*-img/*.qcow2; do qemu-img check -q "$f"; done
echo "all img results pass qemu-img check"
