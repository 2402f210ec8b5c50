#!/usr/bin/env bash
# Re-records one milter session live (real Postfix -> record_proxy.py -> real
# libmilter sample filter) and checks that our codec decodes both directions
# completely (whole and byte by byte, via //milter/codec:decode_dump) with the
# expected content. The committed captures are made the same way by
# testdata/recorded/record_all.sh.
# BAZEL_OUTPUT_BASE, if set, is passed to bazel as --output_base.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh

bazel_opts=()
[ -n "${BAZEL_OUTPUT_BASE-}" ] && bazel_opts=(--output_base="$BAZEL_OUTPUT_BASE")

WORK="$(mktemp -d /tmp/it10_record.XXXXXX)"
chmod 755 "$WORK"
FILTER_PID="" PROXY_PID=""
cleanup() {
  pf_stop
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
  [ -n "$FILTER_PID" ] && kill "$FILTER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$WORK/dump.txt" ] && cat "$WORK/dump.txt"; pf_log | tail -20; exit 1; }

bazel "${bazel_opts[@]}" build //milter/codec:decode_dump >"$WORK/bazel.log" 2>&1 ||
  { cat "$WORK/bazel.log"; fail "cannot build decode_dump"; }
DECODE="$(bazel "${bazel_opts[@]}" info bazel-bin 2>/dev/null)/milter/codec/decode_dump"
[ -x "$DECODE" ] || fail "decode_dump not found at $DECODE"

bash tests/build_c_filter.sh "$WORK/sample_filter" || fail "cannot build sample filter"
"$WORK/sample_filter" "unix:$WORK/filter.sock" 2>"$WORK/filter.log" &
FILTER_PID=$!
/usr/bin/python3 testdata/recorded/record_proxy.py \
  "unix:$WORK/proxy.sock" "unix:$WORK/filter.sock" "$WORK/raw" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 50); do
  [ -S "$WORK/filter.sock" ] && [ -S "$WORK/proxy.sock" ] && break
  sleep 0.1
done
[ -S "$WORK/proxy.sock" ] || fail "proxy or filter did not start"

pf_start 12735 "unix:$WORK/proxy.sock" || fail "postfix did not start"
pf_send live@client.example rcpt@live.example $'live \x93\xfa\x96\x7b' "Live body." \
  >"$WORK/send.log" || fail "send refused: $(cat "$WORK/send.log")"
for _ in $(seq 100); do [ -e "$WORK/raw/session-001.done" ] && break; sleep 0.1; done
[ -e "$WORK/raw/session-001.done" ] || fail "session not recorded"

"$DECODE" "$WORK/raw/session-001.mta_to_filter" "$WORK/raw/session-001.filter_to_mta" \
  >"$WORK/dump.txt" || fail "decode_dump reported an error"
expect() { grep -qF -- "$1" "$WORK/dump.txt" || fail "missing in decoded session: $1"; }
expect 'O negotiate version=6'
expect 'M envelope-from "<live@client.example>"'
expect 'R envelope-recipient "<rcpt@live.example>"'
expect 'L header "Subject" "live \x93\xfa\x96{"'
expect 'Q quit'
expect 'h add-header "X-Sample" "yes"'
expect 'm change-header index=1 "Subject" "[sample] live \x93\xfa\x96{"'
expect '+ add-recipient "<added@live.example>"'
echo "PASS: live recording decodes ($(grep -c . "$WORK/dump.txt") lines)"
