#!/usr/bin/env bash
# milter-manager launching and supervising a child through a real Postfix:
# the manager runs as nobody, its launcher stays root and starts the example
# filter as user daemon; the filter is killed with SIGKILL while mail
# flows, and restarted;
# every message is accepted and delivered (fallback ACCEPT while it is
# down, with the filter's changes while it is up), none is lost; a reload
# (SIGHUP) that changes the child's environment restarts it with the new
# one; at the manager's exit the child is stopped.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 13500

echo "== building the manager and the example filter"
md_build
# The child runs as daemon: its program and socket directory must be
# reachable by daemon (Bazel's output tree is not).
RUN="$MD_WORK/run"
mkdir -p "$RUN"
chown daemon "$RUN"
cp "$MD_SAMPLE" "$MD_WORK/sample_filter"
chmod 755 "$MD_WORK/sample_filter"
md_standard_messages

MANAGER_PORT=$((MD_PORT_BASE + 40))
md_port
pf_start "$MD_PORT" "inet:127.0.0.1:$MANAGER_PORT" || md_fail "postfix did not start"
SENT=0

# send: the plain message through Postfix and the manager; fails unless it
# is accepted and delivered. Sets EML.
send() {
  SENT=$((SENT + 1))
  local reply
  reply="$(pf_send_file sender@example.com a@dest.example "$MD_WORK/messages/plain")"
  case "$reply" in
    "OK 2"*) ;;
    *) md_fail "message $SENT: reply '$reply', want it accepted" ;;
  esac
  pf_wait_delivered "$SENT" 60 >/dev/null || md_fail "message $SENT: not delivered"
  EML="$(pf_sink_files | tail -1)"
}

filtered() { grep -qa '^X-Sample: yes' "$EML"; }

# pid_of N: the pid of the Nth start of the child, from the manager's log.
pid_of() {
  grep -oE 'child sample started: .* \(pid [0-9]+\)' "$MD_WORK/manager.log" |
    sed -n "${1}p" | grep -oE '[0-9]+\)$' | tr -d ')'
}

# settings [FIELD...]: the manager's configuration, extra child fields.
settings() {
  echo "log_level: DEBUG
user: \"nobody\"
restart_backoff_initial: 2
$(md_child sample "unix:$RUN/sample.sock" "fallback_status: ACCEPT" \
    "command: \"$MD_WORK/sample_filter\"" "arguments: \"unix:$RUN/sample.sock\"" \
    "user: \"daemon\"" "working_directory: \"$RUN\"" "$@")"
}
md_start_manager manager "$MANAGER_PORT" "$(settings)"
md_wait_log manager "child sample \(pid [0-9]+\) is up" 30 || md_fail "the child never came up"
FIRST="$(pid_of 1)"
[ -n "$FIRST" ] || md_fail "no pid for the child"
user_of() { ps -o user= -p "$1" | tr -d ' '; }
MANAGER_PID="${MD_PID[manager]}"
LAUNCHER_PID="$(ps -o pid=,comm= --ppid "$MANAGER_PID" | awk '$2 == "milter-launcher" { print $1 }')"
[ -n "$LAUNCHER_PID" ] || md_fail "no launcher process"
[ "$(user_of "$MANAGER_PID")" = nobody ] || md_fail "the manager does not run as nobody"
[ "$(user_of "$LAUNCHER_PID")" = root ] || md_fail "the launcher is not root"
[ "$(user_of "$FIRST")" = daemon ] || md_fail "the child does not run as daemon"
md_ok "the manager runs as nobody, its launcher as root, the example filter as daemon (pid $FIRST)"
send; filtered || md_fail "message $SENT: the example filter's changes missing"
md_ok "message $SENT delivered through the launched child"

echo "== the child killed with SIGKILL while mail flows"
kill -KILL "$FIRST"
md_wait_log manager "child sample \(pid $FIRST\) exited: killed by signal 9" 30 ||
  md_fail "the manager did not see the child die"
UNFILTERED=0
# Mail keeps flowing while it is down (fallback ACCEPT) and after it is
# back; wait for it to be up again between two messages.
for i in $(seq 20); do
  send
  filtered || UNFILTERED=$((UNFILTERED + 1))
  if [ "$(grep -cE 'child sample \(pid [0-9]+\) is up' "$MD_WORK/manager.log")" -ge 2 ]; then
    break
  fi
done
SECOND="$(pid_of 2)"
[ -n "$SECOND" ] && [ "$SECOND" != "$FIRST" ] || md_fail "no new pid for the child"
grep -qE 'child sample: exited: killed by signal 9; restarting in 2s' "$MD_WORK/manager.log" ||
  md_fail "no restart with the initial delay logged"
md_ok "restarted as pid $SECOND; $UNFILTERED messages got the fallback meanwhile"
md_wait_log manager "child sample \(pid $SECOND\) is up" 30 || md_fail "the new child never came up"
send; filtered || md_fail "message $SENT: the restarted filter's changes missing"
md_ok "all $SENT messages accepted and delivered; the restarted child filters again"

echo "== a reload that changes the child's environment restarts it"
{
  echo "connection_spec: \"inet:$MANAGER_PORT@[127.0.0.1]\""
  settings 'environment: "SAMPLE_RELOADED=1"'
} >"$MD_WORK/manager.conf"
kill -HUP "${MD_PID[manager]}"
md_wait_log manager "configuration reloaded" 30 || md_fail "no reload"
md_wait_log manager "child sample \(pid $SECOND\) exited" 30 ||
  md_fail "the changed child was not stopped"
for _ in $(seq 100); do
  [ "$(grep -cE 'child sample \(pid [0-9]+\) is up' "$MD_WORK/manager.log")" -ge 3 ] && break
  sleep 0.1
done
THIRD="$(pid_of 3)"
[ -n "$THIRD" ] && md_wait_log manager "child sample \(pid $THIRD\) is up" 30 ||
  md_fail "the changed child did not come up"
tr '\0' '\n' <"/proc/$THIRD/environ" | grep -qx SAMPLE_RELOADED=1 ||
  md_fail "the new environment is missing"
send; filtered || md_fail "message $SENT: not filtered after the reload"
md_ok "reloaded: restarted as pid $THIRD with the new environment; mail still filtered"
SECOND="$THIRD"

echo "== the manager's exit stops the child"
md_stop manager
for _ in $(seq 100); do kill -0 "$SECOND" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SECOND" 2>/dev/null && md_fail "the child outlived the manager"
md_ok "the child stopped with the manager"
pf_stop
md_pass
