# Helpers of the e2e tests, sourced by each tests/e2e/test_*.sh.
# Usage in a test: source lib.sh; then "$ZILI" ... and the expect_* checks below.
set -uo pipefail
ZILI=$1
WORK=$2
SOURCE_DIR=${ZILI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CORPUS=$SOURCE_DIR/data/tokenizer-corpus.txt
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "ok: $*"; }
failed() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAILED: $*"; }

# run_ok NAME CMD...: the command exits 0.
run_ok() {
  local name=$1; shift
  if "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"; then pass "$name"
  else failed "$name (exit $?): $(cat "$WORK/err.txt")"; fi
}

# expect_error NAME TEXT CMD...: exit code 1 (a user's error; 2 is zili's own bug, and a
# signal or crash is worse), stderr is exactly one line that contains TEXT.
expect_error() {
  local name=$1 text=$2; shift 2
  "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
  local code=$?
  local lines
  lines=$(wc -l <"$WORK/err.txt")
  if [ "$code" -ne 1 ]; then
    failed "$name: exit code $code, expected 1; stderr: $(cat "$WORK/err.txt")"
  elif ! grep -qF -- "$text" "$WORK/err.txt"; then
    failed "$name: stderr lacks '$text': $(cat "$WORK/err.txt")"
  elif [ "$lines" -ne 1 ]; then
    failed "$name: $lines lines on stderr, expected one: $(cat "$WORK/err.txt")"
  else
    pass "$name: $(cat "$WORK/err.txt")"
  fi
}

# expect_equal NAME ACTUAL EXPECTED
expect_equal() {
  if [ "$2" = "$3" ]; then pass "$1"; else failed "$1: got '$2', expected '$3'"; fi
}

finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
  exit $?
}
