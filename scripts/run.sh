#!/usr/bin/env bash
# The main job. Installs what it needs, builds, and runs the milter manager on
# its embedded default: listening on inet:10025@[127.0.0.1], no children,
# accepting everything. Point Postfix at it with
#   smtpd_milters = inet:127.0.0.1:10025
#   milter_default_action = tempfail
# and add children (OpenDKIM, rspamd, your own filter) in a configuration
# file, then restart with --config FILE; see docs/milter-manager.md.
# `--show-config` prints the configuration in force. Extra arguments are
# passed to milter-manager (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "[run] building milter-manager and milter-test-server"
bazel build //manager:milter-manager \
  //tools/milter-test-server:milter-test-server 2>&1 | grep -E '^(ERROR|FAIL)' || true
test -x bazel-bin/manager/milter-manager || {
  echo "[run] build failed" >&2; exit 1; }
echo "[run] milter-manager on its embedded default (Ctrl-C to stop)"
echo "[run] try: bazel-bin/tools/milter-test-server/milter-test-server -s inet:10025@127.0.0.1"
exec bazel-bin/manager/milter-manager "$@"
