#!/bin/bash
# milter-test-client's command line, what it prints for a probe (nothing)
# and for a negotiated session (driven by milter-load), and its failures
# (exit status, one-line reason on stderr).
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

# Failures: exit 1, one line on stderr.
long="/tmp/$(printf 'a%.0s' $(seq 120))"
expect_failure 1 "socket path is 125 bytes long; the limit is 107" \
  "long bare path" "$client" -s "$long"
expect_failure 1 "socket path is 125 bytes long" "long unix: path" \
  "$client" -s "unix:$long"
expect_failure 1 "^milter-test-client: .*use inet6:PORT@\[::1\]" \
  "IPv6 address in inet:" "$client" -s 'inet:0@[::1]'
expect_failure 1 "bind: No such file or directory" "cannot listen" \
  "$client" -s unix:/nonexistent-dir/x.sock
expect_failure 1 "Unknown command line flag 'bogus'" "unknown flag" \
  "$client" --bogus

start_server "^milter-test-client: listening on " \
  "$client" -s 'inet:0@[127.0.0.1]' || finish
pid=$server_pid
client_out="$tmp/server.$((${#server_pids[@]} - 1)).out"
spec=${server_line#milter-test-client: listening on }
port=$(echo "$spec" | sed 's/^inet:\([0-9]*\)@.*/\1/')

# A probe: connect, close. No session, no line, no number used (the session
# below is [1] and its first line is the first line printed).
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "probe connects"
exec 3>&-

expect_status 0 "one session" "$load" -s "$spec" --sessions 1 --connections 1
# The port is taken: cannot listen.
expect_failure 1 "^milter-test-client: .*bind: Address already in use" \
  "port in use" "$client" -s "$spec"
stop_server $pid || fail "exits 0 on SIGTERM"
head -1 "$client_out" | grep -q '^\[1\] negotiate: version=6$' ||
  fail "the session is [1] and starts with negotiate: $(head -3 "$client_out")"
[ "$(grep -c 'close$' "$client_out")" = 1 ] ||
  fail "one close: $(grep 'close' "$client_out")"
[ "$(tail -1 "$client_out")" = "[1] close" ] || fail "ends with [1] close"

finish
