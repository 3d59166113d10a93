#!/bin/sh
# Builds a 32 MiB disk for rung 4: SYSLINUX's mbr.bin, one active FAT16 partition at
# LBA 2048 made with mkfs.fat and installed with the mtools build of syslinux (no root),
# and a syslinux.cfg whose SAY line is the test marker.
# Usage: make-syslinux-image.sh OUTPUT MARKER
set -eu
PATH="$PATH:/usr/sbin:/sbin"
out=$1
marker=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

part_sectors=$(( (32 * 1024 * 1024) / 512 - 2048 ))
mkfs.fat -F 16 -n RUNG4 -h 2048 -C "$tmp/part.img" $(( part_sectors / 2 )) >/dev/null
# PROMPT 1 with TIMEOUT 0 leaves SYSLINUX waiting at its boot: prompt for a key.
printf 'SERIAL 0 115200\nSAY %s\nPROMPT 1\nTIMEOUT 0\n' "$marker" > "$tmp/syslinux.cfg"
mcopy -i "$tmp/part.img" "$tmp/syslinux.cfg" ::syslinux.cfg
syslinux --install "$tmp/part.img"

# MBR code from SYSLINUX plus a partition table with one active FAT16 (LBA) entry.
truncate -s 1M "$tmp/head.img"
dd if=/usr/lib/SYSLINUX/mbr.bin of="$tmp/head.img" conv=notrunc status=none
le32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(( $1 & 255 )) $(( ($1 >> 8) & 255 )) $(( ($1 >> 16) & 255 )) $(( ($1 >> 24) & 255 )))"; }
{ printf '\200\376\377\377\016\376\377\377'; le32 2048; le32 "$part_sectors"; } | dd of="$tmp/head.img" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$tmp/head.img" bs=1 seek=510 conv=notrunc status=none
cat "$tmp/head.img" "$tmp/part.img" > "$out"
