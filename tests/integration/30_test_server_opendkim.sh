#!/usr/bin/env bash
# milter-test-server against OpenDKIM, a real third-party milter: it signs a
# message sent from an internal host, and verifies the signed message sent
# back from an outside host. dkim=pass proves that every header and body byte
# the tool sends (and that --mail-file and --output-message carry) is exact;
# a changed body byte gives dkim=fail.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/30_common.bash

echo "== building milter-test-server; starting opendkim (sign and verify)"
build_tool
source tests/opendkim_env.bash
SOCK="$WORK/opendkim.sock"
opendkim_config "$WORK" "$SOCK" || fail "cannot set up opendkim"
start_filter opendkim "$SOCK" opendkim -f -x "$WORK/opendkim.conf"
S="unix:$SOCK"

# A message whose body canonicalization is strict (c=.../simple): several
# lines, inner spaces, a blank line, a line starting with a dot.
cat >"$WORK/original.eml" <<'MAIL'
From: Sender <sender@example.com>
To: receiver@example.org
Subject: a folded
 subject line
Date: Sun, 22 Nov 2026 10:00:00 +0000

First line  with  two spaces.

.a line starting with a dot
last line
MAIL

echo "== signing: a session from an internal host"
run_tool 0 -s "$S" --connect-address 127.0.0.1 --mail-file "$WORK/original.eml" --output-message
expect_line "status: accept" "opendkim accepts"
grep -qE '^modification: insert-header\[0\] DKIM-Signature: ".*d=example\.com; s=test;' <<<"$OUT" ||
  fail "no DKIM-Signature inserted: $OUT"
ok "DKIM-Signature inserted as the first header"
sed -n '/^message:$/,$p' <<<"$OUT" | tail -n +2 >"$WORK/signed.eml"
head -1 "$WORK/signed.eml" | grep -q '^DKIM-Signature: ' || fail "resulting message lacks the signature"
ok "resulting message starts with the signature"

echo "== verifying: the signed message from an outside host"
run_tool 0 -s "$S" --mail-file "$WORK/signed.eml" --output-message
grep -q 'dkim=pass' <<<"$OUT" || fail "signature does not verify: $OUT"
ok "dkim=pass: headers and body reached opendkim byte for byte"
expect_line "Authentication-Results: mx.example.net;" "Authentication-Results in the resulting message"

echo "== a changed body byte fails"
sed 's/^last line$/last Line/' "$WORK/signed.eml" >"$WORK/tampered.eml"
run_tool 0 -s "$S" --mail-file "$WORK/tampered.eml"
grep -q 'dkim=fail' <<<"$OUT" || fail "tampered message not dkim=fail: $OUT"
ok "dkim=fail for the changed body"

echo "== load: 500 signing sessions, 20 at a time"
run_tool 0 -s "$S" --connect-address 127.0.0.1 --mail-file "$WORK/original.eml" \
  --threads 20 --n-sessions 500
expect_line "status: accept: 500" "500 sessions signed"
expect_line "errors: 0" "no errors"

echo "PASS: $CHECKS checks"
