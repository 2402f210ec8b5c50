#!/usr/bin/env bash
# The main job. Installs what it needs, builds, and runs milter-test-client on
# inet:10025@[127.0.0.1] (the address the milter manager will take): a milter
# that prints every stage and macro your MTA sends. Point Postfix at it with
#   smtpd_milters = inet:127.0.0.1:10025
# or drive it from another shell with
#   bazel-bin/tools/milter-test-server/milter-test-server -s inet:10025@127.0.0.1
# Extra arguments are passed to milter-test-client (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "[run] building milter-test-client and milter-test-server"
bazel build //tools/milter-test-client:milter-test-client \
  //tools/milter-test-server:milter-test-server 2>&1 | grep -E '^(ERROR|FAIL)' || true
test -x bazel-bin/tools/milter-test-client/milter-test-client || {
  echo "[run] build failed" >&2; exit 1; }
spec="inet:10025@[127.0.0.1]"
echo "[run] milter-test-client listening on $spec (Ctrl-C to stop)"
echo "[run] try: bazel-bin/tools/milter-test-server/milter-test-server -s inet:10025@127.0.0.1"
exec bazel-bin/tools/milter-test-client/milter-test-client -s "$spec" "$@"
