#!/bin/bash
# milter-load's command line and MTA behaviour, against skip_filter (a filter
# that answers skip to the first body chunk) on an ephemeral TCP port.
set -u
load="$1"
filter="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$(dirname "$0")/../common/tool_test_lib.bash"

expect_status 0 "--help" "$load" --help
grep -q "Usage: milter-load" "$tmp/out" || fail "--help prints the usage"
expect_status 2 "extra argument" "$load" -s inet:1@127.0.0.1 stray
grep -q 'unexpected argument "stray"' "$tmp/err" || fail "names the argument"
expect_status 2 "bad --mta_protocol" "$load" -s inet:1@127.0.0.1 --mta_protocol=xyz
grep -q "mta_protocol=xyz: not a 32-bit number" "$tmp/err" ||
  fail "says what is wrong with --mta_protocol"
expect_status 2 "port 0" "$load" -s inet:0@127.0.0.1
grep -q "port 0" "$tmp/err" || fail "explains port 0"

"$filter" 'inet:0@[127.0.0.1]' >"$tmp/filter.out" 2>"$tmp/filter.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' EXIT
spec=""
for _ in $(seq 100); do
  spec=$(sed -n 's/^listening on //p' "$tmp/filter.err")
  [ -n "$spec" ] && break
  sleep 0.05
done
[ -n "$spec" ] || { echo "FAIL: filter did not start"; exit 1; }

# A skip to a body chunk: no more chunks, on to end of message (3 chunks
# of 65535 would otherwise follow). SIZE= is the message's real size:
# "Subject: s\r\n" (12) + "X-Load-1: header value number 1\r\n" (33)
# + "\r\n" (2) + 200000 body bytes.
expect_status 0 "skip session" "$load" -s "$spec" --sessions 3 --connections 1 \
  --headers 2 --subject s --body_size 200000
grep -q "^RESULT sessions=3 errors=0 " "$tmp/out" || fail "3 sessions: $(cat "$tmp/out")"
[ "$(grep -c '^eom$' "$tmp/filter.out")" = 3 ] ||
  fail "every session reaches end of message: $(cat "$tmp/filter.out")"
[ "$(grep -c '^body ' "$tmp/filter.out")" = 3 ] ||
  fail "one body chunk per session: $(cat "$tmp/filter.out")"
grep -q "^mail <sender@load.example> SIZE=200047$" "$tmp/filter.out" ||
  fail "SIZE= follows the message: $(grep '^mail' "$tmp/filter.out" | head -1)"

# Idle mode reports the connections it held.
expect_status 0 "idle" "$load" -s "$spec" --idle 3 --hold 0
grep -q "^RESULT idle=3 errors=0 " "$tmp/out" || fail "idle count: $(cat "$tmp/out")"

kill -TERM $pid
wait $pid
if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo PASS
