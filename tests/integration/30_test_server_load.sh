#!/usr/bin/env bash
# milter-test-server under load: N_SESSIONS sessions (default 20000; the
# acceptance figure is N_SESSIONS=200000) with 200 concurrent, against our
# example filter and the libmilter sample filter. Every session must be
# counted (all pass, no error); prints sessions/s, latency and the CPU the
# tool and the filter spent per session.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/30_common.bash
N_SESSIONS="${N_SESSIONS:-20000}"
THREADS="${THREADS:-200}"

echo "== building"
build_tool
bazel build //examples/sample:sample_filter 2>"$WORK/build.log" ||
  fail "cannot build //examples/sample:sample_filter"
EXAMPLE="$(bazel info bazel-bin 2>/dev/null)/examples/sample/sample_filter"
bash tests/build_c_filter.sh "$WORK/libmilter_filter" || fail "cannot build libmilter sample filter"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

load() {  # NAME COMMAND...
  local name="$1"
  shift
  start_filter "$name" "$WORK/$name.sock" "$@" "unix:$WORK/$name.sock"
  local pid="${PIDS[-1]}"
  local before after
  before=$(cpu_ticks "$pid")
  run_tool 0 -s "unix:$WORK/$name.sock" --threads "$THREADS" --n-sessions "$N_SESSIONS"
  after=$(cpu_ticks "$pid")
  echo "$OUT" | sed "s/^/  [$name] /"
  expect_line "status: pass: $N_SESSIONS" "$name: all $N_SESSIONS sessions counted as pass"
  expect_line "errors: 0" "$name: no errors"
  local tool_us filter_us
  tool_us=$(sed -n 's/^cpu: .*, \([0-9.]*\) us\/session$/\1/p' <<<"$OUT")
  filter_us=$(awk -v t="$((after - before))" -v n="$N_SESSIONS" \
    'BEGIN { printf "%.1f", t * 10000 / n }')
  echo "  [$name] CPU per session: tool $tool_us us, filter $filter_us us"
}

echo "== $N_SESSIONS sessions, $THREADS concurrent, example filter (milter/client)"
load example "$EXAMPLE"
echo "== $N_SESSIONS sessions, $THREADS concurrent, libmilter sample filter"
load libmilter "$WORK/libmilter_filter"

echo "PASS: $CHECKS checks"
