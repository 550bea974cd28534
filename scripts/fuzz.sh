#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz, built by scripts/build.sh --fuzz (build-fuzz/: clang-14,
# ASan + UBSan, libFuzzer), each run for a while over its seed corpus tests/fuzz/corpus/TARGET
# plus what earlier runs here found (build-fuzz/corpus/TARGET).
#   scripts/fuzz.sh [--seconds N] [TARGET...]    (default: 5 seconds each, every target)
# A crash, a sanitizer report, a leak, a hang (over 10 s on one input) or an exception other
# than zili::Error stops that target and fails the script; the input is kept as
# build-fuzz/crashes/TARGET/crash-* (or leak-*, timeout-*): fix the bug, then copy the input
# into tests/fuzz/corpus/TARGET so that every later run tries it first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) break ;;
  esac
done
"$root/scripts/build.sh" --fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in "$root"/tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi
status=0
for target in "${targets[@]}"; do
  found="$root/build-fuzz/corpus/$target"
  crashes="$root/build-fuzz/crashes/$target"
  mkdir -p "$found" "$crashes"
  log="$root/build-fuzz/$target.log"
  # UBSan findings abort (they would only print otherwise); the sanitizers' reports and
  # libFuzzer's own go to the log, whose last lines are shown on failure.
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ASAN_OPTIONS=detect_leaks=1 \
    "$root/build-fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$found" "$root/tests/fuzz/corpus/$target" \
    >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $target: ${runs:-?} inputs in ${seconds} s, no finding"
  else
    status=1
    echo "fuzz: $target FAILED (input kept in $crashes; log $log):" >&2
    grep -E "ERROR|runtime error|fuzz: not a zili::Error|Test unit written" "$log" | head -5 >&2
  fi
done
exit "$status"
