#!/usr/bin/env bash
# Regenerates testdata/fuzz-seeds: small images (mostly 512-byte clusters) made by
# qemu-img and qemu-io that cover each structure the fuzz targets parse.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=testdata/fuzz-seeds
rm -f "$dir"/*.qcow2 "$dir"/*.raw
mk() { local name=$1 size=$2 opts=$3; shift 3
  qemu-img create -q -f qcow2 -o "$opts" "$dir/$name.qcow2" "$size"
  for cmd in "$@"; do qemu-io -f qcow2 -c "$cmd" "$dir/$name.qcow2" >/dev/null; done
}
mk empty-v3 64K cluster_size=512
mk empty-v2 64K cluster_size=512,compat=0.10
mk data 128K cluster_size=512 "write -P 0x11 0 3k" "write -P 0x22 40k 1k"
mk zeroes-discards 64K cluster_size=512 "write -P 0x33 0 8k" "write -z 1k 2k" "discard 4k 2k"
mk compressed 64K cluster_size=512 "write -c -P 0x44 0 512" "write -c -P 0x45 512 512"
mk compressed-zstd 64K cluster_size=512,compression_type=zstd "write -c -P 0x46 0 512"
mk refcount-1bit 64K cluster_size=512,refcount_bits=1 "write -P 0x55 0 2k"
mk refcount-64bit 64K cluster_size=512,refcount_bits=64 "write -P 0x56 0 2k"
mk lazy-dirty 64K cluster_size=512,lazy_refcounts=on "write -P 0x57 0 1k"
# The backing file is made for the write and removed: the seed only names it.
head -c 65536 /dev/zero > "$dir/base.raw"
mk backing-name 64K cluster_size=512,backing_file=base.raw,backing_fmt=raw "write -P 0x58 100 200"
rm "$dir/base.raw"
mk extended-l2 64K cluster_size=16k,extended_l2=on "write -P 0x59 1k 1k"
mk snapshot 64K cluster_size=512 "write -P 0x5a 0 1k"
qemu-img snapshot -c first "$dir/snapshot.qcow2"
qemu-io -f qcow2 -c "write -P 0x5b 0 512" "$dir/snapshot.qcow2" >/dev/null
mk bitmaps 64K cluster_size=512 "write -P 0x5c 0 1k"
qemu-img bitmap --add "$dir/bitmaps.qcow2" b0
qemu-img bitmap --add -g 1k "$dir/bitmaps.qcow2" second
# Mark lazy-dirty as not cleanly closed (the dirty bit, incompatible feature bit 0).
printf '\x01' | dd of="$dir/lazy-dirty.qcow2" bs=1 seek=79 conv=notrunc status=none
head -c 4096 /dev/zero | tr '\0' 'r' > "$dir/plain.raw"
# Bootable qcow2 images for the boot target (their sectors reach the emulator through the
# qcow2 layer; seeds for every target): the BIOS-services test (reads sectors 2-5 with int 13h) on a 1 MiB disk, and
# install-mbr's MBR chaining to our volume boot record at LBA 2048 on an 8 MiB disk.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nasm -f bin -o "$tmp/bios.bin" testdata/boot/bios-services.asm
truncate -s 1M "$tmp/bios.raw"
dd if="$tmp/bios.bin" of="$tmp/bios.raw" conv=notrunc status=none
qemu-img convert -q -f raw -O qcow2 -o cluster_size=512 "$tmp/bios.raw" "$dir/boot-bios-services.qcow2"
sh testdata/boot/make-mbr-image.sh "$tmp/mbr.raw"
qemu-img convert -q -f raw -O qcow2 -o cluster_size=512 "$tmp/mbr.raw" "$dir/boot-mbr-vbr.qcow2"
# Fuzz/boot-read-disk.asm reads every sector with int 13h; the disk holds plain, compressed
# and zero clusters, so a mutated image's clusters of every kind reach the emulator.
nasm -f bin -o "$tmp/read-disk.bin" Fuzz/boot-read-disk.asm
mk boot-read-disk 64K cluster_size=512 "write -s $tmp/read-disk.bin 0 512" "write -P 0x62 4k 2k" \
  "write -c -P 0x63 8k 512" "write -z 12k 1k" "write -P 0x64 60k 4k"
ls -l "$dir"
