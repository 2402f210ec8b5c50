#!/bin/bash
# sample_filter's command line: --help exits 0; a missing or extra argument
# is a usage error (2); a socket it cannot listen on (the long-path case, a
# missing directory, a socket another process listens on, a file that is not
# a socket) exits 1; SIGTERM ends a running filter with 0. Every failure says
# why in one line on stderr.
set -u
filter="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$2"
short_tmp
long="/tmp/$(printf 'a%.0s' $(seq 120))"

expect_status 0 "--help" "$filter" --help
grep -q "^usage: sample_filter SOCKET_SPEC" "$tmp/out" || fail "--help prints the usage"
expect_failure 2 "^sample_filter: missing SOCKET_SPEC" "no argument" "$filter"
expect_failure 2 "^sample_filter: one SOCKET_SPEC only" "two arguments" \
  "$filter" "unix:$short_dir/a.sock" "unix:$short_dir/b.sock"
expect_failure 1 "^sample_filter: .*socket path is 125 bytes long; the limit is 107" \
  "long bare path" "$filter" "$long"
expect_failure 1 "socket path is 125 bytes long" "long unix: path" \
  "$filter" "unix:$long"
expect_failure 1 "^sample_filter: .*bind: No such file or directory" \
  "missing directory" "$filter" "unix:$short_dir/no/such/dir.sock"
expect_failure 1 "unknown type" "bad spec" "$filter" "tcp:25"
touch "$short_dir/file"
expect_failure 1 "exists and is not a socket" "not a socket" \
  "$filter" "unix:$short_dir/file"

start_server "^sample_filter: listening on unix:$short_dir/f.sock$" \
  "$filter" "unix:$short_dir/f.sock" || finish
pid=$server_pid
expect_failure 1 "another process listens on it" "socket in use" \
  "$filter" "unix:$short_dir/f.sock"
stop_server "$pid" || fail "exits 0 on SIGTERM"
[ ! -e "$short_dir/f.sock" ] || fail "removes its socket on SIGTERM"
finish
