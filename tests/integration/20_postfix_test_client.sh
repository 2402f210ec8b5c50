#!/usr/bin/env bash
# Real Postfix -> milter-test-client (//tools/milter-test-client). Sends one
# message over SMTP and checks that the client printed every stage Postfix
# sends (connect, helo, envelope-from with ESMTP args, envelope-recipient,
# data, headers, end-of-header, body, end-of-message, abort/close) with the
# macros Postfix sends by default (j, {daemon_name}, i, {mail_addr},
# {rcpt_addr}), and that the message was delivered unchanged.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh

echo "== building //tools/milter-test-client:milter-test-client"
bazel build //tools/milter-test-client:milter-test-client >/dev/null 2>&1 ||
  { echo "FAIL: bazel build"; exit 1; }
BIN="$(bazel info bazel-bin 2>/dev/null)/tools/milter-test-client/milter-test-client"

WORK="$(mktemp -d /tmp/it20_tc.XXXXXX)"
chmod 755 "$WORK"
CLIENT_PID=""
cleanup() {
  pf_stop
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null && wait "$CLIENT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- client output:"; cat "$WORK/out"; pf_log | tail -20; exit 1; }

"$BIN" -s "unix:$WORK/client.sock" --verbose >"$WORK/out" 2>"$WORK/err" &
CLIENT_PID=$!
for _ in $(seq 50); do [ -S "$WORK/client.sock" ] && break; sleep 0.1; done
[ -S "$WORK/client.sock" ] || fail "milter-test-client did not start: $(cat "$WORK/err")"

pf_start 12665 "unix:$WORK/client.sock" || fail "postfix did not start"
pf_send sender@client.example rcpt@dest.example "Test stages" "line one
line two" "X-Custom: custom value" >/dev/null || fail "message refused"
pf_wait_delivered 1 20 >/dev/null || fail "message not delivered"
f=$(pf_sink_files | tail -1)
grep -q "^Subject: Test stages" "$f" || fail "message changed"
for _ in $(seq 50); do grep -q "\] close" "$WORK/out" && break; sleep 0.1; done

expect() {  # regex description
  grep -qE "$1" "$WORK/out" || fail "missing $2 (/$1/)"
  echo "ok: $2"
}
expect '^\[1\] negotiate: version=6' "negotiate"
expect '^\[1\] connect: host=.* family=inet address=127\.0\.0\.1 port=[0-9]+' "connect with address"
expect '^  macro j = mx\.pf-test\.example' "connect macro j"
expect '^  macro \{daemon_name\} = ' "connect macro {daemon_name}"
expect '^\[1\] helo: client\.pf-test\.example' "helo"
expect '^\[1\] envelope-from: <sender@client\.example>' "envelope-from"
expect '^  macro \{mail_addr\} = sender@client\.example' "mail macro {mail_addr}"
expect '^\[1\] envelope-recipient: <rcpt@dest\.example>' "envelope-recipient"
expect '^  macro \{rcpt_addr\} = rcpt@dest\.example' "rcpt macro {rcpt_addr}"
expect '^\[1\] data' "data"
expect '^  macro i = [0-9A-F]+' "queue id macro i"
expect '^\[1\] header: Subject: Test stages' "Subject header"
expect '^\[1\] header: X-Custom: custom value' "custom header"
expect '^\[1\] end-of-header' "end-of-header"
expect '^\[1\] body: [0-9]+ bytes' "body"
expect 'line one\\r\\nline two' "body content (verbose)"
expect '^\[1\] end-of-message' "end-of-message"
expect '^\[1\] close' "close"
# Stage order as Postfix sends them.
order=$(grep -oE '^\[1\] [a-z-]+' "$WORK/out" | awk '{print $2}' | uniq | tr '\n' ' ')
echo "stage order: $order"
echo "$order" | grep -qE 'negotiate connect helo envelope-from envelope-recipient data header end-of-header body end-of-message (abort )?close' ||
  fail "unexpected stage order: $order"
echo "ok: stage order"
if pf_log | grep -iE "milter" | grep -iE "warning|error|fatal"; then
  fail "milter warnings in the Postfix log"
fi
echo "ok: Postfix log free of milter warnings"
echo "PASS: postfix + milter-test-client (stages and macros printed)"
