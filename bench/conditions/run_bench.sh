#!/usr/bin/env bash
# What applicable conditions cost: the per-session benchmark through the
# manager's own path (//manager/conditions:condition_set_benchmark: S25R and
# remote network at connect, a DNSBL answer from the cache), the matchers on
# their own (//manager/conditions:conditions_benchmark) and the DNSBL cache
# (//manager/dns:dnsbl_benchmark), built as the project builds (-O2); the DNSBL
# benchmarks start dnsmasq on 127.0.0.1 (needs /usr/sbin/dnsmasq).
#
#   bash bench/conditions/run_bench.sh [REPETITIONS=3]
set -uo pipefail
cd "$(dirname "$0")/../.."
REPS="${1:-3}"
BAZEL="${BAZEL:-bazel}"
[ -x /usr/sbin/dnsmasq ] || { echo "needs dnsmasq (bash scripts/install-deps.sh)" >&2; exit 1; }
targets=(//manager/conditions:condition_set_benchmark
         //manager/conditions:conditions_benchmark
         //manager/dns:dnsbl_benchmark)
$BAZEL build "${targets[@]}" >/dev/null 2>&1 ||
  { echo "bazel build failed" >&2; exit 1; }
BIN="$($BAZEL info bazel-bin 2>/dev/null)"
echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for t in "${targets[@]}"; do
  path="$BIN/${t#//}"
  path="${path/://}"
  echo "== $t"
  "$path" --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true \
    2>/dev/null | grep -E "_median|Benchmark" || { echo "$t failed" >&2; exit 1; }
done
