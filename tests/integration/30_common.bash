# Helpers for the tests/integration/30_*.sh scripts (milter-test-server against
# real filters). Sourced, not run: the .bash suffix keeps it out of the
# runner's *.sh glob.

WORK="$(mktemp -d /tmp/it30.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
CHECKS=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  # libmilter filters take ~5 s to exit after SIGTERM; don't wait for them.
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for log in "$WORK"/*.log; do
    [ -e "$log" ] && { echo "--- $log"; tail -20 "$log"; }
  done
  exit 1
}

ok() { CHECKS=$((CHECKS + 1)); echo "ok: $*"; }

# Builds milter-test-server; sets TOOL.
build_tool() {
  bazel build //tools/milter-test-server:milter-test-server "$@" 2>&1 |
    grep -E '^(ERROR|FAILED)' && fail "cannot build milter-test-server"
  TOOL="$(bazel info bazel-bin 2>/dev/null)/tools/milter-test-server/milter-test-server"
  [ -x "$TOOL" ] || fail "no $TOOL"
}

# start_filter NAME SOCKET_PATH COMMAND...: starts a filter, waits for its
# socket.
start_filter() {
  local name="$1" sock="$2"
  shift 2
  rm -f "$sock"
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  disown $! 2>/dev/null
  for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
  fail "$name did not start (no socket $sock)"
}

# run_tool EXPECTED_EXIT ARGS...: runs milter-test-server, sets OUT; checks
# the exit status.
run_tool() {
  local want="$1"
  shift
  OUT="$("$TOOL" "$@" 2>&1)"
  local got=$?
  [ "$got" -eq "$want" ] ||
    fail "milter-test-server $* exited $got, want $want; output:
$OUT"
}

# expect_line TEXT WHAT: OUT has a line exactly TEXT.
expect_line() {
  grep -qxF -- "$1" <<<"$OUT" || fail "$2: no line '$1' in:
$OUT"
  ok "$2"
}

# expect_no_match REGEX WHAT
expect_no_match() {
  grep -qE -- "$1" <<<"$OUT" && fail "$2: unexpected '$1' in:
$OUT"
  ok "$2"
}
