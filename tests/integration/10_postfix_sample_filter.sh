#!/usr/bin/env bash
# Real peers only: a throwaway Postfix (tests/postfix/postfix_env.sh) with the
# libmilter sample filter (testdata/libmilter/sample_filter.c). Checks every
# behaviour of the sample filter as Postfix applies it, and 20 concurrent
# sessions. Validates the fixtures other tests build on.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/postfix/sample_filter_checks.bash

WORK="$(mktemp -d /tmp/it10_sample.XXXXXX)"
chmod 755 "$WORK"
FILTER_PID=""
cleanup() {
  pf_stop
  [ -n "$FILTER_PID" ] && kill "$FILTER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; pf_log | tail -30; exit 1; }
check() { echo "ok: $*"; }

bash tests/build_c_filter.sh "$WORK/sample_filter" || fail "cannot build sample filter"
"$WORK/sample_filter" "unix:$WORK/filter.sock" 2>"$WORK/filter.log" &
FILTER_PID=$!
for _ in $(seq 50); do [ -S "$WORK/filter.sock" ] && break; sleep 0.1; done
[ -S "$WORK/filter.sock" ] || fail "sample filter did not start"

pf_start 12625 "unix:$WORK/filter.sock" || fail "postfix did not start"

sample_filter_checks

echo "PASS: postfix + libmilter sample filter (reject, modify, REPLACE, NOMOD, 20 concurrent, clean log)"
