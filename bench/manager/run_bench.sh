#!/usr/bin/env bash
# The milter manager (//manager:milter-manager) against its children, driven
# by the MTA-side load generator (//tools/milter-load), in one run. Unix
# sockets throughout.
#
#   bash bench/manager/run_bench.sh [SESSIONS=20000] [ROUNDS=3] [IDLE=9900]
#
# (a) Closed loop, 10 concurrent clients, full sessions (milter-load's
#     defaults: 10 headers, 4 KiB body, Subject with NOMOD, so no child
#     changes anything), cells:
#       direct               milter-load -> one libmilter child
#       manager, 1 child     milter-load -> manager -> that child
#       manager, 3 children  milter-load -> manager -> three libmilter
#                            children (three processes, the first is it)
#     Rounds interleave the cells; per-round lines, then medians of
#     sessions/s, the ratio to direct, the manager's CPU per session
#     (utime+stime from /proc/PID/stat over the round / SESSIONS) and the
#     children's (the same, summed over the cell's child processes). The
#     manager runs with its default io_threads (printed) unless
#     MANAGER_IO_THREADS is set. Then the floor: round_trip_cost (10
#     socket pairs, 100000 round trips) gives the CPU one request/answer
#     round trip costs the asking side on this machine, against an
#     event-loop answerer (as the MTA side, milter-load, is) and against a
#     thread per connection (as libmilter serves). Per session with one
#     child the manager relays 7 answered round trips with the MTA
#     (negotiation, connect, HELO, MAIL, RCPT, DATA, end of message) and 19
#     with the child (those plus 10 headers, end of headers and the body):
#     7 x the first + 19 x the second is the least any manager relaying
#     them could spend per session.
# (b) Idle: a fresh manager with one child (our sample_filter, lighter than
#     libmilter's), IDLE negotiated idle MTA connections: (RSS after - RSS
#     before) / IDLE of the manager (its child-side connection included),
#     the negotiation time as milter-load reports it, and the descriptors
#     the manager and the child gained (one child connection per MTA
#     connection: 2 x IDLE and IDLE). Then again with IDLE/4 connections
#     (another fresh manager): time(IDLE) / time(IDLE/4) is about 4 if
#     negotiation time is linear in the number of connections.
# (c) Large message: a LARGE_MB (default 50) MB message (CRLF lines of 78
#     bytes, Subject without NOMOD) sent once with milter-test-server through
#     a fresh manager with max_message_memory_bytes 1 MiB, temporary_directory
#     in the scratch directory, and the three libmilter children, each of
#     which changes the message. Checks the exit status and the changes;
#     reports the manager's peak RSS (VmHWM) against its RSS before, the
#     spill file seen in /proc/PID/fd while the message was in flight, and
#     that none is left afterwards.
#
# Every binary is copied to the scratch directory first (a concurrent build
# cannot swap it mid-run). Exits non-zero with a one-line reason on any
# failure; stops every process it started and removes its files on every
# exit path.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
SESSIONS="${1:-20000}"
ROUNDS="${2:-3}"
IDLE="${3:-9900}"
LARGE_MB="${LARGE_MB:-50}"
BAZEL="${BAZEL:-bazel}"

fail() { echo "bench/manager/run_bench.sh: $*" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
# The manager holds two descriptors per idle MTA connection (MTA side, child).
[ "$(ulimit -n)" -ge $((2 * IDLE + 100)) ] ||
  fail "open file limit $(ulimit -n) too low for $IDLE idle connections (at most $((($(ulimit -n) - 100) / 2)))"
[ "$IDLE" -ge 4 ] || fail "IDLE must be at least 4"

$BAZEL build //manager:milter-manager //tools/milter-load //tools/milter-test-server \
  //examples/sample:sample_filter //bench/manager:round_trip_cost >/dev/null 2>&1 || fail "bazel build failed"
BIN="$($BAZEL info bazel-bin 2>/dev/null)"
WORK="$(mktemp -d /tmp/bench_mgr.XXXXXX)"
source bench/bench_lib.bash  # removes WORK and stops the processes on exit
trap 'exit 130' INT
trap 'exit 143' TERM
cp "$BIN/manager/milter-manager" "$BIN/tools/milter-load/milter-load" \
  "$BIN/tools/milter-test-server/milter-test-server" "$WORK/" || fail "copy failed"
cp "$BIN/examples/sample/sample_filter" "$WORK/sample_filter" || fail "copy failed"
cp "$BIN/bench/manager/round_trip_cost" "$WORK/" || fail "copy failed"
MGR="$WORK/milter-manager"
LOAD="$WORK/milter-load"
bash tests/build_c_filter.sh "$WORK/libmilter_sample" || fail "building the libmilter filter failed"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 | wc -l; }
spill_fds() { find "/proc/$1/fd" -lname "$WORK/spill/*" -printf '%l\n' 2>/dev/null; }
forget_pid() {  # PID: no longer stopped at exit (it has exited)
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
# Stops one process started here (SIGTERM, SIGKILL after 10 s) and forgets it.
stop_pid() {
  kill "$1" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  forget_pid "$1"
}
# Writes $WORK/NAME.conf: the manager on $WORK/NAME.sock, one child per
# CHILD (on $WORK/CHILD.sock), EXTRA lines (may be empty) in between.
manager_config() {  # NAME EXTRA CHILD...
  local name="$1" extra="$2" c
  shift 2
  {
    echo "connection_spec: \"unix:$WORK/$name.sock\""
    echo "detect_installed_milters: false"  # only the children listed here
    [ -n "${MANAGER_IO_THREADS:-}" ] && echo "io_threads: $MANAGER_IO_THREADS"
    [ -n "$extra" ] && echo "$extra"
    for c in "$@"; do echo "child { name: \"$c\" connection_spec: \"unix:$WORK/$c.sock\" }"; done
  } >"$WORK/$name.conf"
}
start_manager() {  # NAME; sets PID
  "$MGR" -c "$WORK/$1.conf" 2>"$WORK/$1.log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do
    [ -S "$WORK/$1.sock" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  fail "manager $1 did not start: $(tail -1 "$WORK/$1.log")"
}
ticks_sum() {  # PID...: utime+stime summed
  local p s=0
  for p in "$@"; do s=$((s + $(cpu_ticks "$p"))); done
  echo "$s"
}
per_session() {  # TICKS SESSIONS -> ms per session
  awk -v d="$1" -v t="$TICK" -v n="$2" 'BEGIN {printf "%.4f", d * 1000 / t / n}'
}

bench_start lib0 "$WORK/libmilter_sample"; LIB0=$PID
bench_start lib1 "$WORK/libmilter_sample"; LIB1=$PID
bench_start lib2 "$WORK/libmilter_sample"; LIB2=$PID
manager_config m1 "" lib0
manager_config m3 "" lib0 lib1 lib2
IO_THREADS=$("$MGR" -c "$WORK/m1.conf" --show-config | awk '/^io_threads:/ {print $2}')
start_manager m1; M1=$PID
start_manager m3; M3=$PID

# ---- (a) closed loop
echo "== (a) closed loop: $SESSIONS sessions x $ROUNDS rounds, 10 concurrent clients"
echo "   machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   manager io_threads: $IO_THREADS ($([ -n "${MANAGER_IO_THREADS:-}" ] && echo "MANAGER_IO_THREADS" || echo "default: the number of cores"))"
declare -A RATE MCPU CCPU
measure() {  # label sock manager-pid|- child-pid...
  local label="$1" sock="$2" mpid="$3" m0=0 m1=0 k0 k1 out rate p50 p99 mcpu ccpu
  shift 3
  [ "$mpid" != - ] && m0=$(cpu_ticks "$mpid")
  k0=$(ticks_sum "$@")
  "$LOAD" -s "unix:$WORK/$sock.sock" --connections 10 --sessions "$SESSIONS" \
    >"$WORK/load.out" 2>&1 ||
    fail "milter-load failed on \"$label\": $(tail -1 "$WORK/load.out") (log: $(tail -1 "$WORK/$sock.log"))"
  [ "$mpid" != - ] && m1=$(cpu_ticks "$mpid")
  k1=$(ticks_sum "$@")
  out=$(grep '^RESULT' "$WORK/load.out" | tail -1)
  echo "$out" | grep -q " errors=0 " || fail "\"$label\": $out"
  rate=$(echo "$out" | sed -E 's/.*sessions_per_sec=([0-9.]+).*/\1/')
  p50=$(echo "$out" | sed -E 's/.*p50_ms=([0-9.]+).*/\1/')
  p99=$(echo "$out" | sed -E 's/.*p99_ms=([0-9.]+).*/\1/')
  mcpu=-
  [ "$mpid" != - ] && mcpu=$(per_session $((m1 - m0)) "$SESSIONS")
  ccpu=$(per_session $((k1 - k0)) "$SESSIONS")
  printf "     %-20s %7.0f sessions/s  manager CPU %6s ms/session  children CPU %s ms/session  p50 %s ms  p99 %s ms\n" \
    "$label" "$rate" "$mcpu" "$ccpu" "$p50" "$p99"
  RATE[$label]+="$rate "
  MCPU[$label]+="$mcpu "
  CCPU[$label]+="$ccpu "
}
CELLS=("direct" "manager, 1 child" "manager, 3 children")
for r in $(seq 1 "$ROUNDS"); do
  echo "   round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  measure "direct" lib0 - "$LIB0"
  measure "manager, 1 child" m1 "$M1" "$LIB0"
  measure "manager, 3 children" m3 "$M3" "$LIB0" "$LIB1" "$LIB2"
done
stop_pid "$M1"
stop_pid "$M3"
echo
echo "| cell | sessions/s (median) | ratio to direct | manager CPU ms/session | children CPU ms/session |"
echo "|---|---:|---:|---:|---:|"
DIRECT=$(echo "${RATE[direct]}" | median)
for c in "${CELLS[@]}"; do
  m=-
  [ "$c" != direct ] && m=$(echo "${MCPU[$c]}" | median)
  awk -v c="$c" -v r="$(echo "${RATE[$c]}" | median)" -v d="$DIRECT" -v m="$m" \
    -v k="$(echo "${CCPU[$c]}" | median)" \
    'BEGIN {printf "| %s | %.0f | %.2fx | %s | %s |\n", c, r, r / d, m, k}'
done
FLOOR_LOOP=$("$WORK/round_trip_cost" 10 100000) || fail "round_trip_cost failed"
FLOOR_THREADS=$("$WORK/round_trip_cost" --threaded 10 100000) || fail "round_trip_cost --threaded failed"
echo
echo "   floor, event-loop answerer:       $FLOOR_LOOP"
echo "   floor, thread-per-pair answerer:  $FLOOR_THREADS"
awk -v a="$(echo "$FLOOR_LOOP" | awk '{print $4}')" -v b="$(echo "$FLOOR_THREADS" | awk '{print $4}')" 'BEGIN {
  printf "   a round trip costs the asker %.1f us (event loop) and %.1f us (threads); 7 + 19 relayed round trips: %.3f ms per session at least\n",
    a, b, (7 * a + 19 * b) / 1000}'

# ---- (b) idle connections
echo
echo "== (b) idle: negotiated idle MTA connections, manager with 1 child (sample_filter)"
bench_start sample "$WORK/sample_filter"; SAMPLE=$PID
declare -A ITIME
idle_run() {  # N
  local n="$1" name="idle$1" mpid lpid r0 r1 f0 f1 s0 s1 line got t e
  manager_config "$name" "" sample
  start_manager "$name"; mpid=$PID
  sleep 0.5
  r0=$(rss_kib "$mpid"); f0=$(fd_count "$mpid"); s0=$(fd_count "$SAMPLE")
  "$LOAD" -s "unix:$WORK/$name.sock" --idle "$n" --hold 600 >"$WORK/$name.out" 2>&1 &
  lpid=$!
  PIDS+=("$lpid")
  for _ in $(seq 3000); do
    grep -q READY "$WORK/$name.out" && break
    kill -0 "$lpid" 2>/dev/null || break
    sleep 0.2
  done
  grep -q READY "$WORK/$name.out" || fail "idle $n: milter-load did not get ready: $(tail -1 "$WORK/$name.out")"
  sleep 1
  r1=$(rss_kib "$mpid"); f1=$(fd_count "$mpid"); s1=$(fd_count "$SAMPLE")
  stop_pid "$lpid"  # on SIGTERM it prints "RESULT idle=N errors=E negotiate_seconds=T"
  stop_pid "$mpid"
  line=$(grep '^RESULT' "$WORK/$name.out")
  read -r got e t <<<"$(echo "$line" | sed -E 's/RESULT idle=([0-9]+) errors=([0-9]+) negotiate_seconds=([0-9.]+).*/\1 \2 \3/')"
  [ "$got" = "$n" ] && [ "$e" = 0 ] || fail "idle $n: $(grep '^idle:' "$WORK/$name.out") $line"
  ITIME[$n]=$t
  echo "   $n connections: negotiated in $t s; manager RSS $r0 -> $r1 KiB," \
    "$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}') bytes per MTA connection"
  echo "     descriptors: manager +$((f1 - f0)) (expected $((2 * n)): MTA side + child side)," \
    "child +$((s1 - s0)) (expected $n): $(awk -v d=$((s1 - s0)) -v n="$n" 'BEGIN {printf "%.2f", d / n}') child connections per MTA connection"
  [ $((s1 - s0)) -ge "$n" ] || echo "     NOTE: fewer child connections than MTA connections"
  # Let the child close its side before the next run.
  for _ in $(seq 100); do [ "$(fd_count "$SAMPLE")" -le $((s0 + 5)) ] && break; sleep 0.1; done
}
idle_run "$IDLE"
idle_run $((IDLE / 4))
awk -v a="${ITIME[$IDLE]}" -v b="${ITIME[$((IDLE / 4))]}" -v n="$IDLE" -v q=$((IDLE / 4)) \
  'BEGIN {printf "   time(%d) / time(%d) = %s / %s = %s (linear: about 4)\n", n, q, a, b, (b > 0 ? sprintf("%.2f", a / b) : "n/a")}'

# ---- (c) large message
echo
echo "== (c) large message: ${LARGE_MB} MB through a manager with 3 libmilter children, max_message_memory_bytes 1 MiB"
MAIL="$WORK/large.eml"
awk -v lines=$((LARGE_MB * 1024 * 1024 / 78)) 'BEGIN {
  printf "From: <sender@example.com>\r\nTo: <receiver@example.org>\r\n"
  printf "Subject: large message test\r\nMessage-ID: <large@bench.example>\r\n"
  printf "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
  for (i = 0; i < lines; i++)
    printf "%08d abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 -----\r\n", i
}' >"$MAIL" || fail "cannot write $MAIL"
SIZE=$(stat -c %s "$MAIL")
mkdir -p "$WORK/spill"
manager_config big "max_message_memory_bytes: 1048576
temporary_directory: \"$WORK/spill\"" lib0 lib1 lib2
start_manager big; MB=$PID
sleep 0.5
R0=$(rss_kib "$MB"); H0=$(hwm_kib "$MB")
C0=$(cpu_ticks "$MB"); K0=$(ticks_sum "$LIB0" "$LIB1" "$LIB2"); T0=$(date +%s.%N)
"$WORK/milter-test-server" --connection-spec "unix:$WORK/big.sock" --mail-file "$MAIL" \
  --output-message --connection-timeout 60 --reading-timeout 300 --writing-timeout 300 \
  --end-of-message-timeout 300 >"$WORK/big.out" 2>"$WORK/big.err" &
TS=$!
PIDS+=("$TS")
SPILL=""
while kill -0 "$TS" 2>/dev/null; do
  [ -z "$SPILL" ] && SPILL=$(spill_fds "$MB" | head -1)
  sleep 0.05
done
wait "$TS"; RC=$?
forget_pid "$TS"
T1=$(date +%s.%N); C1=$(cpu_ticks "$MB"); K1=$(ticks_sum "$LIB0" "$LIB1" "$LIB2")
H1=$(hwm_kib "$MB"); R1=$(rss_kib "$MB")
LEFT_OPEN=$(spill_fds "$MB" | wc -l)
[ "$RC" = 0 ] || fail "milter-test-server exited $RC: $(tail -1 "$WORK/big.err")"
stop_pid "$MB"
grep -Eq '^status: (pass|accept)$' "$WORK/big.out" || fail "large message: $(grep -m1 '^status' "$WORK/big.out")"
echo "   message: $SIZE bytes; milter-test-server: exit 0, $(grep -m1 '^status' "$WORK/big.out"), $(grep -m1 '^elapsed-time' "$WORK/big.out")"
awk -v a="$T0" -v b="$T1" -v m=$((C1 - C0)) -v k=$((K1 - K0)) -v t="$TICK" 'BEGIN {
  printf "   wall time %.2f s (milter-test-server start to exit); CPU: manager %.0f ms, children %.0f ms (sum)\n",
    b - a, m * 1000 / t, k * 1000 / t}'
echo "   modifications the MTA received:"
grep '^modification:' "$WORK/big.out" | sed 's/^/     /'
HEAD=$(sed -n '/^message:$/,/^\r\?$/{/^message:$/d;/^\r\?$/d;p}' "$WORK/big.out" | tr -d '\r')
echo "   resulting envelope and headers:"
grep '^envelope-' "$WORK/big.out" | sed 's/^/     /'
echo "$HEAD" | sed 's/^/     /'
[ "$(echo "$HEAD" | grep -c '^X-Sample: yes')" = 3 ] || fail "large message: not three X-Sample headers in the result"
echo "$HEAD" | grep -q '^Subject: \[sample\] \[sample\] \[sample\] large message test' ||
  fail "large message: Subject not changed by all three children"
BODY_LINES=$(sed -n '/^message:$/,$p' "$WORK/big.out" | grep -c '^[0-9]\{8\} abc')
echo "   body lines in the result: $BODY_LINES of $((LARGE_MB * 1024 * 1024 / 78))"
echo "   manager RSS: $R0 KiB before, peak (VmHWM) $H1 KiB (was $H0 KiB), $R1 KiB after;" \
  "peak growth $(awk -v a="$H0" -v b="$H1" 'BEGIN {printf "%.1f", (b - a) / 1024}') MiB for a $(awk -v s="$SIZE" 'BEGIN {printf "%.1f", s / 1048576}') MiB message"
echo "   spill file seen in the manager's descriptors: ${SPILL:-(none seen)}"
echo "   spill files left: open $LEFT_OPEN, in $WORK/spill: $(find "$WORK/spill" -mindepth 1 | wc -l)"
if [ "$LEFT_OPEN" != 0 ] || [ -n "$(find "$WORK/spill" -mindepth 1)" ]; then
  fail "large message: a spill file was left behind"
fi
echo
echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
