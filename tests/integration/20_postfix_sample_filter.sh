#!/usr/bin/env bash
# Real Postfix -> our example filter (//examples/sample:sample_filter, built
# on milter/client). Checks, over real SMTP: the reject reply reaches the SMTP
# client; X-Sample, the changed Subject and the added recipient are in the
# delivered message; REPLACE replaces the body; NOMOD changes nothing; 20
# concurrent sessions each get their own recipient; the Postfix log has no
# milter warnings; SIGTERM stops the filter promptly and removes its socket.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/postfix/sample_filter_checks.bash

echo "== building //examples/sample:sample_filter"
bazel build //examples/sample:sample_filter >/dev/null 2>&1 ||
  { echo "FAIL: bazel build"; exit 1; }
BIN="$(bazel info bazel-bin 2>/dev/null)/examples/sample/sample_filter"
[ -x "$BIN" ] || { echo "FAIL: $BIN missing"; exit 1; }

WORK="$(mktemp -d /tmp/it20_sample.XXXXXX)"
chmod 755 "$WORK"
FILTER_PID=""
cleanup() {
  pf_stop
  [ -n "$FILTER_PID" ] && kill "$FILTER_PID" 2>/dev/null && wait "$FILTER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; pf_log | tail -30; cat "$WORK/filter.log" 2>/dev/null; exit 1; }
check() { echo "ok: $*"; }

"$BIN" "unix:$WORK/filter.sock" 2>"$WORK/filter.log" &
FILTER_PID=$!
for _ in $(seq 50); do [ -S "$WORK/filter.sock" ] && break; sleep 0.1; done
[ -S "$WORK/filter.sock" ] || fail "sample filter did not start"
check "filter listening on unix:$WORK/filter.sock"

pf_start 12645 "unix:$WORK/filter.sock" || fail "postfix did not start"

sample_filter_checks

kill -TERM "$FILTER_PID"
for _ in $(seq 30); do kill -0 "$FILTER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$FILTER_PID" 2>/dev/null && fail "filter still running 3 s after SIGTERM"
wait "$FILTER_PID"; rc=$?
FILTER_PID=""
[ "$rc" = 0 ] || fail "filter exit status $rc after SIGTERM"
[ -e "$WORK/filter.sock" ] && fail "socket left behind"
check "SIGTERM: clean exit, socket removed"

echo "PASS: postfix + our sample filter (reject, modify, REPLACE, NOMOD, 20 concurrent, clean log, SIGTERM)"
