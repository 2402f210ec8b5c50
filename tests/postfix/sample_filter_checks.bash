# Sourced by the integration tests that put a sample filter (the libmilter C
# one or ours) behind a real Postfix. Requires postfix_env.sh to be sourced,
# Postfix started with the filter (pf_start), and the caller to define
# `fail MESSAGE` (exits) and `check MESSAGE` (reports a passed check), and
# WORK (a scratch directory).
#
#   sample_filter_checks
#
# Checks, over real SMTP, the example filter's behaviour (as
# examples/sample/sample_filter.h describes it): the reject reply
# reaches the SMTP client; the changed Subject, X-Sample and the added
# recipient are in the delivered message; REPLACE replaces the body; NOMOD
# changes nothing; 20 concurrent sessions each get their own added recipient;
# the Postfix log has no milter warnings.

sample_filter_checks() {
  local out f i pid wait_fail send_pids

  out=$(pf_send reject@example.com rcpt@dest.example "x") && fail "reject sender accepted"
  echo "$out" | grep -q "^REFUSED 550 5.7.1 Sender rejected by sample filter" ||
    fail "unexpected reject reply: $out"
  check "MAIL FROM <reject@example.com> refused: $out"

  pf_send sender@client.example a@dest.example,b@other.example "plain" "body" >/dev/null ||
    fail "plain message refused"
  pf_wait_delivered 1 20 >/dev/null || fail "plain message not delivered"
  f=$(pf_sink_files | tail -1)
  grep -q "^Subject: \[sample\] plain$" "$f" || fail "subject not changed"
  grep -q "^X-Sample: yes" "$f" || fail "X-Sample missing"
  grep -q "^X-Rcpt-Args: <added@dest.example>" "$f" || fail "recipient not added"
  grep -q "^body" "$f" || fail "body changed"
  [ "$(grep -c '^Subject:' "$f")" = 1 ] || fail "several Subject headers"
  check "modifications delivered (Subject, X-Sample, <added@dest.example>, body kept)"

  pf_send sender@client.example a@dest.example "please REPLACE" "old body" >/dev/null ||
    fail "REPLACE refused"
  pf_wait_delivered 2 20 >/dev/null || fail "REPLACE not delivered"
  f=$(pf_sink_files | tail -1)
  grep -q "^replaced" "$f" || fail "body not replaced"
  grep -q "old body" "$f" && fail "old body kept"
  check "REPLACE: body replaced"

  pf_send sender@client.example a@dest.example "NOMOD here" "keep" >/dev/null || fail "NOMOD refused"
  pf_wait_delivered 3 20 >/dev/null || fail "NOMOD not delivered"
  f=$(pf_sink_files | tail -1)
  grep -q "^Subject: NOMOD here" "$f" || fail "NOMOD subject changed"
  grep -q "X-Sample" "$f" && fail "NOMOD got a header"
  grep -q "added@" "$f" && fail "NOMOD got a recipient"
  check "NOMOD: no change"

  # Each message has its own recipient domain, so each must get exactly its
  # own added recipient: per-session state is not shared.
  send_pids=()
  for i in $(seq 1 20); do
    pf_send "s$i@client.example" "r@d$i.example" "concurrent $i" "body $i" >"$WORK/send.$i" &
    send_pids+=($!)
  done
  wait_fail=0
  for pid in "${send_pids[@]}"; do wait "$pid" || wait_fail=1; done
  [ "$wait_fail" = 0 ] || fail "a concurrent send failed: $(cat "$WORK"/send.*)"
  pf_wait_delivered 23 60 >/dev/null || fail "concurrent messages not delivered"
  for i in $(seq 1 20); do
    f=$(grep -l "^Subject: \[sample\] concurrent $i\$" $(pf_sink_files)) || fail "message $i missing"
    grep -q "^X-Rcpt-Args: <added@d$i.example>" "$f" || fail "message $i: wrong added recipient"
    [ "$(grep -c '^X-Rcpt-Args: <added@' "$f")" = 1 ] || fail "message $i: several added recipients"
  done
  check "20 concurrent sessions, each with its own added recipient"

  if pf_log | grep -iE "milter" | grep -iE "warning|error|fatal|panic"; then
    fail "milter warnings in the Postfix log"
  fi
  check "Postfix log free of milter warnings"
}
