#!/bin/sh
# Builds a 17 MiB disk where GRUB goes all the way to its menu: boot.img and a core.img
# (biosdisk, part_msdos, fat) before the first partition, and a FAT16 partition at LBA 2048
# holding /boot/grub/i386-pc/*.mod and a grub.cfg whose only menu entry is the marker.
# Everything is made with grub-mkimage, mkfs.fat and mtools; no root needed.
# Usage: make-grub-menu-image.sh OUTPUT MARKER
set -eu
PATH="$PATH:/usr/sbin:/sbin"
out=$1
marker=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkfs.fat -F 16 -n GRUB -h 2048 -C "$tmp/part.img" 16384 >/dev/null
mmd -i "$tmp/part.img" ::boot ::boot/grub ::boot/grub/i386-pc
mcopy -i "$tmp/part.img" /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst ::boot/grub/i386-pc/
printf 'set timeout=-1\nmenuentry "%s" {\n  echo chosen\n}\n' "$marker" > "$tmp/grub.cfg"
mcopy -i "$tmp/part.img" "$tmp/grub.cfg" ::boot/grub/grub.cfg

grub-mkimage -O i386-pc -o "$tmp/core.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos fat
truncate -s 1M "$tmp/head.img"
dd if=/usr/lib/grub/i386-pc/boot.img of="$tmp/head.img" bs=440 count=1 conv=notrunc status=none
# Partition 1: active FAT16 (LBA, type 0Eh) at LBA 2048, 32768 sectors.
printf '\200\376\377\377\016\376\377\377\000\010\000\000\000\200\000\000' | dd of="$tmp/head.img" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$tmp/head.img" bs=1 seek=510 conv=notrunc status=none
dd if="$tmp/core.img" of="$tmp/head.img" bs=512 seek=1 conv=notrunc status=none
cat "$tmp/head.img" "$tmp/part.img" > "$out"
