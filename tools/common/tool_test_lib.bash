# Sourced by the tools' sh_tests: counts failures and checks exit statuses.
#   tmp=DIR; source tool_test_lib.bash
#   expect_status WANT DESCRIPTION COMMAND...   (stdout in $tmp/out, stderr in $tmp/err)
#   fail MESSAGE                                (records a failure, goes on)
# The test ends with: [ "$failures" = 0 ]
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_status() {  # STATUS DESCRIPTION COMMAND...
  local want="$1" what="$2"
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" = "$want" ] || fail "$what: exit $got, want $want ($(cat "$tmp/err"))"
}
