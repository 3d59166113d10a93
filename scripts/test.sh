#!/usr/bin/env bash
# The quick start's second command: installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# QEMU is the reference; the boot tests build images from Debian's boot loaders.
bash scripts/setup.sh qemu-utils qemu-system-x86 nasm mbr syslinux syslinux-common mtools dosfstools \
  grub-pc-bin memtest86+
swift build --build-tests
# XCTest only: the package has no Swift Testing tests, whose empty summary would read as "no tests".
swift test --skip-build --disable-swift-testing 2>&1 | tee /tmp/img-test-output.txt
status=${PIPESTATUS[0]}
summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" /tmp/img-test-output.txt | tail -1 || true)
if [ -n "$summary" ]; then
  total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
  echo "tests: $((total - failed)) passed, $failed failed" | tee /tmp/img-test-summary.txt
fi
# The reliability counts (crash points and states, fault points, bad inputs, locking rows).
# Kept in a file too: .ci/run prints them again at the end, with the fuzz executions.
grep -E "^  (crash sweep|fault injection|fuzz replay|total )|^(bad-image corpus|hostile images|locking matrix)" \
  /tmp/img-test-output.txt | sort -u | tee /tmp/img-reliability-counts.txt || true
exit "$status"
