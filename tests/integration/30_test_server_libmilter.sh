#!/usr/bin/env bash
# milter-test-server against a real filter built on sendmail's libmilter
# (testdata/libmilter/sample_filter.c): verdicts, reply codes, modifications,
# the resulting message, --mail-file, --json, several messages' worth of
# concurrent sessions, and a TCP socket.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/30_common.bash

echo "== building milter-test-server and the libmilter sample filter"
build_tool
bash tests/build_c_filter.sh "$WORK/sample_filter" || fail "cannot build sample filter"
SOCK="$WORK/libmilter.sock"
start_filter libmilter "$SOCK" "$WORK/sample_filter" "unix:$SOCK"
S="unix:$SOCK"

echo "== default session: pass with the sample filter's modifications"
run_tool 0 -s "$S" --output-message
expect_line "status: pass" "default session passes"
expect_line 'modification: add-header X-Sample: "yes"' "X-Sample added"
expect_line 'modification: change-header[1] Subject: "[sample] Hello"' "Subject changed"
expect_line "modification: add-recipient <added@example.org>" "recipient added (domain of first RCPT)"
expect_line "Subject: [sample] Hello" "resulting message has the new Subject"
expect_line "X-Sample: yes" "resulting message has X-Sample"
expect_line "envelope-recipient: <added@example.org>" "resulting envelope has the added recipient"
grep -qE '^elapsed-time: [0-9.]+ seconds$' <<<"$OUT" || fail "no elapsed-time line"
ok "elapsed-time reported"

echo "== rejected sender"
run_tool 3 -s "$S" -f '<reject@example.com>' -r '<a@dest.example>'
expect_line "status: reject" "reject reported"
expect_line "reply-code: 550 5.7.1 Sender rejected by sample filter" "reply code reported"
run_tool 3 -s "$S" --envelope-from REJECT@example.com
ok "case-insensitive, bracketless reject (exit 3)"

echo "== REPLACE: body replaced"
run_tool 0 -s "$S" -h "Subject:please REPLACE" -r '<x@one.example>' -r '<y@two.example>' -b "old body" --output-message
expect_line 'modification: replace-body (10 bytes) "replaced\r\n"' "replace-body reported"
expect_line "modification: add-recipient <added@one.example>" "added recipient uses the first RCPT's domain"
expect_line "replaced" "resulting body replaced"
expect_no_match "^old body" "old body gone"

echo "== NOMOD: accept without modification"
run_tool 0 -s "$S" -h "Subject:NOMOD please"
expect_line "status: accept" "NOMOD accepted"
expect_no_match "^modification:" "no modifications for NOMOD"

echo "== --mail-file fills the envelope from From:/To:"
cat >"$WORK/mail.eml" <<'MAIL'
From: Alice <alice@client.example>
To: Bob <bob@mail-file.example>, carol@other.example
Subject: from a file

Hello from a file.
MAIL
run_tool 0 -s "$S" --mail-file "$WORK/mail.eml" --output-message --verbose
expect_line "modification: add-recipient <added@mail-file.example>" "envelope recipient from To:"
expect_line "Subject: [sample] from a file" "subject from the file changed"
expect_line "envelope-from: <alice@client.example>" "envelope sender from From:"
expect_line "stage: envelope-recipient: continue" "--verbose prints stages"

echo "== --json"
run_tool 0 -s "$S" --json -h "Subject:json REPLACE"
/usr/bin/python3 - "$OUT" <<'PY' || fail "JSON output wrong: $OUT"
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "pass", d
types = [m["type"] for m in d["modifications"]]
assert types == ["add-header", "change-header", "add-recipient", "replace-body"], types
assert d["modifications"][3]["body"] == "replaced\r\n"
assert d["modifications"][1]["value"] == "[sample] json REPLACE"
PY
ok "JSON status and modifications"

echo "== three messages on one connection, abort between them"
run_tool 0 -s "$S" --n-messages 3 -r '<m@multi.example>' -h "Subject:multi"
for n in 1 2 3; do expect_line "message: $n" "message $n reported"; done
[ "$(grep -c '^modification: add-recipient <added@multi.example>$' <<<"$OUT")" -eq 3 ] ||
  fail "each message should get exactly one added recipient: $OUT"
ok "per-message state is fresh in every message"
[ "$(grep -c '^status: pass$' <<<"$OUT")" -eq 3 ] || fail "three passes expected: $OUT"
ok "three messages pass"

echo "== TCP socket"
PORT=$((20000 + RANDOM % 20000))
"$WORK/sample_filter" "inet:$PORT@127.0.0.1" >"$WORK/libmilter-tcp.log" 2>&1 &
PIDS+=($!)
disown $! 2>/dev/null
for _ in $(seq 50); do "$TOOL" -s "inet:$PORT@127.0.0.1" >/dev/null 2>&1 && break; sleep 0.1; done
run_tool 0 -s "inet:$PORT@127.0.0.1"
expect_line "status: pass" "TCP session passes"

echo "== 40 concurrent sessions x 2000"
run_tool 0 -s "$S" --threads 40 --n-sessions 2000
expect_line "status: pass: 2000" "every session counted as pass"
expect_line "errors: 0" "no errors"
grep -q "sessions/s" <<<"$OUT" || fail "no throughput line"
ok "throughput reported"

echo "== nothing listening: error, exit 1"
run_tool 1 -s "unix:$WORK/nothing.sock" --connection-timeout 2
expect_line "status: error" "connection error reported"

echo "== usage errors: exit 2"
run_tool 2 --threads=abc
run_tool 2 --no-such-option=1
run_tool 2 -s "bogus:spec"
ok "usage errors exit 2"
run_tool 0 --help
grep -q "^Exit status:" <<<"$OUT" || fail "--help does not document exit statuses"
ok "--help documents exit statuses"

echo "PASS: $CHECKS checks"
