#!/usr/bin/env bash
# Side-by-side CPU of milter-test-server (the MTA side, milter/server) and
# the filter it drives (//examples/sample:sample_filter, milter/client), in
# one run, over a unix socket.
#
#   bash bench/test-server/run_bench.sh [SESSIONS=200000] [THREADS=200] [ROUNDS=3]
#
# Environment:
#   BAZEL="bazel --output_base=..."   how to build (default: bazel), -c opt
#   BASELINE=/path/to/milter-test-server  a second (older) build of the tool,
#                                     run in alternating rounds for a
#                                     before/after comparison on the same
#                                     filter process.
#
# CPU is utime+stime of each process: the filter's from /proc/PID/stat
# before and after the round, the tool's at its exit (GNU time). Each
# round is one `milter-test-server --threads THREADS --n-sessions SESSIONS`;
# medians over the rounds are reported.
set -uo pipefail
cd "$(dirname "$0")/../.."
SESSIONS="${1:-200000}"
THREADS="${2:-200}"
ROUNDS="${3:-3}"
BAZEL="${BAZEL:-bazel}"
BASELINE="${BASELINE:-}"

ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
$BAZEL build -c opt //examples/sample:sample_filter \
  //tools/milter-test-server:milter-test-server >/dev/null 2>&1 ||
  { echo "bazel build failed" >&2; exit 1; }
BIN="$($BAZEL info -c opt bazel-bin 2>/dev/null)"
WORK="$(mktemp -d /tmp/bench_test_server.XXXXXX)"
# Copies, so that a concurrent build cannot swap the binaries mid-run.
cp "$BIN/examples/sample/sample_filter" "$WORK/sample_filter"
cp "$BIN/tools/milter-test-server/milter-test-server" "$WORK/tool"
TOOLS=("$WORK/tool")
LABELS=("tool")
if [ -n "$BASELINE" ]; then
  cp "$BASELINE" "$WORK/baseline"
  TOOLS=("$WORK/baseline" "$WORK/tool")
  LABELS=("baseline" "tool")
fi

FILTER_PID=""
cleanup() {
  [ -n "$FILTER_PID" ] && kill "$FILTER_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

SOCK="$WORK/sample.sock"
"$WORK/sample_filter" "unix:$SOCK" 2>"$WORK/filter.log" &
FILTER_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "sample_filter did not start" >&2; exit 1; }

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "== $SESSIONS sessions, --threads $THREADS, $ROUNDS rounds, unix socket"
echo "   machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A TOOL_US FILTER_US RATE RATIO
for r in $(seq 1 "$ROUNDS"); do
  for i in "${!TOOLS[@]}"; do
    label="${LABELS[$i]}"
    f0=$(cpu_ticks "$FILTER_PID")
    # The tool's own utime+stime (GNU time reads them from wait4; 10 ms
    # precision, ample over a run of seconds).
    out=$(/usr/bin/time -f 'TOOLCPU %e %U %S' "${TOOLS[$i]}" -s "unix:$SOCK" \
      --threads "$THREADS" --n-sessions "$SESSIONS" --json 2>&1)
    f1=$(cpu_ticks "$FILTER_PID")
    json=$(echo "$out" | grep '^{')
    echo "$json" | grep -q '"errors":0' || echo "   WARNING: $label: $out"
    read -r _ _ tu ts <<<"$(echo "$out" | grep '^TOOLCPU')"
    rate=$(echo "$json" | sed -E 's/.*"sessions_per_second":([0-9.]+).*/\1/')
    tool_us=$(awk -v u="$tu" -v s="$ts" -v n="$SESSIONS" 'BEGIN {printf "%.1f", (u + s) * 1e6 / n}')
    filter_us=$(awk -v d=$((f1 - f0)) -v t="$TICK" -v n="$SESSIONS" 'BEGIN {printf "%.1f", d * 1e6 / t / n}')
    ratio=$(awk -v a="$tool_us" -v b="$filter_us" 'BEGIN {printf "%.2f", a / b}')
    printf "   %-9s %8.0f sessions/s  tool %6.1f us/session  filter %6.1f us/session  tool/filter %s\n" \
      "$label" "$rate" "$tool_us" "$filter_us" "$ratio"
    TOOL_US[$label]+="$tool_us "
    FILTER_US[$label]+="$filter_us "
    RATE[$label]+="$rate "
    RATIO[$label]+="$ratio "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| build | sessions/s | tool CPU us/session | filter CPU us/session | tool/filter |"
echo "|---|---:|---:|---:|---:|"
for label in "${LABELS[@]}"; do
  printf "| %s | %s | %s | %s | %s |\n" "$label" \
    "$(echo "${RATE[$label]}" | median)" "$(echo "${TOOL_US[$label]}" | median)" \
    "$(echo "${FILTER_US[$label]}" | median)" "$(echo "${RATIO[$label]}" | median)"
done
