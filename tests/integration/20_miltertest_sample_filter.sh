#!/usr/bin/env bash
# miltertest (Debian package) drives our example filter over a unix socket
# with testdata/miltertest/sample_filter.lua: negotiation, reject reply code,
# every end-of-message modification, REPLACE, NOMOD, a second connection.
set -uo pipefail
cd "$(dirname "$0")/../.."

command -v miltertest >/dev/null || { echo "FAIL: miltertest not installed"; exit 1; }
echo "== building //examples/sample:sample_filter"
bazel build //examples/sample:sample_filter >/dev/null 2>&1 ||
  { echo "FAIL: bazel build"; exit 1; }
BIN="$(bazel info bazel-bin 2>/dev/null)/examples/sample/sample_filter"

WORK="$(mktemp -d /tmp/it20_mt.XXXXXX)"
FILTER_PID=""
cleanup() {
  [ -n "$FILTER_PID" ] && kill "$FILTER_PID" 2>/dev/null && wait "$FILTER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" "unix:$WORK/filter.sock" 2>"$WORK/filter.log" &
FILTER_PID=$!
for _ in $(seq 50); do [ -S "$WORK/filter.sock" ] && break; sleep 0.1; done
[ -S "$WORK/filter.sock" ] || { echo "FAIL: filter did not start"; cat "$WORK/filter.log"; exit 1; }

miltertest -s testdata/miltertest/sample_filter.lua -D "sock=unix:$WORK/filter.sock" \
  >"$WORK/out" 2>&1
rc=$?
cat "$WORK/out"
if [ "$rc" -ne 0 ] || ! grep -q "^PASS" "$WORK/out"; then
  echo "FAIL: miltertest exit status $rc"
  exit 1
fi
kill -0 "$FILTER_PID" 2>/dev/null || { echo "FAIL: filter died"; exit 1; }
echo "PASS: miltertest + our sample filter"
