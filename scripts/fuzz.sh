#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (swiftc -sanitize=fuzzer,address: the ImageFormat,
# Repair and Emulator modules as instrumented static libraries, built once, and one small
# module per target) and runs each for a given time, seeded from testdata/fuzz-seeds and
# testdata/fuzz-regressions.
#
#   scripts/fuzz.sh [seconds-per-target] [target ...]      (default: 60 s, every target)
#
# FUZZ_OPT=-Onone builds unoptimized targets (quicker to build; the default -O runs each
# input 2-3 times faster, which the 60 s CI runs need more than the build time it costs).
# FUZZ_JOBS=N runs N fuzzing processes per target. A crash, hang (10 s per input) or
# out-of-memory (2 GiB) fails the script and leaves the input in .build/fuzz/artifacts;
# minimize it with the printed command and add it to testdata/fuzz-regressions/, where
# FuzzRegressionTests replays it on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in Fuzz/Fuzz*.swift; do
    name=$(basename "$f" .swift)
    [ "$name" = FuzzBodies ] || targets+=("$name")
  done
fi
opt=${FUZZ_OPT:--O}
jobs=${FUZZ_JOBS:-1}
out=.build/fuzz
mkdir -p "$out/chost-module" "$out/artifacts"

# CHost is a C target: give swiftc a module map for it and an instrumented object.
cat > "$out/chost-module/module.modulemap" <<MAP
module CHost {
    header "$PWD/Sources/CHost/include/chost.h"
    export *
}
MAP
clang -c -O1 -fsanitize=fuzzer-no-link,address -ISources/CHost/include Sources/CHost/chost.c -o "$out/chost.o"

flags=(-sanitize=fuzzer,address -parse-as-library -package-name img
       -I Sources/CZlib -I Sources/CZstd -I "$out/chost-module" -I "$out/modules")
# The linker warns about every ASan helper symbol; show the output only when a build fails.
quietly() { local logfile=$1; shift
  if ! "$@" >"$logfile" 2>&1; then grep -v "Cannot export local symbol" "$logfile"; exit 1; fi
}
# One instrumented static library and module per package target, in dependency order.
# Emulator is always optimized, as Package.swift builds it (its hot loop at -Onone is slow).
mkdir -p "$out/modules"
for m in ImageFormat Repair Emulator; do
  mopt=$opt; [ "$m" = Emulator ] && mopt=-O
  echo "== building module $m ($mopt)"
  mapfile -t sources < <(find "Sources/$m" -name '*.swift' | sort)
  quietly "$out/$m.build.log" swiftc "${flags[@]}" "$mopt" -module-name "$m" -emit-module \
    -emit-module-path "$out/modules/$m.swiftmodule" -emit-library -static -o "$out/lib$m.a" "${sources[@]}"
done

status=0
summary=()
for t in "${targets[@]}"; do
  echo "== building $t ($opt)"
  quietly "$out/$t.build.log" swiftc "${flags[@]}" "$opt" -module-name "$t" \
    Fuzz/FuzzBodies.swift "Fuzz/$t.swift" "$out/libEmulator.a" "$out/libRepair.a" "$out/libImageFormat.a" \
    "$out/chost.o" -lz -lzstd -o "$out/$t"
  corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  echo "== running $t for ${seconds}s"
  log="$out/$t.log"
  set +e
  "$out/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=262144 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" \
    -artifact_prefix="$out/artifacts/$t-" "$corpus" testdata/fuzz-seeds testdata/fuzz-regressions >"$log" 2>&1
  rc=$?
  set -e
  # The main log repeats each job's log (fuzz-N.log) after the job exits: count it alone.
  execs=$(grep -h "stat::number_of_executed_units" "$log" 2>/dev/null | awk '{s+=$2} END {print s+0}')
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -40 "$log"
    artifact=$(ls -t "$out/artifacts/$t-"* 2>/dev/null | head -1 || true)
    echo "!! $t failed (exit $rc); input: ${artifact:-none}"
    [ -n "$artifact" ] && echo "   minimize: $out/$t -minimize_crash=1 -runs=100000 -exact_artifact_path=testdata/fuzz-regressions/$t-$(date +%s) $artifact"
    summary+=("$t: FAILED after $execs executions")
  else
    summary+=("$t: $execs executions in ${seconds}s, no crash, hang or out-of-memory")
  fi
  rm -f fuzz-*.log
done
# Also kept in a file: .ci/run prints it again with the test run's counts.
{ echo "fuzz summary (libFuzzer, ${seconds}s per target):"; for line in "${summary[@]}"; do echo "  $line"; done; } \
  | tee /tmp/img-fuzz-summary.txt
exit $status
