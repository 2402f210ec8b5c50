#!/usr/bin/env bash
# Side-by-side CPU per session of an MTA-side driver and the filter it
# drives, in one run, over unix sockets.
#
#   bash bench/test-server/run_bench.sh [SESSIONS=200000] [THREADS=200] [ROUNDS=3]
#
# Drivers (each run in turn against the same filter process, every round):
#   tool      milter-test-server --threads THREADS --n-sessions N --json
#   floor     bench/test-server/floor_driver: the same writes as the tool
#             (captured from it with strace), with nothing but the system
#             calls; what any driver must at least spend.
#   baseline  (with BASELINE=path) an older build of milter-test-server.
# Filters (each with its own process):
#   ours      //examples/sample:sample_filter (milter/client), N = SESSIONS
#   libmilter testdata/libmilter/sample_filter.c on sendmail's libmilter,
#             N = SESSIONS / 10 (it is about ten times slower)
#   opendkim  OpenDKIM signing every message (sessions from 127.0.0.1),
#             N = SESSIONS / 20; only if opendkim is installed
#
# Environment: BAZEL="bazel --output_base=..." (default bazel), -c opt.
# CPU is utime+stime of each process: the filter's from /proc/PID/stat
# before and after the driver's run, the driver's at its exit (GNU time).
# Needs strace, GNU time and libmilter-dev. Medians over the rounds.
set -uo pipefail
cd "$(dirname "$0")/../.."
SESSIONS="${1:-200000}"
THREADS="${2:-200}"
ROUNDS="${3:-3}"
BAZEL="${BAZEL:-bazel}"
BASELINE="${BASELINE:-}"

ulimit -n "$(ulimit -Hn)" 2>/dev/null
for t in /usr/bin/time strace; do
  [ -x "$(command -v "$t")" ] || { echo "needs $t (apt-get install time strace)" >&2; exit 1; }
done
$BAZEL build -c opt //examples/sample:sample_filter //bench/test-server:floor_driver \
  //tools/milter-test-server:milter-test-server >/dev/null 2>&1 ||
  { echo "bazel build failed" >&2; exit 1; }
BIN="$($BAZEL info -c opt bazel-bin 2>/dev/null)"
WORK="$(mktemp -d /tmp/bench_test_server.XXXXXX)"
source bench/bench_lib.bash  # removes WORK and stops the filters on exit
# Copies, so that a concurrent build cannot swap the binaries mid-run.
cp "$BIN/examples/sample/sample_filter" "$WORK/ours"
cp "$BIN/tools/milter-test-server/milter-test-server" "$WORK/tool"
cp "$BIN/bench/test-server/floor_driver" "$WORK/floor"
bash tests/build_c_filter.sh "$WORK/libmilter" || exit 1
DRIVERS=(floor tool)
if [ -n "$BASELINE" ]; then
  cp "$BASELINE" "$WORK/baseline"
  DRIVERS=(floor baseline tool)
fi

declare -A FILTER_PID N TOOL_ARGS
FILTERS=(ours libmilter)
start() {  # name: the filter at $WORK/name
  bench_start "$1" "$WORK/$1"
  FILTER_PID[$1]=$PID
}
# The writes of the tool's second session (load mode), one hex line each,
# ending with QUIT.
capture() {  # filter
  # shellcheck disable=SC2086  # TOOL_ARGS: words
  strace -e trace=sendto -xx -s 65536 "$WORK/tool" -s "unix:$WORK/$1.sock" \
    ${TOOL_ARGS[$1]:-} --threads 1 --n-sessions 2 --json 2>&1 >/dev/null |
    grep '^sendto' | sed -E 's/^sendto\([0-9]+, "([^"]*)".*/\1/; s/\\x//g' |
    awk '{print} /^0000000151$/ {exit}' >"$WORK/$1.groups"
  [ "$(tail -1 "$WORK/$1.groups")" = 0000000151 ] ||
    { echo "could not capture the tool's writes to $1" >&2; exit 1; }
}
start ours
start libmilter
N[ours]=$SESSIONS
N[libmilter]=$((SESSIONS / 10))
if command -v opendkim >/dev/null; then
  source tests/opendkim_env.bash
  opendkim_config "$WORK" "$WORK/opendkim.sock" || exit 1
  printf '#!/bin/sh\nexec opendkim -f -x "%s/opendkim.conf"\n' "$WORK" >"$WORK/opendkim"
  chmod +x "$WORK/opendkim"
  start opendkim
  N[opendkim]=$((SESSIONS / 20))
  TOOL_ARGS[opendkim]="--connect-address 127.0.0.1"  # internal: it signs
  FILTERS+=(opendkim)
fi
for filter in "${FILTERS[@]}"; do capture "$filter"; done

echo "== --threads $THREADS, $ROUNDS rounds, unix sockets; sessions per run: $(for f in "${FILTERS[@]}"; do printf '%s %s ' "$f" "${N[$f]}"; done)"
echo "   machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A DRIVER_US FILTER_US RATE RATIO
run() {  # filter driver
  local filter="$1" driver="$2" n="${N[$1]}" sock="unix:$WORK/$1.sock"
  local pid="${FILTER_PID[$1]}" f0 f1 out rate tu ts
  f0=$(cpu_ticks "$pid")
  if [ "$driver" = floor ]; then
    out=$(/usr/bin/time -f 'CPU %e %U %S' "$WORK/floor" "$WORK/$filter.sock" \
      "$WORK/$filter.groups" "$n" "$THREADS" 2>&1)
    echo "$out" | grep -q ' errors 0 ' || echo "   WARNING: $filter/$driver: $out"
    read -r _ _ tu ts <<<"$(echo "$out" | grep '^CPU')"
    rate=$(awk -v n="$n" -v s="$(echo "$out" | sed -nE 's/.* seconds ([0-9.]+).*/\1/p')" \
      'BEGIN {printf "%.0f", n / s}')
  else
    # shellcheck disable=SC2086
    out=$(/usr/bin/time -f 'CPU %e %U %S' "$WORK/$driver" -s "$sock" ${TOOL_ARGS[$filter]:-} \
      --threads "$THREADS" --n-sessions "$n" --json 2>&1)
    echo "$out" | grep -q '"errors":0' || echo "   WARNING: $filter/$driver: $out"
    read -r _ _ tu ts <<<"$(echo "$out" | grep '^CPU')"
    rate=$(echo "$out" | sed -nE 's/.*"sessions_per_second":([0-9.]+).*/\1/p')
  fi
  f1=$(cpu_ticks "$pid")
  local d_us f_us ratio key="$filter $driver"
  d_us=$(awk -v u="$tu" -v s="$ts" -v n="$n" 'BEGIN {printf "%.1f", (u + s) * 1e6 / n}')
  f_us=$(awk -v d=$((f1 - f0)) -v t="$TICK" -v n="$n" 'BEGIN {printf "%.1f", d * 1e6 / t / n}')
  ratio=$(awk -v a="$d_us" -v b="$f_us" 'BEGIN {printf "%.2f", a / b}')
  printf "   %-9s %-8s %8.0f sessions/s  driver %6.1f us/session  filter %6.1f us/session  driver/filter %s\n" \
    "$filter" "$driver" "$rate" "$d_us" "$f_us" "$ratio"
  DRIVER_US[$key]+="$d_us "
  FILTER_US[$key]+="$f_us "
  RATE[$key]+="$rate "
  RATIO[$key]+="$ratio "
}
for r in $(seq 1 "$ROUNDS"); do
  for filter in "${FILTERS[@]}"; do
    for driver in "${DRIVERS[@]}"; do run "$filter" "$driver"; done
  done
done
echo
echo "| filter | driver | sessions/s | driver CPU us/session | filter CPU us/session | driver/filter |"
echo "|---|---|---:|---:|---:|---:|"
for filter in "${FILTERS[@]}"; do
  for driver in "${DRIVERS[@]}"; do
    key="$filter $driver"
    printf "| %s | %s | %s | %s | %s | %s |\n" "$filter" "$driver" \
      "$(echo "${RATE[$key]}" | median)" "$(echo "${DRIVER_US[$key]}" | median)" \
      "$(echo "${FILTER_US[$key]}" | median)" "$(echo "${RATIO[$key]}" | median)"
  done
done
