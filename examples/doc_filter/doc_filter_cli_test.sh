#!/bin/bash
# doc_filter's command line: --help exits 0; no socket spec is a usage error
# (2); a socket it cannot listen on (the long-path case, a missing directory,
# a port in use) exits 1; SIGTERM ends a running filter with 0. Every failure
# says why in one line on stderr.
set -u
filter="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$2"
short_tmp
long="/tmp/$(printf 'a%.0s' $(seq 120))"

expect_status 0 "--help" "$filter" --help
grep -q "^usage: doc_filter SOCKET_SPEC" "$tmp/out" || fail "--help prints the usage"
expect_failure 2 "^doc_filter: missing SOCKET_SPEC" "no argument" "$filter"
expect_failure 1 "^doc_filter: .*socket path is 125 bytes long; the limit is 107" \
  "long bare path" "$filter" "$long"
expect_failure 1 "socket path is 125 bytes long" "long path, second spec" \
  "$filter" "unix:$short_dir/ok.sock" "local:$long"
expect_failure 1 "^doc_filter: .*bind: No such file or directory" \
  "missing directory" "$filter" "unix:$short_dir/no/such/dir.sock"

start_server "^doc_filter: listening on inet:" "$filter" 'inet:0@[127.0.0.1]' ||
  finish
pid=$server_pid
spec=${server_line#doc_filter: listening on }
expect_failure 1 "bind: Address already in use" "port in use" "$filter" "$spec"
stop_server "$pid" || fail "exits 0 on SIGTERM"
finish
