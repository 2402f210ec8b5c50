#!/bin/bash
# server_usage and server_usage_blocking: --help exits 0; a missing or bad
# socket spec (the long-path case included) is a usage error (2); no filter,
# or a peer that is not a milter, exits 1; against the example filter the
# message passes (0) or the sender is refused (3). Every failure says why in
# one line on stderr.
set -u
usage="$1"
blocking="$2"
sample="$3"
not_a_milter="$4"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$5"
short_tmp
long="/tmp/$(printf 'a%.0s' $(seq 120))"

start_server "^listening on" python3 "$not_a_milter" "$short_dir/garbage.sock" garbage
start_server "^sample_filter: listening on" "$sample" "unix:$short_dir/sample.sock" ||
  finish

for tool in "$usage" "$blocking"; do
  name=$(basename "$tool")
  expect_status 0 "$name --help" "$tool" --help
  grep -q "^usage: $name SOCKET_SPEC" "$tmp/out" || fail "$name --help prints the usage"
  expect_failure 2 "^$name: want one SOCKET_SPEC" "$name: no argument" "$tool"
  expect_failure 2 "^$name: socket spec .*socket path is 125 bytes long; the limit is 107" \
    "$name: long bare path" "$tool" "$long"
  expect_failure 2 "socket path is 125 bytes long" "$name: long unix: path" \
    "$tool" "unix:$long"
  expect_failure 2 "unknown type" "$name: bad spec" "$tool" "tcp:25"
  expect_failure 1 "^$name: open: UNAVAILABLE: connecting to unix:$short_dir/none.sock" \
    "$name: no filter" "$tool" "unix:$short_dir/none.sock"
  expect_failure 1 "^$name: open: INVALID_ARGUMENT" "$name: garbage reply" \
    "$tool" "unix:$short_dir/garbage.sock"
done

expect_status 0 "server_usage against the example filter" "$usage" "unix:$short_dir/sample.sock"
grep -q "^X-Sample: yes$" "$tmp/out" || fail "the filter's header is in the message: $(cat "$tmp/out")"
[ ! -s "$tmp/err" ] || fail "nothing on stderr: $(cat "$tmp/err")"
expect_status 3 "server_usage_blocking: the sender is refused" "$blocking" "unix:$short_dir/sample.sock"
grep -q "^mail: reject 550 5.7.1" "$tmp/out" || fail "prints the refusal: $(cat "$tmp/out")"
finish
