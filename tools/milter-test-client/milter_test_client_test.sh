#!/bin/bash
# milter-test-client's command line, and what it prints for a probe (nothing)
# and for a negotiated session (driven by milter-load).
set -u
client="$1"
load="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$(dirname "$0")/../common/tool_test_lib.bash"

expect_status 0 "--help" "$client" --help
grep -q "Usage: milter-test-client" "$tmp/out" || fail "--help prints the usage"
expect_status 0 "-h" "$client" -h
expect_status 2 "extra argument" "$client" -s 'inet:0@[127.0.0.1]' stray
grep -q 'unexpected argument "stray"' "$tmp/err" || fail "names the argument"
expect_status 2 "bare spec" "$client" 'inet:0@[127.0.0.1]'

"$client" -s 'inet:0@[127.0.0.1]' >"$tmp/client.out" 2>"$tmp/client.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' EXIT
spec=""
for _ in $(seq 100); do
  spec=$(sed -n 's/^milter-test-client: listening on //p' "$tmp/client.err")
  [ -n "$spec" ] && break
  sleep 0.05
done
[ -n "$spec" ] || { echo "FAIL: milter-test-client did not start"; exit 1; }
port=$(echo "$spec" | sed 's/^inet:\([0-9]*\)@.*/\1/')

# A probe: connect, close. No session, no line, no number used.
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "probe connects"
exec 3>&-
sleep 0.2
[ ! -s "$tmp/client.out" ] || fail "a probe prints nothing: $(cat "$tmp/client.out")"

expect_status 0 "one session" "$load" -s "$spec" --sessions 1 --connections 1
kill -TERM $pid
wait $pid
trap - EXIT
head -1 "$tmp/client.out" | grep -q '^\[1\] negotiate: version=6$' ||
  fail "the session is [1] and starts with negotiate: $(head -3 "$tmp/client.out")"
[ "$(grep -c 'close$' "$tmp/client.out")" = 1 ] ||
  fail "one close: $(grep 'close' "$tmp/client.out")"
[ "$(tail -1 "$tmp/client.out")" = "[1] close" ] || fail "ends with [1] close"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo PASS
