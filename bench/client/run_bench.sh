#!/usr/bin/env bash
# Side-by-side benchmark: our example filter (//examples/sample:sample_filter,
# milter/client) vs the same filter on sendmail's libmilter
# (testdata/libmilter/sample_filter.c), same load generator
# (//tools/milter-load), in one run.
#
#   bash bench/client/run_bench.sh [SESSIONS=20000] [ROUNDS=3] [IDLE=10000]
#
# 1. Full sessions (connect to end of message, 10 headers, 4 KiB body,
#    Subject with NOMOD so the filter changes nothing), 10 concurrent
#    clients: sessions/s and filter CPU per session (utime+stime from
#    /proc/PID/stat). Rounds alternate between the filters; medians are
#    reported. "ours (all replies)" offers no no-reply flags, so our filter
#    exchanges exactly the packets libmilter's does.
# 2. IDLE negotiated idle connections per filter: RSS growth / IDLE.
set -uo pipefail
cd "$(dirname "$0")/../.."
SESSIONS="${1:-20000}"
ROUNDS="${2:-3}"
IDLE="${3:-10000}"

ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" -lt $((IDLE + 100)) ]; then
  echo "open file limit $(ulimit -n) too low for $IDLE idle connections" >&2
  exit 1
fi

bazel build //examples/sample:sample_filter //tools/milter-load >/dev/null 2>&1 ||
  { echo "bazel build failed" >&2; exit 1; }
BIN="$(bazel info bazel-bin 2>/dev/null)"
OURS="$BIN/examples/sample/sample_filter"
LOAD="$BIN/tools/milter-load/milter-load"
WORK="$(mktemp -d /tmp/bench_client.XXXXXX)"
source "$(dirname "$0")/../bench_lib.bash"  # removes WORK and stops the filters on exit
bash tests/build_c_filter.sh "$WORK/libmilter_sample" || exit 1

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
NO_NR=0x100f7f  # every v6 flag except the no-reply ones

bench_start ours "$OURS"; OURS_PID=$PID
bench_start libmilter "$WORK/libmilter_sample"; LIB_PID=$PID

echo "== throughput: $SESSIONS sessions x $ROUNDS rounds, 10 concurrent clients"
echo "   machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A RATE CPU LGCPU
run() {  # label sock pid [extra milter-load args]
  local label="$1" sock="$2" pid="$3"; shift 3
  local c0 c1 out
  c0=$(cpu_ticks "$pid")
  out=$("$LOAD" -s "unix:$WORK/$sock.sock" --connections 10 --sessions "$SESSIONS" "$@" | tail -1)
  c1=$(cpu_ticks "$pid")
  local rate p50 p99 lg cpu_ms
  rate=$(echo "$out" | sed -E 's/.*sessions_per_sec=([0-9.]+).*/\1/')
  p50=$(echo "$out" | sed -E 's/.*p50_ms=([0-9.]+).*/\1/')
  p99=$(echo "$out" | sed -E 's/.*p99_ms=([0-9.]+).*/\1/')
  lg=$(echo "$out" | sed -E 's/.*loadgen_cpu_ms_per_session=([0-9.]+).*/\1/')
  echo "$out" | grep -q "errors=0" || echo "   WARNING: $label: $out"
  cpu_ms=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$SESSIONS" 'BEGIN {printf "%.4f", d * 1000 / t / n}')
  printf "   %-20s %8.0f sessions/s  filter CPU %.4f ms/session  p50 %s ms  p99 %s ms  (load generator %s ms/session)\n" \
    "$label" "$rate" "$cpu_ms" "$p50" "$p99" "$lg"
  RATE[$label]+="$rate "
  CPU[$label]+="$cpu_ms "
}
for r in $(seq 1 "$ROUNDS"); do
  run "ours" ours "$OURS_PID"
  run "libmilter" libmilter "$LIB_PID"
  run "ours (all replies)" ours "$OURS_PID" --mta_protocol=$NO_NR
done
R_OURS=$(echo "${RATE[ours]}" | median); C_OURS=$(echo "${CPU[ours]}" | median)
R_LIB=$(echo "${RATE[libmilter]}" | median); C_LIB=$(echo "${CPU[libmilter]}" | median)
R_ALL=$(echo "${RATE[ours (all replies)]}" | median); C_ALL=$(echo "${CPU[ours (all replies)]}" | median)

echo "== idle: $IDLE negotiated connections each"
idle() {  # label sock pid -> prints bytes per connection
  local r0 r1 lpid
  r0=$(rss_kib "$3")
  "$LOAD" -s "unix:$WORK/$2.sock" --idle "$IDLE" --hold 60 >"$WORK/idle.$2" 2>&1 &
  lpid=$!
  for _ in $(seq 300); do grep -q READY "$WORK/idle.$2" && break; sleep 0.2; done
  sleep 1
  r1=$(rss_kib "$3")
  kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
  echo "   $1: $(head -1 "$WORK/idle.$2"); RSS $r0 -> $r1 KiB" >&2
  awk -v a="$r0" -v b="$r1" -v n="$IDLE" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}'
}
M_OURS=$(idle ours ours "$OURS_PID")
sleep 2
M_LIB=$(idle libmilter libmilter "$LIB_PID")

echo
echo "| | ours | libmilter | ratio |"
echo "|---|---:|---:|---:|"
awk -v a="$R_OURS" -v b="$R_LIB" 'BEGIN {printf "| sessions/s (median) | %.0f | %.0f | %.2fx |\n", a, b, a / b}'
awk -v a="$C_OURS" -v b="$C_LIB" 'BEGIN {printf "| filter CPU ms/session | %.4f | %.4f | %.2f |\n", a, b, a / b}'
awk -v a="$R_ALL" -v b="$R_LIB" 'BEGIN {printf "| sessions/s, all replies | %.0f | %.0f | %.2fx |\n", a, b, a / b}'
awk -v a="$C_ALL" -v b="$C_LIB" 'BEGIN {printf "| filter CPU ms/session, all replies | %.4f | %.4f | %.2f |\n", a, b, a / b}'
echo "| bytes per idle connection | $M_OURS | $M_LIB | |"
