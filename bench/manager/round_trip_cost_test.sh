#!/usr/bin/env bash
# round_trip_cost: short runs (both answerers) print every figure; bad
# arguments exit 2.
set -u
BIN="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$BIN" 3 600 16) || fail "a short run exited $?: $out"
echo "$out" | grep -Eq '^round_trips 600 asker_us [0-9.]+ answerer_us [0-9.]+ wall_us [0-9.]+$' ||
  fail "unexpected output: $out"
out=$("$BIN" --threaded 3 600 16) || fail "a threaded run exited $?: $out"
echo "$out" | grep -Eq '^round_trips 600 asker_us [0-9.]+ answerer_us [0-9.]+ wall_us [0-9.]+$' ||
  fail "unexpected output (--threaded): $out"
"$BIN" --help | grep -q '^usage: round_trip_cost' || fail "--help"
"$BIN" 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "PAIRS 0 must be a usage error"
"$BIN" x >/dev/null 2>&1; [ $? -eq 2 ] || fail "a non-number must be a usage error"
"$BIN" 1 2 3 4 >/dev/null 2>&1; [ $? -eq 2 ] || fail "too many arguments must be a usage error"
echo PASS
