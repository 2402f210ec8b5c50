#!/bin/bash
# floor_driver's command line: --help exits 0; wrong arguments (count,
# numbers, the long-path case) are usage errors (2); a missing or malformed
# groups file, no filter, or a peer that is not a milter exits 1; a run
# against the example filter exits 0. Every failure says why in one line on
# stderr.
set -u
driver="$1"
sample="$2"
not_a_milter="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
source "$4"
short_tmp
long="/tmp/$(printf 'a%.0s' $(seq 120))"

# One session's writes, as milter-test-server sends them: option
# negotiation (version 6, all actions, no protocol flags), then quit.
groups="$tmp/groups"
printf '%s\n' 0000000d4f000000060000003f00000000 0000000151 >"$groups"
echo "not hex" >"$tmp/bad_groups"

expect_status 0 "--help" "$driver" --help
grep -q "^usage: floor_driver SOCKET_PATH" "$tmp/out" || fail "--help prints the usage"
expect_failure 2 "^floor_driver: want SOCKET_PATH GROUPS_FILE" "no arguments" "$driver"
expect_failure 2 "^floor_driver: socket path is 125 bytes long; the limit is 107" \
  "long path" "$driver" "$long" "$groups" 1 1
expect_failure 2 "SESSIONS must be" "bad SESSIONS" "$driver" "$short_dir/x.sock" "$groups" 1x 1
expect_failure 2 "CONCURRENCY 1..100000" "bad CONCURRENCY" "$driver" "$short_dir/x.sock" "$groups" 1 0
expect_failure 1 "^floor_driver: $tmp/none: No such file" "no groups file" \
  "$driver" "$short_dir/x.sock" "$tmp/none" 1 1
expect_failure 1 "want two or more lines of hex" "bad groups file" \
  "$driver" "$short_dir/x.sock" "$tmp/bad_groups" 1 1
expect_failure 1 "^floor_driver: 2 of 2 sessions failed \(first: connect: No such file" \
  "no filter" "$driver" "$short_dir/none.sock" "$groups" 2 1
grep -q "^sessions 0 errors 2 " "$tmp/out" || fail "counts the errors: $(cat "$tmp/out")"

start_server "^listening on" python3 "$not_a_milter" "$short_dir/garbage.sock" garbage
expect_failure 1 "3 of 3 sessions failed \(first: a reply with a bad length\)" \
  "garbage replies" "$driver" "$short_dir/garbage.sock" "$groups" 3 2
start_server "^sample_filter: listening on" "$sample" "unix:$short_dir/sample.sock" ||
  finish
expect_status 0 "against the example filter" "$driver" "$short_dir/sample.sock" "$groups" 5 2
grep -q "^sessions 5 errors 0 " "$tmp/out" || fail "5 sessions: $(cat "$tmp/out")"
[ ! -s "$tmp/err" ] || fail "nothing on stderr: $(cat "$tmp/err")"
finish
