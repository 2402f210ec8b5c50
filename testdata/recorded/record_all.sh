#!/usr/bin/env bash
# Re-records every capture in testdata/recorded/ from real peers: a throwaway
# Postfix (tests/postfix/postfix_env.sh) talking through record_proxy.py to
# the libmilter sample filter (testdata/libmilter/sample_filter.c).
#   bash testdata/recorded/record_all.sh [OUT_DIR=testdata/recorded]
# Writes NAME.mta_to_filter and NAME.filter_to_mta for each session below.
# Run as root (Postfix). Ports 12725-12727 must be free.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/testdata/recorded}"
source "$root/tests/postfix/postfix_env.sh"

work="$(mktemp -d /tmp/record_all.XXXXXX)"
chmod 755 "$work"
filter_pid="" proxy_pid=""
cleanup() {
  pf_stop
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  [ -n "$filter_pid" ] && kill "$filter_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bash "$root/tests/build_c_filter.sh" "$work/sample_filter"
"$work/sample_filter" "unix:$work/filter.sock" 2>"$work/filter.log" &
filter_pid=$!
/usr/bin/python3 "$root/testdata/recorded/record_proxy.py" \
  "unix:$work/proxy.sock" "unix:$work/filter.sock" "$work/raw" 2>"$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 50); do
  [ -S "$work/filter.sock" ] && [ -S "$work/proxy.sock" ] && break
  sleep 0.1
done
pf_start 12725 "unix:$work/proxy.sock"

n=0
record() {  # NAME, then pf_send arguments
  local name="$1"; shift
  n=$((n + 1))
  local base; base="$(printf '%s/raw/session-%03d' "$work" "$n")"
  pf_send "$@" >"$work/send.log" || true
  echo "$name: $(cat "$work/send.log")"
  for _ in $(seq 100); do [ -e "$base.done" ] && break; sleep 0.1; done
  [ -e "$base.done" ] || { echo "session $name did not finish" >&2; exit 1; }
  cp "$base.mta_to_filter" "$out/$name.mta_to_filter"
  cp "$base.filter_to_mta" "$out/$name.filter_to_mta"
}

record plain sender@client.example rcpt@dest.example "Hello" "Hello, world."
record reject_sender reject@example.com rcpt@dest.example "Never sent" "x"
record multi_rcpt sender@client.example \
  first@dest.example,second@other.example,third@third.example "Three" "Hi all."
record nomod sender@client.example rcpt@dest.example "NOMOD please" "Untouched."
record replace sender@client.example rcpt@dest.example "please REPLACE it" "Old body."
record shift_jis_header sender@client.example rcpt@dest.example \
  $'\x93\xfa\x96\x7b\x8c\xea' "8-bit headers." $'X-Japanese: \x83\x65\x83\x58\x83\x67'
body="$(for i in $(seq 1 1100); do printf 'line %04d of a body that spans two milter body chunks.....\n' "$i"; done)"
record two_body_chunks sender@client.example rcpt@dest.example "Long" "$body"

# One SMTP session with an unknown command, a RSET and two messages.
rset_session() {
  /usr/bin/python3 - "$PF_SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
s.ehlo("client.pf-test.example")
print("XYZZY:", s.docmd("XYZZY", "frobnicate")[0])
s.mail("first@client.example"); s.rcpt("dropped@dest.example")
print("RSET:", s.rset()[0])
s.mail("second@client.example"); s.rcpt("kept@dest.example")
print("DATA:", s.data(b"Subject: after rset\r\n\r\nSecond message.\r\n")[0])
s.mail("third@client.example"); s.rcpt("again@third.example")
print("DATA:", s.data(b"Subject: NOMOD third\r\n\r\nThird message.\r\n")[0])
s.quit()
PY
}
n=$((n + 1))
base="$(printf '%s/raw/session-%03d' "$work" "$n")"
echo "unknown_rset_two_messages: $(rset_session | tr '\n' ' ')"
for _ in $(seq 100); do [ -e "$base.done" ] && break; sleep 0.1; done
[ -e "$base.done" ] || { echo "session unknown_rset_two_messages did not finish" >&2; exit 1; }
cp "$base.mta_to_filter" "$out/unknown_rset_two_messages.mta_to_filter"
cp "$base.filter_to_mta" "$out/unknown_rset_two_messages.filter_to_mta"

pf_wait_delivered 8 30 >/dev/null
echo "recorded $n sessions into $out"
