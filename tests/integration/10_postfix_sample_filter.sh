#!/usr/bin/env bash
# Real peers only: a throwaway Postfix (tests/postfix/postfix_env.sh) with the
# libmilter sample filter (testdata/libmilter/sample_filter.c). Checks every
# behaviour of the sample filter as Postfix applies it, and 20 concurrent
# sessions. Validates the fixtures other tests build on.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh

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

bash tests/build_c_filter.sh "$WORK/sample_filter" || fail "cannot build sample filter"
"$WORK/sample_filter" "unix:$WORK/filter.sock" 2>"$WORK/filter.log" &
FILTER_PID=$!
for _ in $(seq 50); do [ -S "$WORK/filter.sock" ] && break; sleep 0.1; done
[ -S "$WORK/filter.sock" ] || fail "sample filter did not start"

pf_start 12625 "unix:$WORK/filter.sock" || fail "postfix did not start"

out=$(pf_send reject@example.com rcpt@dest.example "x") && fail "reject sender accepted"
echo "$out" | grep -q "^REFUSED 550 5.7.1 Sender rejected by sample filter" ||
  fail "unexpected reject reply: $out"

pf_send sender@client.example a@dest.example,b@other.example "plain" "body" >/dev/null ||
  fail "plain message refused"
pf_wait_delivered 1 20 >/dev/null || fail "plain message not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^Subject: \[sample\] plain" "$f" || fail "subject not changed"
grep -q "^X-Sample: yes" "$f" || fail "X-Sample missing"
grep -q "^X-Rcpt-Args: <added@dest.example>" "$f" || fail "recipient not added"
grep -q "^body" "$f" || fail "body changed"

pf_send sender@client.example a@dest.example "please REPLACE" "old body" >/dev/null || fail "REPLACE refused"
pf_wait_delivered 2 20 >/dev/null || fail "REPLACE not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^replaced" "$f" || fail "body not replaced"
grep -q "old body" "$f" && fail "old body kept"

pf_send sender@client.example a@dest.example "NOMOD here" "keep" >/dev/null || fail "NOMOD refused"
pf_wait_delivered 3 20 >/dev/null || fail "NOMOD not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^Subject: NOMOD here" "$f" || fail "NOMOD subject changed"
grep -q "X-Sample" "$f" && fail "NOMOD got a header"
grep -q "added@" "$f" && fail "NOMOD got a recipient"

# 20 concurrent sessions, each with its own recipient domain: each message
# must get exactly its own added recipient.
send_pids=()
for i in $(seq 1 20); do
  pf_send "s$i@client.example" "r@d$i.example" "concurrent $i" "body $i" >"$WORK/send.$i" &
  send_pids+=($!)
done
wait_fail=0
for p in "${send_pids[@]}"; do wait "$p" || wait_fail=1; done
[ "$wait_fail" = 0 ] || fail "a concurrent send failed: $(cat "$WORK"/send.*)"
pf_wait_delivered 23 60 >/dev/null || fail "concurrent messages not delivered"
for i in $(seq 1 20); do
  f=$(grep -l "^Subject: \[sample\] concurrent $i\$" $(pf_sink_files)) || fail "message $i missing"
  grep -q "^X-Rcpt-Args: <added@d$i.example>" "$f" || fail "message $i: wrong added recipient"
  [ "$(grep -c '^X-Rcpt-Args: <added@' "$f")" = 1 ] || fail "message $i: several added recipients"
done
echo "PASS: postfix + libmilter sample filter (reject, modify, REPLACE, NOMOD, 20 concurrent)"
