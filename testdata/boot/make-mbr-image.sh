#!/bin/sh
# Builds an 8 MiB disk for rung 3: install-mbr's boot code (Debian package mbr) in the MBR,
# one active partition at LBA 2048 whose first sector is our vbr.asm.
# Usage: make-mbr-image.sh OUTPUT
set -eu
PATH="$PATH:/usr/sbin:/sbin"
out=$1
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nasm -f bin -o "$tmp/vbr.bin" "$here/vbr.asm"
truncate -s 8M "$out"
# Partition 1: active, type 83h, LBA 2048, 14336 sectors; then the 55AA signature.
printf '\200\376\377\377\203\376\377\377\000\010\000\000\000\070\000\000' | dd of="$out" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$out" bs=1 seek=510 conv=notrunc status=none
dd if="$tmp/vbr.bin" of="$out" bs=512 seek=2048 conv=notrunc status=none
install-mbr "$out"
