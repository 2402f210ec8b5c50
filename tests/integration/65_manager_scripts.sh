#!/usr/bin/env bash
# Policy scripts (mruby children of the manager) through a real Postfix, with
# the example scripts as they ship:
#   a) examples/scripts/sample.rb against the C++ example filter it mirrors:
#      Postfix -> example filter and Postfix -> manager -> sample.rb give the
#      same SMTP replies and byte-identical deliveries for the shared message
#      set; so do Postfix chaining the example filter twice and the manager
#      with [the example filter, then sample.rb].
#   b) sender_blocklist.rb: a sender at spam.example refused at MAIL with the
#      script's reply and nothing delivered, another sender delivered; a
#      domain appended to the list file applies without a restart.
#   c) spam_tag.rb: "X-Spam-Flag: YES" gives "Subject: [SPAM] ..." and
#      X-Spam-Tagged; a message without the flag is delivered as sent.
#   d) examples/pmilter (Pmilter-style handler files) run unchanged from a
#      copy of its milter-manager.conf with only connection_spec changed:
#      refusals at MAIL and RCPT, the X-Pmilter headers, `puts` in the log.
#   e) rate_limit.rb: 20 messages from one client accepted, the 21st refused
#      with 450 4.7.1.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 13700
MANAGER_PORT=$((MD_PORT_BASE + 40))

echo "== building the manager and the example filter"
md_build
S="$MD_WORK/sample.sock"
md_start sample "$S" "$MD_SAMPLE" "unix:$S"
# The examples are copied, so that the test can edit a list file and point a
# configuration at its own port; the scripts themselves are not changed.
cp -r examples/scripts "$MD_WORK/scripts"
cp -r examples/pmilter "$MD_WORK/pmilter"
SCRIPTS="$MD_WORK/scripts"

# script_child NAME FILE: a child { } block running the script FILE.
script_child() {
  printf 'child {\n  name: "%s"\n  script { file: "%s" }\n}\n' "$1" "$2"
}

# manager_from_file NAME CONFIG: starts the manager on CONFIG as it is.
manager_from_file() { md_start_manager_on "$1" "$MANAGER_PORT" "$2"; }

# send LABEL FROM TO SUBJECT [HEADER...]: one message through the running
# Postfix; its reply in REPLY. When accepted, waits for the delivery
# (DELIVERED counts them per Postfix) and copies it to $MD_WORK/LABEL.eml.
DELIVERED=0
send() {
  local label="$1" from="$2" to="$3" subject="$4"
  shift 4
  REPLY="$(pf_send "$from" "$to" "$subject" "Body of $label." "$@")"
  printf '%s\n' "$REPLY" >"$MD_WORK/$label.reply"
  case "$REPLY" in
    "OK 2"*)
      DELIVERED=$((DELIVERED + 1))
      pf_wait_delivered "$DELIVERED" 60 >/dev/null || md_fail "$label: not delivered"
      cp "$(pf_sink_files | tail -1)" "$MD_WORK/$label.eml"
      ;;
  esac
}

# expect_reply LABEL REGEX WHAT / expect_eml LABEL REGEX WHAT / expect_no_eml
expect_reply() {
  grep -qaE -- "$2" "$MD_WORK/$1.reply" ||
    md_fail "$1: $3: reply '$(cat "$MD_WORK/$1.reply")', want '$2'"
  md_ok "$1: $3"
}
expect_eml() {
  grep -qaE -- "$2" "$MD_WORK/$1.eml" 2>/dev/null || md_fail "$1: $3: no '$2'"
  md_ok "$1: $3"
}
expect_postfix_log() {
  pf_log | grep -qaE -- "$1" || md_fail "$2: no '$1' in the Postfix log"
  md_ok "$2"
}

postfix_for() {  # MILTER: a fresh Postfix in front of MILTER
  pf_stop
  DELIVERED=0
  md_port
  pf_start "$MD_PORT" "$1" || md_fail "postfix did not start"
}

echo "== a) sample.rb against the example filter it mirrors"
md_standard_messages
md_start_manager manager-rb "$MANAGER_PORT" "$(script_child sample "$SCRIPTS/sample.rb")"
md_run direct "unix:$S"
md_run manager-rb "$MD_MILTER"
md_stop manager-rb
md_compare direct manager-rb
md_expect_reply manager-rb reject '^REFUSED 550 5\.7\.1 Sender rejected by sample filter' \
  "the script's reject reply"
md_expect manager-rb plain '^Subject: \[sample\] plain message' "Subject changed by the script"
md_expect manager-rb two_rcpts '^X-Rcpt-Args: <added@dest\.example>' "recipient added by the script"
md_expect manager-rb replace '^replaced' "body replaced by the script"
md_expect manager-rb sjis $'^Subject: \\[sample\\] \x93\xfa\x96\x7b' "8-bit Subject kept"

echo "== a) the example filter then sample.rb, against Postfix chaining the filter twice"
md_start_manager manager-mixed "$MANAGER_PORT" \
  "$(md_child filter "unix:$S"; script_child sample "$SCRIPTS/sample.rb")"
md_run direct-twice "unix:$S, unix:$S"
md_run manager-mixed "$MD_MILTER"
md_stop manager-mixed
md_compare direct-twice manager-mixed
md_expect manager-mixed plain '^Subject: \[sample\] \[sample\] plain message' \
  "the script saw the filter's Subject change"

echo "== b) sender_blocklist.rb"
md_start_manager manager-block "$MANAGER_PORT" \
  "$(script_child blocklist "$SCRIPTS/sender_blocklist.rb")"
postfix_for "$MD_MILTER"
send block-spam user@spam.example a@dest.example "from a blocked domain"
expect_reply block-spam '^REFUSED 550 5\.7\.1 Mail from spam\.example is not accepted here$' \
  "sender at spam.example refused with the script's reply"
expect_postfix_log 'milter-reject: MAIL from .*: 550 5\.7\.1 Mail from spam\.example is not accepted here; from=<user@spam\.example>' \
  "refused at MAIL"
send block-sub user@mx.blocked.example a@dest.example "from a subdomain of a blocked domain"
expect_reply block-sub '^REFUSED 550 5\.7\.1 Mail from blocked\.example is not accepted here$' \
  "sender at a subdomain of blocked.example refused"
send block-ok user@late.example a@dest.example "from a domain not listed yet"
expect_reply block-ok '^OK 250' "sender at late.example accepted"
expect_eml block-ok '^X-Mail-Args: <user@late\.example>' "and delivered"
[ "$(pf_sink_files | wc -l)" = 1 ] || md_fail "refused messages were delivered"
md_ok "nothing delivered from the refused senders"
echo "late.example" >>"$SCRIPTS/blocked_sender_domains.txt"
refused=0
for i in $(seq 30); do  # the list is re-read within a second of a change
  send "block-late-$i" user@late.example a@dest.example "after the list changed"
  case "$REPLY" in
    "REFUSED 550 5.7.1 Mail from late.example is not accepted here") refused=1; break ;;
    "OK 2"*) ;;
    *) md_fail "block-late-$i: unexpected reply $REPLY" ;;
  esac
  sleep 0.2
done
[ "$refused" = 1 ] || md_fail "the domain appended to the list was not refused"
md_ok "the appended domain refused without a restart (attempt $i)"
[ "$(grep -c "listening on" "$MD_WORK/manager-block.log")" = 1 ] ||
  md_fail "the manager restarted"
kill -0 "${MD_PID[manager-block]}" || md_fail "the manager is gone"
md_ok "the same manager process throughout"
md_stop manager-block

echo "== c) spam_tag.rb"
md_start_manager manager-tag "$MANAGER_PORT" "$(script_child spam-tag "$SCRIPTS/spam_tag.rb")"
postfix_for "$MD_MILTER"
send tag-spam sender@example.com a@dest.example "cheap watches" "X-Spam-Flag: YES"
expect_reply tag-spam '^OK 250' "flagged message accepted"
expect_eml tag-spam '^Subject: \[SPAM\] cheap watches' "Subject tagged"
expect_eml tag-spam '^X-Spam-Tagged: by milter-manager spam_tag\.rb' "X-Spam-Tagged added"
[ "$(grep -ac '^Subject:' "$MD_WORK/tag-spam.eml")" = 1 ] || md_fail "tag-spam: not one Subject"
md_ok "tag-spam: one Subject"
send tag-ham sender@example.com a@dest.example "lunch" "X-Spam-Flag: NO" \
  "Date: Sun, 22 Nov 2026 10:00:00 +0000"
expect_reply tag-ham '^OK 250' "unflagged message accepted"
expect_eml tag-ham '^Subject: lunch' "Subject unchanged"
grep -qa 'X-Spam-Tagged' "$MD_WORK/tag-ham.eml" && md_fail "tag-ham: tagged"
# As sent: the headers after the MTA's Received lines (Postfix's, smtp-sink's),
# and the body.
"$MD_PYTHON" - "$MD_WORK/tag-ham.eml" <<'PY' || md_fail "tag-ham: changed in transit"
import re, sys
data = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, _, body = data.partition(b"\n\n")
fields = [l.split(b":", 1)[0] for l in head.split(b"\n") if l[:1] not in (b" ", b"\t")]
mine = fields[len(fields) - fields[::-1].index(b"Received"):]
want = [b"From", b"To", b"Subject", b"Message-ID", b"X-Spam-Flag", b"Date"]
assert mine == want, (mine, want)
# (smtp-sink ends its dump with an empty line)
assert body.rstrip(b"\n") == b"Body of tag-ham.", body
PY
md_ok "tag-ham: headers and body as sent"
md_stop manager-tag

echo "== d) the Pmilter-style handler set, its configuration unchanged but for the port"
PM="$MD_WORK/pmilter/milter-manager.conf"
sed -i -E "s|^connection_spec: .*|connection_spec: \"inet:$MANAGER_PORT@[127.0.0.1]\"|" "$PM"
diff <(grep -v '^connection_spec:' examples/pmilter/milter-manager.conf) \
  <(grep -v '^connection_spec:' "$PM") >/dev/null || md_fail "the copied configuration differs"
manager_from_file manager-pmilter "$PM"
postfix_for "$MD_MILTER"
send pm-from spam-from@example.com a@dest.example "from the blocked sender"
expect_reply pm-from '^REFUSED 5[0-9][0-9] ' "<spam-from@example.com> refused"
expect_postfix_log 'milter-reject: MAIL from .* from=<spam-from@example\.com>' "refused at MAIL"
send pm-rcpt sender@example.com nobody@dest.example "to the blocked recipient"
expect_reply pm-rcpt '^REFUSED 5[0-9][0-9] ' "<nobody@dest.example> refused"
expect_postfix_log 'milter-reject: RCPT from .* to=<nobody@dest\.example>' "refused at RCPT"
send pm-ok sender@example.com a@dest.example "a normal message"
expect_reply pm-ok '^OK 250' "a normal message accepted"
expect_eml pm-ok '^X-Pmilter: Enable' "X-Pmilter added at end of message"
expect_eml pm-ok '^X-Pmilter-Client: 127\.0\.0\.1' "X-Pmilter-Client is the client address"
[ "$(pf_sink_files | wc -l)" = 1 ] || md_fail "refused messages were delivered"
md_ok "only the normal message delivered"
for re in 'script output: connect: .*\[127\.0\.0\.1\]' \
  'script output: mail from: <sender@example\.com>' \
  'script output: header: .*Subject.*a normal message' \
  'script output: end of message: queue ID [0-9A-Za-z]+'; do
  md_wait_log manager-pmilter "$re" || md_fail "no '$re' in the manager's log"
  md_ok "manager log: $re"
done
md_stop manager-pmilter

echo "== e) rate_limit.rb"
md_start_manager manager-rate "$MANAGER_PORT" "$(script_child rate-limit "$SCRIPTS/rate_limit.rb")"
postfix_for "$MD_MILTER"
accepted=0
for i in $(seq 20); do
  REPLY="$(pf_send sender@example.com a@dest.example "message $i")"
  case "$REPLY" in "OK 2"*) accepted=$((accepted + 1)) ;; *) echo "message $i: $REPLY" ;; esac
done
[ "$accepted" = 20 ] || md_fail "rate limit: $accepted of the first 20 accepted"
md_ok "rate limit: 20 messages accepted"
REPLY="$(pf_send sender@example.com a@dest.example "message 21")"
case "$REPLY" in
  "REFUSED 450 4.7.1 Too many messages from 127.0.0.1; try again in "*" seconds") ;;
  *) md_fail "rate limit: message 21: $REPLY" ;;
esac
md_ok "rate limit: the 21st refused: $REPLY"
expect_postfix_log 'milter-reject: MAIL from .*: 450 4\.7\.1 Too many messages' "refused at MAIL"
pf_wait_delivered 20 60 >/dev/null || md_fail "rate limit: the 20 accepted not delivered"
[ "$(pf_sink_files | wc -l)" = 20 ] || md_fail "rate limit: $(pf_sink_files | wc -l) delivered"
md_ok "rate limit: 20 delivered"
md_stop manager-rate

if grep -E 'script [^ ]+:[0-9]+: ' "$MD_WORK"/manager-*.log; then
  md_fail "a script raised"
fi
md_ok "no script errors in the managers' logs"
md_pass
