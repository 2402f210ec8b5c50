#!/bin/bash
# milter-load's command line and MTA behaviour, against skip_filter (a filter
# that answers skip to the first body chunk) on an ephemeral TCP port, and
# its failures (exit status, one-line reason) against no filter and against
# peers that are not milters.
set -u
load="$1"
filter="$2"
not_a_milter="$3"
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

# Usage errors and failures: a non-zero exit, one line on stderr.
long="/tmp/$(printf 'a%.0s' $(seq 120))"
expect_failure 2 "socket path is 125 bytes long; the limit is 107" \
  "long bare path" "$load" -s "$long"
expect_failure 2 "socket path is 125 bytes long" "long unix: path" \
  "$load" -s "unix:$long"
expect_failure 2 "missing socket path" "empty path" "$load" -s unix:
expect_failure 2 "socket spec \"\": empty" "no spec" "$load"
expect_failure 1 "Unknown command line flag 'bogus'" "unknown flag" \
  "$load" --bogus
expect_failure 1 "Illegal value 'abc'" "bad value" "$load" --sessions=abc
short_tmp
expect_failure 1 "^milter-load: 3 of 3 sessions failed \(first: connect: No such file or directory\)" \
  "no socket" "$load" -s "unix:$short_dir/none.sock" --sessions 3
expect_failure 1 "2 of 2 connections failed \(first: connect: No such file" \
  "idle, no socket" "$load" -s "unix:$short_dir/none.sock" --idle 2 --hold 0
expect_failure 1 "1 of 1 sessions failed \(first: connect: Connection refused" \
  "connection refused" "$load" -s 'inet:1@[127.0.0.1]' --sessions 1
start_server "^listening on" python3 "$not_a_milter" "$short_dir/garbage.sock" garbage
expect_failure 1 "2 of 2 sessions failed \(first: bad reply: " \
  "garbage replies" "$load" -s "unix:$short_dir/garbage.sock" --sessions 2
start_server "^listening on" python3 "$not_a_milter" "$short_dir/close.sock" close
expect_failure 1 "2 of 2 sessions failed \(first: session: " \
  "closed connections" "$load" -s "unix:$short_dir/close.sock" --sessions 2

start_server "^listening on " "$filter" 'inet:0@[127.0.0.1]' || finish
pid=$server_pid
filter_out="$tmp/server.$((${#server_pids[@]} - 1)).out"
spec=${server_line#listening on }

# A skip to a body chunk: no more chunks, on to end of message (3 chunks
# of 65535 would otherwise follow). SIZE= is the message's real size:
# "Subject: s\r\n" (12) + "X-Load-1: header value number 1\r\n" (33)
# + "\r\n" (2) + 200000 body bytes.
expect_status 0 "skip session" "$load" -s "$spec" --sessions 3 --connections 1 \
  --headers 2 --subject s --body_size 200000
grep -q "^RESULT sessions=3 errors=0 " "$tmp/out" || fail "3 sessions: $(cat "$tmp/out")"
[ "$(grep -c '^eom$' "$filter_out")" = 3 ] ||
  fail "every session reaches end of message: $(cat "$filter_out")"
[ "$(grep -c '^body ' "$filter_out")" = 3 ] ||
  fail "one body chunk per session: $(cat "$filter_out")"
grep -q "^mail <sender@load.example> SIZE=200047$" "$filter_out" ||
  fail "SIZE= follows the message: $(grep '^mail' "$filter_out" | head -1)"

# Idle mode reports the connections it held.
expect_status 0 "idle" "$load" -s "$spec" --idle 3 --hold 0
grep -q "^RESULT idle=3 errors=0 " "$tmp/out" || fail "idle count: $(cat "$tmp/out")"

stop_server $pid || fail "the filter exits 0 on SIGTERM"
finish
