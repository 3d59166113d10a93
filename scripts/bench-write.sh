#!/usr/bin/env bash
# Overlap checks and the write path, img bench vs qemu-img bench, same machine, same files,
# in a tmpfs. Prints seconds per run (median of REPS) and ratios (qemu time / img time:
# above 1 means img is faster).
#   1. allocating writes: fresh 4 GiB qcow2, 64 KiB clusters, -w -c 60000 -s 64k -S 64k
#   2. rewrites of that image: -w -c 400000 -s 4k
#   3. reads of that image: -c 400000 -s 4k
# each with overlap-check none, cached and all; then the 2017 reproduction (refcount-block
# check scanning the whole refcount table vs up to its last used entry, 1-bit refcounts),
# and img's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
dir=${BENCH_DIR:-/dev/shm/img-bench-write}
bash scripts/setup.sh qemu-utils time
img=$(bash scripts/build-release.sh)
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run TOOL FILE OPTS ARGS...: prints the "Run completed in" seconds of one run.
run() {
  local tool=$1 file=$2 opts=$3; shift 3
  local spec="driver=qcow2,file.filename=$file${opts:+,$opts}"
  local out
  if [ "$tool" = qemu ]; then out=$( { /usr/bin/time -f "%e" qemu-img bench "$@" --image-opts "$spec" >/dev/null; } 2>&1 | tail -1)
  else out=$( { /usr/bin/time -f "%e" "$img" bench "$@" --image-opts "$spec" >/dev/null; } 2>&1 | tail -1); fi
  echo "$out"
}
# measure TOOL OPTS WORKLOAD: median seconds over REPS runs; workload 1 on a fresh image each time.
measure() {
  local tool=$1 opts=$2 workload=$3 file="$dir/w.qcow2" rb=${RB:-16}
  for _ in $(seq "$REPS"); do
    if [ "$workload" = 1 ] || [ ! -f "$file" ]; then
      rm -f "$file"; qemu-img create -q -f qcow2 -o refcount_bits=$rb "$file" 4G
      [ "$workload" = 1 ] || "$img" bench -q -w -c 60000 -s 64k -S 64k "$file"
    fi
    case $workload in
      1) run "$tool" "$file" "$opts" -w -c 60000 -s 64k -S 64k -t writeback ;;
      2) run "$tool" "$file" "$opts" -w -c 400000 -s 4k -t writeback ;;
      3) run "$tool" "$file" "$opts" -c 400000 -s 4k ;;
    esac
  done | median
}
ratio() { awk -v q="$1" -v i="$2" 'BEGIN { if (i > 0) printf "%.2fx", q / i; else print "n/a" }'; }

echo "img bench vs qemu-img bench ($(qemu-img --version | head -1)), $(nproc) cores, files in $dir, median of $REPS"
printf "%-22s %10s %10s %10s %10s %14s\n" workload qemu-cached img-none img-cached img-all "all/qemu-cached"
for w in 1 2 3; do
  q=$(measure qemu "overlap-check=cached" $w)
  n=$(measure img "overlap-check=none" $w)
  c=$(measure img "overlap-check=cached" $w)
  a=$(measure img "overlap-check=all" $w)
  name=$([ $w = 1 ] && echo "1 allocating 64k" || ([ $w = 2 ] && echo "2 rewrite 4k" || echo "3 read 4k"))
  printf "%-22s %9ss %9ss %9ss %9ss %14s\n" "$name" "$q" "$n" "$c" "$a" "$(ratio "$q" "$a")"
  qn=$(measure qemu "overlap-check=none" $w); qa=$(measure qemu "overlap-check=all" $w)
  printf "%-22s qemu none %ss, qemu all %ss; img cost of all vs none: %s\n" "" "$qn" "$qa" \
    "$(awk -v a="$a" -v n="$n" 'BEGIN { printf "%+.1f%%", (a - n) / n * 100 }')"
done

echo
echo "2017 reproduction: refcount-block overlap check, 1-bit refcounts, 4 GiB image, overlap-check=cached"
for w in 1 2; do
  full=$(RB=1 measure img "overlap-check=cached,x-overlap-scan=full-table" $w)
  last=$(RB=1 measure img "overlap-check=cached,x-overlap-scan=last-used" $w)
  idx=$(RB=1 measure img "overlap-check=cached,x-overlap-scan=index" $w)
  echo "workload $w: full-table scan ${full}s, last-used scan ${last}s (speedup $(ratio "$full" "$last")), index ${idx}s (speedup over full $(ratio "$full" "$idx"))"
done

echo
rm -f "$dir/w.qcow2"; qemu-img create -q -f qcow2 "$dir/w.qcow2" 4G
rss=$( { /usr/bin/time -f "%M" "$img" bench -q -w -c 60000 -s 64k -S 64k "$dir/w.qcow2"; } 2>&1 | tail -1)
rss2=$( { /usr/bin/time -f "%M" "$img" bench -q -w -c 400000 -s 4k "$dir/w.qcow2"; } 2>&1 | tail -1)
echo "img bench peak RSS on the 4 GiB image: allocating ${rss} KiB, rewrites ${rss2} KiB"
