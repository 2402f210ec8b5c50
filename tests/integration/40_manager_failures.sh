#!/usr/bin/env bash
# milter-manager's failure handling through a real Postfix: a child down at
# start, a child that never answers (testdata/python/stuck_milter.py: silent
# at end of message; short manager timeouts), a child killed in the middle
# of a session. Each message gets the child's configured fallback: TEMPFAIL
# gives the SMTP client 451, ACCEPT delivers the message as the other
# children left it (with no other child: byte for byte as Postfix without
# milters delivers it), and the manager serves the next sessions. Then the
# same failures with Postfix chaining the milters itself
# (milter_default_action for the fallback, milter_content_timeout for the
# child's timeouts): the same SMTP replies and deliveries.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 12900

echo "== building the manager and the example filter; Postfix without milters"
md_build
S="$MD_WORK/sample.sock"
md_start sample "$S" "$MD_SAMPLE" "unix:$S"
md_standard_messages
MD_NAMES=(plain)
md_run none ""
BASELINE="$(md_eml none plain)"
[ -e "$BASELINE" ] || md_fail "no delivery without milters"

MANAGER_PORT=$((MD_PORT_BASE + 40))
md_port
pf_start "$MD_PORT" "inet:127.0.0.1:$MANAGER_PORT" || md_fail "postfix did not start"
DELIVERED=0
N=0

# send CASE: the plain message through Postfix and the manager; sets REPLY,
# and EML (the delivery) when accepted.
send() {
  N=$((N + 1))
  CASE_DIR="$1"
  mkdir -p "$MD_WORK/$1"
  REPLY="$(pf_send_file sender@example.com a@dest.example "$MD_WORK/messages/plain")"
  printf '%s\n' "$REPLY" >"$MD_WORK/$1/$N.reply"
  EML=""
  case "$REPLY" in
    "OK 2"*)
      DELIVERED=$((DELIVERED + 1))
      pf_wait_delivered "$DELIVERED" 60 >/dev/null || md_fail "$1: not delivered"
      EML="$MD_WORK/$1/$N.eml"
      cp "$(pf_sink_files | tail -1)" "$EML"
      ;;
  esac
}

expect_tempfail() {
  grep -qE '^(REFUSED|OK) 451 4\.7\.1 ' <<<"$REPLY" || md_fail "$1: reply '$REPLY', want 451 4.7.1"
  md_ok "$1: 451 to the SMTP client ($REPLY)"
}

expect_unchanged() {
  [ -n "$EML" ] || md_fail "$1: reply '$REPLY', want delivery"
  local out
  out="$(diff -u <(md_normalise "$BASELINE") <(md_normalise "$EML"))" ||
    { echo "$out"; md_fail "$1: delivered message changed"; }
  md_ok "$1: delivered unchanged"
}

expect_sample_only() {
  [ -n "$EML" ] || md_fail "$1: reply '$REPLY', want delivery"
  grep -qa '^X-Sample: yes' "$EML" && grep -qa '^Subject: \[sample\] plain message' "$EML" ||
    md_fail "$1: the example filter's changes missing"
  md_ok "$1: delivered with the other child's changes"
}

# keep KEY: the last message's reply (and delivery) as mgr-KEY/plain, to
# compare with Postfix chaining the milters itself (md_compare).
keep() {
  mkdir -p "$MD_WORK/mgr-$1"
  cp "$MD_WORK/$CASE_DIR/$N.reply" "$MD_WORK/mgr-$1/plain.reply"
  [ -z "$EML" ] || cp "$EML" "$MD_WORK/mgr-$1/plain.eml"
}

# manager CASE CONFIG: (re)starts the manager with CONFIG.
manager() {
  [ -n "${CURRENT-}" ] && md_stop "$CURRENT"
  CURRENT="manager-$1"
  md_start_manager "$CURRENT" "$MANAGER_PORT" "log_level: DEBUG
$2"
}

log_has() {
  grep -qE -- "$2" "$MD_WORK/$CURRENT.log" || md_fail "$1: manager log lacks '$2'"
}

DOWN="unix:$MD_WORK/nobody.sock"

echo "== a child down at start"
manager down-tempfail "$(md_child down "$DOWN" "fallback_status: TEMPFAIL" "connect_timeout: 2")"
for i in 1 2; do send down-tempfail; expect_tempfail "down, TEMPFAIL, session $i"; done
keep down-tempfail
log_has down-tempfail 'child down is not available'
manager down-accept "$(md_child down "$DOWN" "fallback_status: ACCEPT" "connect_timeout: 2")"
for i in 1 2; do send down-accept; expect_unchanged "down, ACCEPT, session $i"; done
manager down-accept-sample "$(md_child down "$DOWN" "fallback_status: ACCEPT" "connect_timeout: 2"
md_child sample "unix:$S")"
send down-accept-sample; expect_sample_only "down (ACCEPT) and the example filter"
keep down-accept-sample

echo "== a child that never answers at end of message (2 s timeouts)"
H="$MD_WORK/stuck.sock"
md_start stuck "$H" "$MD_PYTHON" testdata/python/stuck_milter.py "unix:$H" E
T=("reading_timeout: 2" "end_of_message_timeout: 2" "write_timeout: 2")
manager stuck-tempfail "$(md_child sample "unix:$S"
md_child stuck "unix:$H" "fallback_status: TEMPFAIL" "${T[@]}")"
for i in 1 2; do
  start=$SECONDS
  send stuck-tempfail
  expect_tempfail "never answers, TEMPFAIL, session $i"
  [ $((SECONDS - start)) -lt 20 ] || md_fail "took $((SECONDS - start)) s"
done
keep stuck-tempfail
log_has stuck-tempfail 'child stuck failed: .*its fallback is tempfail'
manager stuck-accept "$(md_child stuck "unix:$H" "fallback_status: ACCEPT" "${T[@]}")"
for i in 1 2; do send stuck-accept; expect_unchanged "never answers, ACCEPT, session $i"; done
manager stuck-accept-sample "$(md_child stuck "unix:$H" "fallback_status: ACCEPT" "${T[@]}"
md_child sample "unix:$S")"
send stuck-accept-sample; expect_sample_only "never answers (ACCEPT, first) and the example filter"
keep stuck-accept-sample
md_stop stuck

echo "== a child killed in the middle of a session"
# kill_when_silent: kills the stuck child (SIGKILL) once it holds the
# message's end, so that it dies with the session open.
kill_when_silent() {
  md_wait_log stuck "silent at E" 30 || md_fail "the child never got the message"
  md_stop stuck KILL
}
for fallback in TEMPFAIL ACCEPT; do
  : >"$MD_WORK/stuck.log"
  md_start stuck "$H" "$MD_PYTHON" testdata/python/stuck_milter.py "unix:$H" E
  case_name="killed-${fallback,,}"
  manager "$case_name" "$(md_child sample "unix:$S"
md_child stuck "unix:$H" "fallback_status: $fallback" "end_of_message_timeout: 60")"
  kill_when_silent &
  killer=$!
  start=$SECONDS
  send "$case_name"
  wait "$killer" || md_fail "could not kill the child"
  [ $((SECONDS - start)) -lt 30 ] || md_fail "killed child: took $((SECONDS - start)) s (timeout, not the kill)"
  log_has "$case_name" 'child stuck failed'
  keep "$case_name"
  if [ "$fallback" = TEMPFAIL ]; then
    expect_tempfail "killed, TEMPFAIL"
    send "$case_name"; expect_tempfail "killed, TEMPFAIL, next session (child down)"
  else
    expect_sample_only "killed (ACCEPT) after the example filter"
    send "$case_name"; expect_sample_only "killed, ACCEPT, next session (child down)"
  fi
  log_has "$case_name" 'child stuck is not available'
done
kill -0 "${MD_PID[$CURRENT]}" 2>/dev/null || md_fail "the manager died"
md_ok "the manager is still running"
md_stop "$CURRENT"
pf_stop

echo "== the same failures with Postfix chaining the milters itself"
# Postfix's milter_default_action (for every milter) against the child's
# fallback_status; its milter_content_timeout against the child's timeouts.
direct() {  # KEY MILTERS ACTION
  md_run "direct-$1" "$2" "milter_default_action = $3" \
    "milter_content_timeout = 2s" "milter_connect_timeout = 2s"
  md_compare "direct-$1" "mgr-$1"
}
direct down-tempfail "$DOWN" tempfail
direct down-accept-sample "$DOWN, unix:$S" accept
md_start stuck "$H" "$MD_PYTHON" testdata/python/stuck_milter.py "unix:$H" E
direct stuck-tempfail "unix:$S, unix:$H" tempfail
direct stuck-accept-sample "unix:$H, unix:$S" accept
md_stop stuck
for fallback in tempfail accept; do
  : >"$MD_WORK/stuck.log"
  md_start stuck "$H" "$MD_PYTHON" testdata/python/stuck_milter.py "unix:$H" E
  kill_when_silent &
  killer=$!
  direct "killed-$fallback" "unix:$S, unix:$H" "$fallback"
  wait "$killer" || md_fail "could not kill the child"
done
md_pass
