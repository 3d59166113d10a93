#!/bin/sh
# Builds a 1.44 MB floppy for rung 3 from Debian's memtest86+: its legacy .bin has a boot
# sector that prints "Loading Memtest86+" and loads the rest with int 13h.
# Usage: make-memtest-floppy.sh OUTPUT
set -eu
cp /boot/memtest86+ia32.bin "$1"
truncate -s 1474560 "$1"
