#!/usr/bin/env bash
# The quick start's first command: installs what is missing, builds img, and runs it on the
# bundled sample disk (testdata/sample.raw): a qcow2 overlay on it, a write, info and map,
# a snapshot, a compressed convert, check and compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
img=$(bash scripts/build-release.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp testdata/sample.raw "$work/sample.raw"
echo "== img create: a qcow2 overlay on the sample disk"
$img create -f qcow2 -b sample.raw -F raw "$work/overlay.qcow2"
echo "== img io: write over part of it"
$img io -c "write -P 0x5a 64k 4k" -c "read -P 0x5a 64k 4k" "$work/overlay.qcow2"
echo "== img info"
$img info --backing-chain "$work/overlay.qcow2"
echo "== img map"
$img map "$work/overlay.qcow2"
$img map --output json "$work/overlay.qcow2"
echo "== img snapshot: create and list"
$img snapshot -c before-convert "$work/overlay.qcow2"
$img snapshot -l "$work/overlay.qcow2"
echo "== img convert: the whole chain into one zstd-compressed qcow2"
$img convert -c -O qcow2 -o compression_type=zstd "$work/overlay.qcow2" "$work/flat.qcow2"
echo "== img check"
$img check "$work/flat.qcow2"
echo "== img compare"
$img compare "$work/overlay.qcow2" "$work/flat.qcow2"
