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

out=$(pf_send reject@example.com rcpt@dest.example "x") && fail "reject sender accepted"
echo "$out" | grep -q "^REFUSED 550 5.7.1 Sender rejected by sample filter" ||
  fail "unexpected reject reply: $out"
check "MAIL FROM <reject@example.com> refused: $out"

pf_send sender@client.example a@dest.example,b@other.example "plain" "body" >/dev/null ||
  fail "plain message refused"
pf_wait_delivered 1 20 >/dev/null || fail "plain message not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^Subject: \[sample\] plain$" "$f" || fail "subject not changed"
grep -q "^X-Sample: yes" "$f" || fail "X-Sample missing"
grep -q "^X-Rcpt-Args: <added@dest.example>" "$f" || fail "recipient not added"
grep -q "^body" "$f" || fail "body changed"
[ "$(grep -c '^Subject:' "$f")" = 1 ] || fail "several Subject headers"
check "modifications delivered (Subject, X-Sample, <added@dest.example>, body kept)"

pf_send sender@client.example a@dest.example "please REPLACE" "old body" >/dev/null || fail "REPLACE refused"
pf_wait_delivered 2 20 >/dev/null || fail "REPLACE not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^replaced" "$f" || fail "body not replaced"
grep -q "old body" "$f" && fail "old body kept"
check "REPLACE: body replaced"

pf_send sender@client.example a@dest.example "NOMOD here" "keep" >/dev/null || fail "NOMOD refused"
pf_wait_delivered 3 20 >/dev/null || fail "NOMOD not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^Subject: NOMOD here" "$f" || fail "NOMOD subject changed"
grep -q "X-Sample" "$f" && fail "NOMOD got a header"
grep -q "added@" "$f" && fail "NOMOD got a recipient"
check "NOMOD: no change"

send_pids=()
for i in $(seq 1 20); do
  pf_send "s$i@client.example" "r@d$i.example" "concurrent $i" "body $i" >"$WORK/send.$i" &
  send_pids+=($!)
done
wait_fail=0
for pid in "${send_pids[@]}"; do wait "$pid" || wait_fail=1; done
[ "$wait_fail" = 0 ] || fail "a concurrent send failed: $(cat "$WORK"/send.*)"
pf_wait_delivered 23 60 >/dev/null || fail "concurrent messages not delivered"
for i in $(seq 1 20); do
  f=$(grep -l "^Subject: \[sample\] concurrent $i\$" $(pf_sink_files)) || fail "message $i missing"
  grep -q "^X-Rcpt-Args: <added@d$i.example>" "$f" || fail "message $i: wrong added recipient"
  [ "$(grep -c '^X-Rcpt-Args: <added@' "$f")" = 1 ] || fail "message $i: several added recipients"
done
check "20 concurrent sessions, each with its own added recipient"

if pf_log | grep -iE "milter" | grep -iE "warning|error|fatal|panic"; then
  fail "milter warnings in the Postfix log"
fi
check "Postfix log free of milter warnings"

kill -TERM "$FILTER_PID"
for _ in $(seq 30); do kill -0 "$FILTER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$FILTER_PID" 2>/dev/null && fail "filter still running 3 s after SIGTERM"
wait "$FILTER_PID"; rc=$?
FILTER_PID=""
[ "$rc" = 0 ] || fail "filter exit status $rc after SIGTERM"
[ -e "$WORK/filter.sock" ] && fail "socket left behind"
check "SIGTERM: clean exit, socket removed"

echo "PASS: postfix + our sample filter (reject, modify, REPLACE, NOMOD, 20 concurrent, clean log, SIGTERM)"
