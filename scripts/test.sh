#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, then
#   0. scripts/check_format.sh     (every *.cc/*.h clang-format 14 clean)
#   1. bazel test //...            (unit, codec, in-process and socket tests;
#                                    builds with -Werror, see .bazelrc)
#   2. tests/integration/*.sh       (real peers: Postfix, libmilter, miltertest,
#                                    python3-milter; each script is standalone)
#   3. the library tests again under ASan/LeakSanitizer/UBSan
#   4. the fuzzers (codec, filter-side engine, MTA-side session, scripting
#      API), each for FUZZ_SECONDS (default 60)
# Prints a final "N passed, N failed" line and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"

echo "== installing dependencies"
bash scripts/install-deps.sh || exit 1

passed=0
failed=0
failures=()

record() {  # name status
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); echo "== PASS $1"
  else
    failed=$((failed + 1)); failures+=("$1"); echo "== FAIL $1"
  fi
}

echo "== clang-format (scripts/check_format.sh)"
bash scripts/check_format.sh
record "clang-format" $?

echo "== bazel test //..."
bazel test //... 2>&1 | grep -v -E '^(Loading|Analyzing|INFO: From|\[[0-9,]+ / )' 
record "bazel test //..." "${PIPESTATUS[0]}"

for t in tests/integration/*.sh; do
  [ -e "$t" ] || continue
  echo "== integration: $t"
  timeout 600 bash "$t"
  record "$t" $?
done

# The library tests again under AddressSanitizer (leaks included) and UBSan;
# --config=asan builds into its own output tree, so nothing above rebuilds.
echo "== bazel test --config=asan (ASan, LeakSanitizer, UBSan)"
bazel test --config=asan //milter/... //manager/... //examples/... //tools/... 2>&1 |
  grep -v -E '^(Loading|Analyzing|INFO: From|\[[0-9,]+ / )'
record "bazel test --config=asan" "${PIPESTATUS[0]}"

# One line per fuzzer: the codec's decoders, the filter-side session engine
# (bytes from an MTA), the MTA-side session (bytes from a filter), the
# scripting API (hostile SMTP facts given to policy scripts). One work
# dir, so the objects they share are compiled once; kept on a finding.
fuzz_work="$(mktemp -d /tmp/milter_fuzz.XXXXXX)"
fuzz_failed=0
for fuzzer in decoder:codec engine:engine session:session script:script-api; do
  echo "== fuzzing: ${fuzzer#*:} for ${FUZZ_SECONDS}s"
  FUZZ_WORKDIR="$fuzz_work" bash tests/fuzz/run_fuzzer.sh "$FUZZ_SECONDS" "${fuzzer%%:*}"
  rc=$?
  record "${fuzzer#*:} fuzzer" "$rc"
  [ "$rc" -eq 0 ] || fuzz_failed=1
done
if [ "$fuzz_failed" -eq 0 ]; then rm -rf "$fuzz_work"; else echo "fuzzing: inputs and logs kept in $fuzz_work"; fi

echo
if [ "$failed" -ne 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
