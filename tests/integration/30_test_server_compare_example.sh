#!/usr/bin/env bash
# Our own example filter (//examples/sample:sample_filter, on milter/client)
# must behave exactly like the libmilter sample filter
# (testdata/libmilter/sample_filter.c): milter-test-server drives both through
# the same scenarios and compares status, reply code, modifications,
# quarantine and the resulting message (not timings or negotiation details).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/30_common.bash

echo "== building milter-test-server, the example filter and the libmilter filter"
build_tool
if ! bazel build //examples/sample:sample_filter 2>"$WORK/build.log"; then
  fail "cannot build //examples/sample:sample_filter (see above)"
fi
EXAMPLE="$(bazel info bazel-bin 2>/dev/null)/examples/sample/sample_filter"
[ -x "$EXAMPLE" ] || fail "no $EXAMPLE"
bash tests/build_c_filter.sh "$WORK/libmilter_filter" || fail "cannot build libmilter sample filter"

start_filter libmilter "$WORK/libmilter.sock" "$WORK/libmilter_filter" "unix:$WORK/libmilter.sock"
start_filter example "$WORK/example.sock" "$EXAMPLE" "unix:$WORK/example.sock"

cat >"$WORK/mail.eml" <<'MAIL'
From: Alice <alice@client.example>
To: Bob <bob@mail-file.example>, carol@other.example
Subject: from a
 folded file
X-Other: value

Hello from a file.
Second line.
MAIL

# Scenarios: one line each, arguments separated by '|'.
SCENARIOS=(
  "default||"
  "reject sender|-f|<reject@example.com>"
  "reject sender, other case|-f|Reject@Example.COM"
  "REPLACE, two recipients|-h|Subject:please REPLACE|-r|<x@one.example>|-r|<y@two.example>|-b|old body"
  "NOMOD|-h|Subject:NOMOD here"
  "no Subject header|-h|X-Other:1"
  "two Subject headers|-h|Subject:first|-h|Subject:second REPLACE"
  "recipient without domain|-r|<nodomain>"
  "mail file|--mail-file|$WORK/mail.eml"
  "connect and helo values|--connect-host|client.example|--connect-address|inet6:2525@[2001:db8::1]|--helo-fqdn|helo.example"
  "unknown command|--unknown|XYZZY"
  "protocol version 2|--negotiate-version|2"
  "8-bit header|-h|Subject: line one|-h|X-Bytes:$(printf '\xe6\x97\xa5\xe6\x9c\xac')"
)

normalize() {  # JSON on stdin -> the fields that must match
  /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
keep = {k: d.get(k) for k in ("status", "reply", "modifications", "quarantine", "message", "error")}
print(json.dumps(keep, indent=1, sort_keys=True))'
}

for scenario in "${SCENARIOS[@]}"; do
  IFS='|' read -r -a parts <<<"$scenario"
  name="${parts[0]}"
  args=()
  for a in "${parts[@]:1}"; do [ -n "$a" ] && args+=("$a"); done
  a_out="$("$TOOL" -s "unix:$WORK/libmilter.sock" --json --output-message "${args[@]}" 2>&1)"
  a_rc=$?
  b_out="$("$TOOL" -s "unix:$WORK/example.sock" --json --output-message "${args[@]}" 2>&1)"
  b_rc=$?
  a_norm="$(normalize <<<"$a_out")" || fail "$name: libmilter output is not JSON: $a_out"
  b_norm="$(normalize <<<"$b_out")" || fail "$name: example output is not JSON: $b_out"
  [ "$a_rc" -eq "$b_rc" ] || fail "$name: exit status $a_rc (libmilter) vs $b_rc (example)"
  if [ "$a_norm" != "$b_norm" ]; then
    diff <(echo "$a_norm") <(echo "$b_norm") | head -40
    fail "$name: results differ (< libmilter, > example)"
  fi
  status="$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["status"])' "$a_out")"
  ok "$name: same result ($status, exit $a_rc)"
done

echo "== concurrent sessions against both"
for which in libmilter example; do
  run_tool 0 -s "unix:$WORK/$which.sock" --threads 20 --n-sessions 1000
  expect_line "status: pass: 1000" "$which: 1000 sessions pass"
  expect_line "errors: 0" "$which: no errors"
done

echo "PASS: $CHECKS checks"
