#!/usr/bin/env bash
# Reload through a real Postfix with nothing lost: while four senders keep
# mail flowing through Postfix into the manager, the manager's
# configuration is switched back and forth by SIGHUP between an
# evaluation-mode child (runs, changes nothing) and the same child in
# force (adds "X-Sample: yes"). Every message is accepted and delivered;
# after the last reload the child's change is applied. An invalid file sent
# in the middle is refused and mail keeps flowing. Then SIGTERM: the
# manager exits 0 with "stopped".
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 13300

echo "== building the manager and the example filter"
md_build
S="$MD_WORK/sample.sock"
md_start sample "$S" "$MD_SAMPLE" "unix:$S"
MANAGER_PORT=$((MD_PORT_BASE + 40))
watching="$(md_child sample "unix:$S" 'evaluation_mode: true')"
in_force="$(md_child sample "unix:$S")"
md_start_manager manager "$MANAGER_PORT" "$watching"
CONF="$MD_WORK/manager.conf"
write_conf() {  # CHILD_TEXT
  printf 'connection_spec: "inet:%s@[127.0.0.1]"\ndetect_installed_milters: false\n%s\n' \
    "$MANAGER_PORT" "$1" \
    >"$CONF.new" && mv "$CONF.new" "$CONF"
}

# reload: SIGHUP, then waits for the manager to log one more reload.
reloads=0
reload() {
  kill -HUP "${MD_PID[manager]}"
  reloads=$((reloads + 1))
  for _ in $(seq 100); do
    [ "$(grep -c "configuration reloaded from $CONF" "$MD_WORK/manager.log")" -ge "$reloads" ] && return 0
    sleep 0.1
  done
  md_fail "reload $reloads not logged"
}

md_port
pf_start "$MD_PORT" "$MD_MILTER" || md_fail "postfix did not start"

SENDERS=4 PER_SENDER=15
TOTAL=$((SENDERS * PER_SENDER))
for s in $(seq 1 "$SENDERS"); do
  (
    for m in $(seq 1 "$PER_SENDER"); do
      pf_send "s$s@example.com" "r@dest.example" "stream $s.$m" \
        >>"$MD_WORK/sender$s.out" 2>&1 || echo "FAILED $s.$m" >>"$MD_WORK/sender$s.out"
    done
  ) &
  SENDER_PIDS+=("$!")
done

while [ "$reloads" -lt 8 ]; do
  if [ $((reloads % 2)) = 0 ]; then write_conf "$in_force"; else write_conf "$watching"; fi
  if [ "$reloads" = 4 ]; then
    printf 'chlid { }\n' >"$CONF"
    kill -HUP "${MD_PID[manager]}"
    md_wait_log manager "reload refused, the configuration in force stays: $CONF:1:" ||
      md_fail "invalid file not refused"
    md_ok "an invalid file was refused during the stream"
    write_conf "$watching"
  fi
  reload
  # Let some mail pass on each configuration.
  want=$(( (reloads * TOTAL) / 10 ))
  pf_wait_delivered "$want" 60 >/dev/null || md_fail "stream stalled at reload $reloads"
done
for p in "${SENDER_PIDS[@]}"; do wait "$p"; done
if grep -h "FAILED\|REFUSED" "$MD_WORK"/sender*.out; then
  md_fail "messages refused during reloads"
fi
md_ok "$TOTAL messages accepted across $reloads reloads"
pf_wait_delivered "$TOTAL" 60 >/dev/null || md_fail "not all $TOTAL messages delivered"
with=$(pf_sink_files | head -"$TOTAL" | xargs grep -l "^X-Sample: yes" | wc -l)
md_ok "all $TOTAL delivered ($with with the child's change, $((TOTAL - with)) without)"

write_conf "$in_force"
reload
pf_send sender@example.com r@dest.example "after" >/dev/null || md_fail "last message refused"
pf_wait_delivered $((TOTAL + 1)) 60 >/dev/null || md_fail "last message not delivered"
grep -q "^X-Sample: yes" "$(pf_sink_files | tail -1)" ||
  md_fail "the configuration in force after the last reload was not applied"
md_ok "the last configuration applies"

kill -TERM "${MD_PID[manager]}"
wait "${MD_PID[manager]}" 2>/dev/null
status=$?
unset "MD_PID[manager]"
# (not our child when disowned: judge by the log)
md_wait_log manager "info: stopped$" || md_fail "no clean stop (exit $status)"
md_ok "SIGTERM: clean stop"
echo "PASS: $MD_CHECKS checks"
