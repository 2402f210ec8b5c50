# Sourced by the command-line tests of the tools and examples: counts
# failures, checks exit statuses and the one-line reason on standard error,
# and starts servers, waiting for the line that says they listen (a blocking
# read on a FIFO, no polling).
#   tmp=DIR; source tool_test_lib.bash
#   expect_status WANT DESCRIPTION COMMAND...   (stdout in $tmp/out, stderr in $tmp/err)
#   expect_failure WANT PATTERN DESCRIPTION COMMAND...
#                        exit status WANT and one line on stderr matching PATTERN (grep -E)
#   start_server PATTERN COMMAND...
#                        runs COMMAND in the background until a line of its stderr
#                        matches PATTERN: sets server_pid and server_line
#                        (stdout to $tmp/server.N.out, stderr to $tmp/server.N.err)
#   stop_server PID      SIGTERM, then waits; returns the exit status
#   short_tmp            sets short_dir to a new directory under /tmp for Unix
#                        sockets (TEST_TMPDIR is too long a path for one);
#                        removed by finish
#   fail MESSAGE         records a failure, goes on
#   finish               kills what start_server started, prints PASS or the
#                        number of failures, exits accordingly
failures=0
server_pids=()
short_dirs=()
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_status() {  # STATUS DESCRIPTION COMMAND...
  local want="$1" what="$2"
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" = "$want" ] || fail "$what: exit $got, want $want ($(cat "$tmp/err"))"
}
expect_failure() {  # STATUS PATTERN DESCRIPTION COMMAND...
  local want="$1" pattern="$2" what="$3"
  shift 3
  expect_status "$want" "$what" "$@"
  local lines
  lines=$(wc -l <"$tmp/err")
  [ "$lines" = 1 ] || fail "$what: want one line on stderr, got $lines: $(cat "$tmp/err")"
  grep -qE -- "$pattern" "$tmp/err" || fail "$what: stderr lacks /$pattern/: $(cat "$tmp/err")"
}
start_server() {  # PATTERN COMMAND...
  local pattern="$1" n="${#server_pids[@]}" fd line
  shift
  local fifo="$tmp/server.$n.fifo"
  rm -f "$fifo"
  mkfifo "$fifo"
  "$@" >"$tmp/server.$n.out" 2>"$fifo" &
  server_pid=$!
  server_pids+=("$server_pid")
  exec {fd}<"$fifo"
  server_line=""
  while IFS= read -r -t 30 -u "$fd" line; do
    echo "$line" >>"$tmp/server.$n.err"
    if [[ "$line" =~ $pattern ]]; then
      server_line="$line"
      break
    fi
  done
  # Keep draining its stderr so that it never blocks on a full pipe.
  cat <&"$fd" >>"$tmp/server.$n.err" &
  exec {fd}<&-
  [ -n "$server_line" ] || { fail "$* did not start: $(cat "$tmp/server.$n.err")"; return 1; }
}
stop_server() {  # PID
  kill -TERM "$1" 2>/dev/null
  wait "$1"
}
short_tmp() {
  short_dir=$(mktemp -d /tmp/mt.XXXXXX)
  short_dirs+=("$short_dir")
}
finish() {
  local pid d
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for d in "${short_dirs[@]}"; do rm -rf "$d"; done
  if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
  fi
  echo PASS
  exit 0
}
