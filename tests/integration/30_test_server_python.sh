#!/usr/bin/env bash
# milter-test-server against a python3-milter (pymilter) filter
# (testdata/python/sample_filter.py): reject/tempfail reply codes, a filter
# that negotiates no-reply for headers, every kind of modification it makes
# (add/insert/change header, add/delete recipient, change from, replace body,
# quarantine) and the resulting message.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/30_common.bash

echo "== building milter-test-server; starting the python3-milter filter"
build_tool
/usr/bin/python3 -c "import Milter" || fail "python3-milter missing (/usr/bin/python3)"
SOCK="$WORK/python.sock"
start_filter python "$SOCK" /usr/bin/python3 testdata/python/sample_filter.py "unix:$SOCK"
S="unix:$SOCK"

echo "== default session"
run_tool 0 -s "$S" --output-message
expect_line "status: pass" "default session passes"
expect_line 'modification: add-header X-Python: "yes"' "add-header reported"
expect_line 'modification: insert-header[0] X-Python-First: "1"' "insert-header reported with its index"
expect_line 'modification: change-header[1] Subject: "[python] Hello"' "change-header reported"
expect_line "modification: add-recipient <added@example.org>" "add-recipient reported"
# The resulting message: X-Python-First first, X-Python last.
first_header=$(sed -n '/^message:$/{n;p;q}' <<<"$OUT")
[ "$first_header" = "X-Python-First: 1" ] || fail "insert-header index 0 not first: '$first_header'"
ok "inserted header is the first header"
expect_line "Subject: [python] Hello" "resulting Subject"

echo "== reject and tempfail with reply codes"
run_tool 3 -s "$S" -f '<reject@example.com>'
expect_line "status: reject" "sender rejected"
expect_line "reply-code: 550 5.7.1 Sender rejected by python filter" "reject reply code"
run_tool 4 -s "$S" -r '<tempfail@dest.example>'
expect_line "status: temporary-failure" "only recipient tempfailed: temporary-failure"
expect_line "reply-code: 451 4.7.1 Try again later" "tempfail reply code"

echo "== every modification kind, one recipient refused"
run_tool 6 -s "$S" --verbose --output-message \
  -h "Subject:REPLACE CHGFROM DELRCPT QUARANTINE" \
  -r '<a@dest.example>' -r '<tempfail@dest.example>' -r '<b@dest.example>'
expect_line "stage: envelope-recipient: tempfail 451 4.7.1 Try again later" "refused recipient shown"
expect_line "status: quarantine" "quarantine status"
expect_line "quarantine: python says so" "quarantine reason"
expect_line 'modification: replace-body (20 bytes) "replaced by python\r\n"' "replace-body"
expect_line "modification: change-from <changed@example.com>" "change-from"
expect_line "modification: delete-recipient <a@dest.example>" "delete-recipient"
expect_line "envelope-from: <changed@example.com>" "resulting sender"
expect_line "envelope-recipient: <b@dest.example>" "kept recipient"
expect_line "envelope-recipient: <added@dest.example>" "added recipient"
expect_no_match "^envelope-recipient: <(a|tempfail)@dest.example>" "deleted and refused recipients gone"
expect_line "replaced by python" "resulting body"

echo "== NOMOD: accept"
run_tool 0 -s "$S" -h "Subject:NOMOD"
expect_line "status: accept" "accept"
expect_no_match "^modification:" "no modifications"

echo "== negotiation: headers without replies, --json"
run_tool 0 -s "$S" --json -h "A:1" -h "B:2" -h "Subject:x"
/usr/bin/python3 - "$OUT" <<'PY' || fail "JSON output wrong: $OUT"
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "pass", d
headers = [s for s in d["stages"] if s["stage"] == "header"]
assert "no-reply-header" in d["negotiated"]["protocol"].split("|"), d["negotiated"]
assert len(headers) == 3 and all(s["decision"] == "continue" for s in headers), headers
assert [m["type"] for m in d["modifications"]][:3] == ["add-header", "insert-header", "change-header"]
PY
ok "filter negotiated no-reply-header; three headers and the modifications in JSON"

echo "== two messages on one connection: the second is independent"
run_tool 6 -s "$S" --n-messages 2 --json -h "Subject:QUARANTINE"
/usr/bin/python3 - "$OUT" <<'PY' || fail "JSON output wrong: $OUT"
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "quarantine", d["status"]
assert len(d["previous_messages"]) == 1
assert d["previous_messages"][0]["status"] == "quarantine"
assert d["previous_messages"][0]["modifications"] == d["modifications"]
PY
ok "two messages, same result each"

echo "== several sessions in parallel"
run_tool 0 -s "$S" --threads 10 --n-sessions 200
expect_line "status: pass: 200" "200 sessions counted"
expect_line "errors: 0" "no errors"

echo "PASS: $CHECKS checks"
