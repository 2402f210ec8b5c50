#!/bin/bash
# milter-test-server's exit statuses and one-line reasons on standard error:
# --help, usage errors (bad socket specs, the long-path case included, an
# unknown option), a filter that cannot be reached, peers that are not
# milters (garbage, a closed connection, silence until the timeout), in one
# session and in load mode; and a pass against the example filter.
set -u
server="$1"
not_a_milter="$2"
sample="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$4"
short_tmp
dir="$short_dir"
long="/tmp/$(printf 'a%.0s' $(seq 120))"

expect_status 0 "--help" "$server" --help
grep -q "Usage: milter-test-server" "$tmp/out" || fail "--help prints the usage"
[ ! -s "$tmp/err" ] || fail "--help: nothing on stderr"

# Usage errors: exit 2.
expect_failure 2 "socket path is 125 bytes long; the limit is 107" \
  "long bare path" "$server" -s "$long"
expect_failure 2 "socket path is 125 bytes long" "long unix: path" \
  "$server" -s "unix:$long"
expect_failure 2 "use inet6:PORT@\[::1\]" "IPv6 address in inet:" \
  "$server" -s 'inet:25@[::1]'
expect_failure 2 "port \"x\" is not a number" "bad port" "$server" -s inet:x
expect_failure 2 "missing socket path" "empty path" "$server" -s unix:
expect_failure 2 "unknown option --bogus" "unknown option" "$server" --bogus
expect_failure 2 "--threads=abc" "bad value" "$server" --threads=abc
expect_failure 2 "unexpected argument|positional" "stray argument" \
  "$server" -s unix:/x stray

# The filter cannot be reached: exit 1.
expect_failure 1 "^milter-test-server: UNAVAILABLE: connecting to unix:$dir/none.sock: No such file" \
  "no socket" "$server" -s "unix:$dir/none.sock"
grep -q "^status: error$" "$tmp/out" || fail "no socket: status: error on stdout"
expect_failure 1 "UNAVAILABLE: connecting to inet:1@\[127.0.0.1\]: Connection refused" \
  "connection refused" "$server" -s 'inet:1@[127.0.0.1]'
expect_failure 1 "^milter-test-server: 3 of 3 sessions failed \(e.g. connecting to unix:$dir/none.sock" \
  "load mode, no socket" "$server" -s "unix:$dir/none.sock" --n-sessions 3

# Peers that are not milters.
start_server "^listening on" python3 "$not_a_milter" "$dir/garbage.sock" garbage
expect_failure 1 "^milter-test-server: INVALID_ARGUMENT" "garbage reply" \
  "$server" -s "unix:$dir/garbage.sock"
expect_failure 1 "4 of 4 sessions failed" "load mode, garbage replies" \
  "$server" -s "unix:$dir/garbage.sock" --n-sessions 4 --threads 2
start_server "^listening on" python3 "$not_a_milter" "$dir/close.sock" close
expect_failure 1 "^milter-test-server: UNAVAILABLE" "closed connection" \
  "$server" -s "unix:$dir/close.sock"
start_server "^listening on" python3 "$not_a_milter" "$dir/silent.sock" silent
expect_failure 1 "DEADLINE_EXCEEDED.*no answer within" "silent filter" \
  "$server" -s "unix:$dir/silent.sock" --reading-timeout 0.3

# A pass: exit 0, nothing on stderr.
start_server "listening on" "$sample" "unix:$dir/sample.sock"
expect_status 0 "pass" "$server" -s "unix:$dir/sample.sock"
grep -q "^status: pass$" "$tmp/out" || fail "pass: $(cat "$tmp/out")"
[ ! -s "$tmp/err" ] || fail "pass: nothing on stderr: $(cat "$tmp/err")"
expect_status 3 "reject" "$server" -s "unix:$dir/sample.sock" \
  -f '<reject@example.com>'
finish
