#!/usr/bin/env bash
# The manager finds a real OpenDKIM from its package's files and uses it:
# a fixture root holds the opendkim binary (a link to the installed one), an
# /etc/opendkim.conf (signing for example.com, on a test socket) and the
# systemd link that enables it. The manager, with no child configured and
# detection_root at that tree, shows the detected child with its origin,
# and a message from an internal host comes back signed; the signed message
# from outside verifies (dkim=pass).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/30_common.bash

echo "== building milter-test-server and milter-manager; starting opendkim"
build_tool //manager:milter-manager
MANAGER="$(bazel info bazel-bin 2>/dev/null)/manager/milter-manager"
source tests/opendkim_env.bash
SOCK="$WORK/opendkim.sock"
opendkim_config "$WORK" "$SOCK" || fail "cannot set up opendkim"
ROOT="$WORK/root"
mkdir -p "$ROOT/usr/sbin" "$ROOT/etc/systemd/system/multi-user.target.wants"
ln -s "$(command -v opendkim)" "$ROOT/usr/sbin/opendkim"
mv "$WORK/opendkim.conf" "$ROOT/etc/opendkim.conf"
ln -s /lib/systemd/system/opendkim.service \
  "$ROOT/etc/systemd/system/multi-user.target.wants/opendkim.service"
start_filter opendkim "$SOCK" opendkim -f -x "$ROOT/etc/opendkim.conf"
socket_line=$(grep -n '^Socket ' "$ROOT/etc/opendkim.conf" | cut -d: -f1)

cat >"$WORK/manager.conf" <<CONF
connection_spec: "unix:$WORK/m.sock"
detection_root: "$ROOT"
CONF
OUT="$("$MANAGER" -c "$WORK/manager.conf" --show-config 2>&1)" ||
  fail "--show-config failed: $OUT"
expect_line "  connection_spec: \"unix:$SOCK\"" "detected socket shown"
expect_line "  origin: \"$ROOT/etc/opendkim.conf:$socket_line (opendkim)\"" \
  "detected origin shown"
expect_line "  enabled: true" "enabled by its systemd link"

start_filter manager "$WORK/m.sock" "$MANAGER" -c "$WORK/manager.conf"
for _ in $(seq 100); do  # the start line follows the socket closely
  grep -q "listening on unix:$WORK/m.sock with 1 children" "$WORK/manager.log" && break
  sleep 0.1
done
grep -q "listening on unix:$WORK/m.sock with 1 children" "$WORK/manager.log" ||
  fail "manager start line: $(cat "$WORK/manager.log")"
ok "manager started with the detected child"

cat >"$WORK/original.eml" <<'MAIL'
From: Sender <sender@example.com>
To: receiver@example.org
Subject: detected

Signed by a detected milter.
MAIL

echo "== signing through the manager: a session from an internal host"
run_tool 0 -s "unix:$WORK/m.sock" --connect-address 127.0.0.1 \
  --mail-file "$WORK/original.eml" --output-message
expect_line "status: pass" "passed on to the MTA"
grep -qE '^modification: insert-header\[0\] DKIM-Signature: ".*d=example\.com; s=test;' <<<"$OUT" ||
  fail "no DKIM-Signature inserted: $OUT"
ok "DKIM-Signature inserted by the detected opendkim"
sed -n '/^message:$/,$p' <<<"$OUT" | tail -n +2 >"$WORK/signed.eml"

echo "== verifying through the manager: the signed message from outside"
run_tool 0 -s "unix:$WORK/m.sock" --mail-file "$WORK/signed.eml" --output-message
grep -q 'dkim=pass' <<<"$OUT" || fail "signature does not verify: $OUT"
ok "dkim=pass through the manager"

echo "PASS: $CHECKS checks"
