#!/usr/bin/env bash
# Through a real Postfix over TCP: accepted messages per second with the
# milter manager (//manager:milter-manager) in front of libmilter children,
# against Postfix talking to the same children itself, in one run.
#
#   bash bench/manager/postfix_bench.sh [MESSAGES=2000] [ROUNDS=3] [SESSIONS=20]
#
# Cells (every milter on inet:PORT@127.0.0.1; milter_protocol 6, Postfix's
# default):
#   direct 1         Postfix -> one libmilter child (testdata/libmilter/
#                    sample_filter.c)
#   manager 1        Postfix -> manager -> that same child
#   manager 1 +metrics  the same with status_listen set (the sessions count
#                    metrics), against "manager 1"
#   postfix chain 3  Postfix with smtpd_milters listing three libmilter
#                    children (three processes, the first is the one above)
#   manager 3        Postfix -> manager -> the same three children
#   manager 1 +script  the manager of "manager 1" with a second child, a
#                    script (bench/manager/every_stage.rb: a handler at
#                    every stage reading two values, returning :continue),
#                    against "manager 1"
#   manager 0        Postfix -> a manager with no children
#   manager script   Postfix -> a manager whose only child is that script,
#                    against "manager 0"
# The manager runs with its default io_threads unless MANAGER_IO_THREADS is
# set; each manager cell has its own manager process.
#
# Method as in bench/postfix/run_bench.sh: one throwaway Postfix
# (tests/postfix/postfix_env.sh: no systemd, no syslog, chroot off, DNS off,
# relaying to a local smtp-sink, milter_default_action = tempfail,
# in_flow_delay = 0) with one smtpd listener per cell (-o smtpd_milters=...
# in master.cf), so nothing is reloaded between measurements. A measurement:
# smtp-source -s SESSIONS -m MESSAGES -l 1024 with a Subject containing NOMOD
# (the children accept without a change); msg/s = MESSAGES / wall time of
# smtp-source, which stops at the first refused message (the run then
# fails). Then the script waits until the sink holds every message and
# empties it, so one cell's deliveries do not load the next. A warm-up of
# MESSAGES/10 per cell, then ROUNDS rounds interleaving the cells; medians,
# manager1/direct1, manager3/chain3, and the manager's and the children's CPU
# per message (utime+stime from /proc/PID/stat over the measurement).
#
# Environment: BAZEL (default bazel), BENCH_PORT (first of 19 ports, default
# 26500), MANAGER_IO_THREADS. As root. Exits non-zero with a one-line reason
# on any failure; cleans up (Postfix, sink, milters, files) on every exit
# path.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
MESSAGES="${1:-2000}"
ROUNDS="${2:-3}"
SESSIONS="${3:-20}"
BAZEL="${BAZEL:-bazel}"
BASE="${BENCH_PORT:-26500}"

fail() { echo "bench/manager/postfix_bench.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (Postfix)"
for t in postfix smtp-source smtp-sink; do
  command -v "$t" >/dev/null || fail "needs $t (bash scripts/install-deps.sh)"
done
[ "$MESSAGES" -ge 10 ] || fail "MESSAGES must be at least 10"
$BAZEL build //manager:milter-manager >/dev/null 2>&1 || fail "bazel build failed"
BIN="$($BAZEL info bazel-bin 2>/dev/null)"
WORK="$(mktemp -d /tmp/bench_mgr.XXXXXX)"
chmod 755 "$WORK"
source bench/bench_lib.bash  # removes WORK and stops the milters on exit
source tests/postfix/postfix_env.sh
trap 'pf_stop; bench_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A copy, so that a concurrent build cannot swap the binary mid-run.
cp "$BIN/manager/milter-manager" "$WORK/milter-manager" || fail "copy failed"
cp bench/manager/every_stage.rb "$WORK/every_stage.rb" || fail "copy failed"
bash tests/build_c_filter.sh "$WORK/libmilter" || fail "building the libmilter filter failed"

for p in $(seq "$BASE" $((BASE + 18))); do
  _pf_listening "$p" && fail "port $p is in use (set BENCH_PORT)"
done

declare -A PORT RATES MCPU CCPU
PORT[lib0]=$((BASE + 10)); PORT[lib1]=$((BASE + 11)); PORT[lib2]=$((BASE + 12))
PORT[m1]=$((BASE + 13)); PORT[m3]=$((BASE + 14)); PORT[m1s]=$((BASE + 15))
PORT[m1r]=$((BASE + 16)); PORT[m0]=$((BASE + 17)); PORT[mr]=$((BASE + 18))
wait_port() {  # NAME PID
  for _ in $(seq 100); do
    _pf_listening "${PORT[$1]}" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  fail "$1 did not start on port ${PORT[$1]}: $(tail -1 "$WORK/$1.log")"
}
start_child() {  # NAME; sets PID
  "$WORK/libmilter" "inet:${PORT[$1]}@127.0.0.1" 2>"$WORK/$1.log" &
  PID=$!
  PIDS+=("$PID")
  wait_port "$1" "$PID"
}
start_manager() {  # NAME [STATUS_LISTEN] CHILD...; sets PID; CHILD "script"
                   # is every_stage.rb
  local name="$1" status="$2" c
  shift 2
  {
    echo "connection_spec: \"inet:${PORT[$name]}@[127.0.0.1]\""
    echo "detect_installed_milters: false"  # only the children listed here
    [ -n "${MANAGER_IO_THREADS:-}" ] && echo "io_threads: $MANAGER_IO_THREADS"
    [ -n "$status" ] && echo "status_listen: \"$status\""
    for c in "$@"; do
      if [ "$c" = script ]; then
        echo "child { name: \"script\" script { file: \"every_stage.rb\" } }"
      else
        echo "child { name: \"$c\" connection_spec: \"inet:${PORT[$c]}@127.0.0.1\" }"
      fi
    done
  } >"$WORK/$name.conf"
  "$WORK/milter-manager" -c "$WORK/$name.conf" 2>"$WORK/$name.log" &
  PID=$!
  PIDS+=("$PID")
  wait_port "$name" "$PID"
}
start_child lib0; LIB0=$PID
start_child lib1; LIB1=$PID
start_child lib2; LIB2=$PID
start_manager m1 "" lib0; M1=$PID
start_manager m3 "" lib0 lib1 lib2; M3=$PID
# The same as m1, counting metrics for a status listener.
start_manager m1s "inet:0@[127.0.0.1]" lib0; M1S=$PID
# The same as m1 with a script child after the libmilter one; the script
# alone; no child at all.
start_manager m1r "" lib0 script; M1R=$PID
start_manager m0 ""; M0=$PID
start_manager mr "" script; MR=$PID
IO_THREADS=$("$WORK/milter-manager" -c "$WORK/m1.conf" --show-config | awk '/^io_threads:/ {print $2}')

pf_start "$BASE" "" "in_flow_delay = 0s" || fail "Postfix did not start"
L() { echo "inet:127.0.0.1:${PORT[$1]}"; }
CELLS=("direct 1" "manager 1" "manager 1 +metrics" "postfix chain 3" "manager 3"
  "manager 1 +script" "manager 0" "manager script")
declare -A SMTP_PORT MILTERS MPID KIDS
MILTERS["direct 1"]=$(L lib0);                       MPID["direct 1"]=-
MILTERS["manager 1"]=$(L m1);                        MPID["manager 1"]=$M1
MILTERS["manager 1 +metrics"]=$(L m1s);              MPID["manager 1 +metrics"]=$M1S
MILTERS["postfix chain 3"]="$(L lib0),$(L lib1),$(L lib2)"; MPID["postfix chain 3"]=-
MILTERS["manager 3"]=$(L m3);                        MPID["manager 3"]=$M3
MILTERS["manager 1 +script"]=$(L m1r);               MPID["manager 1 +script"]=$M1R
MILTERS["manager 0"]=$(L m0);                        MPID["manager 0"]=$M0
MILTERS["manager script"]=$(L mr);                   MPID["manager script"]=$MR
KIDS["direct 1"]=$LIB0; KIDS["manager 1"]=$LIB0; KIDS["manager 1 +metrics"]=$LIB0
KIDS["postfix chain 3"]="$LIB0 $LIB1 $LIB2"; KIDS["manager 3"]="$LIB0 $LIB1 $LIB2"
KIDS["manager 1 +script"]=$LIB0; KIDS["manager 0"]=""; KIDS["manager script"]=""
port=$((BASE + 2))
for c in "${CELLS[@]}"; do
  SMTP_PORT[$c]=$port
  echo "127.0.0.1:$port inet n - n - - smtpd -o smtpd_milters=${MILTERS[$c]}" >>"$PF_CONF/master.cf"
  port=$((port + 1))
done
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload failed"
for p in "${SMTP_PORT[@]}"; do
  for _ in $(seq 100); do _pf_listening "$p" && break; sleep 0.1; done
  _pf_listening "$p" || fail "smtpd on port $p did not come up"
done

ticks_sum() {  # PID...
  local p s=0
  for p in "$@"; do s=$((s + $(cpu_ticks "$p"))); done
  echo "$s"
}
# Sends N messages through cell CELL; sets OUT to "msg/s manager-ms children-ms".
measure() {  # CELL N
  local t0 t1 m0=0 m1=0 k0 k1 mpid="${MPID[$1]}"
  # shellcheck disable=SC2086  # KIDS holds a list of PIDs
  k0=$(ticks_sum ${KIDS[$1]})
  [ "$mpid" != - ] && m0=$(cpu_ticks "$mpid")
  t0=$(date +%s.%N)
  if ! smtp-source -s "$SESSIONS" -m "$2" -l 1024 -S "bench NOMOD" \
      -M client.pf-test.example -f sender@client.pf-test.example \
      -t rcpt@dest.pf-test.example "127.0.0.1:${SMTP_PORT[$1]}" \
      >"$WORK/source.log" 2>&1; then
    pf_log | tail -5 >&2
    fail "smtp-source failed on \"$1\": $(tail -1 "$WORK/source.log")"
  fi
  t1=$(date +%s.%N)
  [ "$mpid" != - ] && m1=$(cpu_ticks "$mpid")
  # shellcheck disable=SC2086
  k1=$(ticks_sum ${KIDS[$1]})
  bench_drain "$PF_SINK_DIR" "$2" || fail "messages lost in cell $1"
  OUT=$(awk -v a="$t0" -v b="$t1" -v n="$2" -v m=$((m1 - m0)) -v k=$((k1 - k0)) -v t="$TICK" \
    -v mgr="$mpid" 'BEGIN {
      printf "%.0f %s %.3f", n / (b - a), (mgr == "-" ? "-" : sprintf("%.3f", m * 1000 / t / n)), k * 1000 / t / n}')
}

echo "== manager io_threads: $IO_THREADS ($([ -n "${MANAGER_IO_THREADS:-}" ] && echo "MANAGER_IO_THREADS" || echo "default: the number of cores")), milter_protocol 6, TCP 127.0.0.1"
echo "== warm-up: $((MESSAGES / 10)) messages per cell"
for c in "${CELLS[@]}"; do measure "$c" $((MESSAGES / 10)); done

echo "== $MESSAGES messages x $ROUNDS rounds, $SESSIONS SMTP sessions at a time"
for r in $(seq 1 "$ROUNDS"); do
  echo "   round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for c in "${CELLS[@]}"; do
    measure "$c" "$MESSAGES"
    read -r rate mcpu ccpu <<<"$OUT"
    printf "     %-18s %6s msg/s   manager CPU %5s ms/message   children CPU %s ms/message\n" \
      "$c" "$rate" "$mcpu" "$ccpu"
    RATES[$c]+="$rate "
    MCPU[$c]+="$mcpu "
    CCPU[$c]+="$ccpu "
  done
done
# The manager's log holds nothing but its start line unless something failed.
for m in m1 m3 m1s m1r m0 mr; do
  [ "$(grep -vc 'listening on\|status and metrics on' "$WORK/$m.log")" = 0 ] || echo "   NOTE: $m logged: $(grep -v 'listening on' "$WORK/$m.log" | tail -1)"
done

echo
echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| cell | msg/s (median) | ratio | manager CPU ms/msg | children CPU ms/msg |"
echo "|---|---:|---:|---:|---:|"
med() { echo "$1" | median; }
for c in "${CELLS[@]}"; do
  case "$c" in
    "manager 1") base="direct 1" ;;
    "manager 1 +metrics") base="manager 1" ;;
    "manager 3") base="postfix chain 3" ;;
    "manager 1 +script") base="manager 1" ;;
    "manager script") base="manager 0" ;;
    *) base="" ;;
  esac
  m=-
  [ "${MPID[$c]}" != - ] && m=$(med "${MCPU[$c]}")
  awk -v c="$c" -v r="$(med "${RATES[$c]}")" -v b="${base:+$(med "${RATES[$base]}")}" -v bn="$base" \
    -v m="$m" -v k="$(med "${CCPU[$c]}")" 'BEGIN {
      ratio = (b == "") ? "" : sprintf("%.2fx of %s", r / b, bn)
      printf "| %s | %d | %s | %s | %s |\n", c, r, ratio, m, k}'
done
