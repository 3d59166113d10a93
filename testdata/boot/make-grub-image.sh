#!/bin/sh
# Builds an 8 MiB disk for rung 5 without root: GRUB's boot.img in the MBR and a core.img
# from grub-mkimage (i386-pc) in the gap after it, with an embedded early config that
# echoes the marker. boot.img's default kernel sector (1) and core.img's default blocklist
# (sector 2 onwards) already describe this layout, so nothing needs patching.
# Usage: make-grub-image.sh OUTPUT MARKER
set -eu
PATH="$PATH:/usr/sbin:/sbin"
out=$1
marker=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'echo %s\n' "$marker" > "$tmp/early.cfg"
grub-mkimage -O i386-pc -o "$tmp/core.img" -c "$tmp/early.cfg" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos echo
size=$(stat -c %s "$tmp/core.img")
[ "$size" -le $(( 2047 * 512 )) ] || { echo "core.img too large for the embedding gap" >&2; exit 1; }

truncate -s 8M "$out"
dd if=/usr/lib/grub/i386-pc/boot.img of="$out" bs=440 count=1 conv=notrunc status=none
# One partition at LBA 2048 (type 0x83) so the disk looks like a normal MBR disk.
printf '\200\376\377\377\203\376\377\377\000\010\000\000\000\070\000\000' | dd of="$out" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$out" bs=1 seek=510 conv=notrunc status=none
dd if="$tmp/core.img" of="$out" bs=512 seek=1 conv=notrunc status=none
