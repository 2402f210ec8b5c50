#!/usr/bin/env bash
# milter-manager as a daemon: log file, pid file (and its lock against a
# second instance), the switch to an unprivileged user (when run as root),
# SIGHUP reloads during a stream of sessions with none lost, an invalid
# file refused at reload with the old configuration kept, settings that
# change only at a restart, SIGUSR1 reopening the log file after rotation,
# and a clean stop on SIGTERM. Waits on log lines, never on fixed sleeps.
set -u
bin="$(pwd)/manager/milter-manager"
mta="$(pwd)/tools/milter-test-server/milter-test-server"
load="$(pwd)/tools/milter-load/milter-load"
tmp="$(mktemp -d /tmp/mgrd.XXXXXX)"
chmod 755 "$tmp"
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
log="$tmp/log/manager.log"
mkdir -p "$tmp/log" "$tmp/run"

# wait_for_log COUNT TEXT [FILE]: until FILE holds COUNT lines with TEXT
# (20 s at most: a missing line is a failure, not a hang).
wait_for_log() {
  local want="$1" text="$2" file="${3:-$log}" i
  for i in $(seq 1 400); do
    if [ -f "$file" ] && [ "$(grep -cF -- "$text" "$file")" -ge "$want" ]; then
      return 0
    fi
    sleep 0.05
  done
  fail "no \"$text\" (x$want) in $file: $(tail -5 "$file" 2>/dev/null)"
  return 1
}
# verdict: the manager's answer to one session.
verdict() {
  "$mta" -s "unix:$tmp/run/m.sock" --envelope_from a@example.org --json |
    sed -n 's/^{"status":"\([a-z]*\)".*/\1/p'
}
write_config() {  # FALLBACK [EXTRA]
  cat >"$tmp/c.conf" <<CONF
connection_spec: "unix:$tmp/run/m.sock"
fallback_status: $1
log_destination: "$log"
pid_file: "$tmp/run/m.pid"
$user_line
${2:-}
CONF
  chmod 644 "$tmp/c.conf"
}

user_line=""
want_uid="$(id -u)"
if [ "$(id -u)" = 0 ]; then
  user_line='user: "nobody"'
  want_uid="$(id -u nobody)"
  chown nobody "$tmp/log" "$tmp/run"
fi
write_config ACCEPT 'shutdown_timeout: 2'
"$bin" --config "$tmp/c.conf" 2>"$tmp/stderr" &
pid=$!
wait_for_log 1 "listening on unix:$tmp/run/m.sock"

# The pid file, the user, and a second instance refused.
[ "$(cat "$tmp/run/m.pid" 2>/dev/null)" = "$pid" ] || fail "pid file: $(cat "$tmp/run/m.pid")"
uids="$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")"
[ "$uids" = "$want_uid $want_uid $want_uid $want_uid" ] || fail "uids $uids, want $want_uid"
"$bin" --config "$tmp/c.conf" -s "unix:$tmp/run/m2.sock" 2>"$tmp/second" && fail "second instance started"
grep -qF "another milter-manager holds it (PID $pid)" "$tmp/second" || fail "second instance: $(cat "$tmp/second")"
[ "$(verdict)" = accept ] || fail "first verdict not accept"

# Reloads during a stream: every session answered, each by one of the two
# configurations; then the last one in force.
"$mta" -s "unix:$tmp/run/m.sock" --envelope_from a@example.org --threads 4 \
  --n_sessions 3000 >"$tmp/stream" 2>&1 &
stream=$!
reloads=0
while kill -0 "$stream" 2>/dev/null && [ "$reloads" -lt 20 ]; do
  if [ $((reloads % 2)) = 0 ]; then write_config REJECT; else write_config ACCEPT; fi
  kill -HUP "$pid"
  reloads=$((reloads + 1))
  wait_for_log "$reloads" "configuration reloaded from $tmp/c.conf" || break
done
wait "$stream" || fail "stream failed: $(cat "$tmp/stream")"
grep -q "^errors: 0$" "$tmp/stream" || fail "stream errors: $(cat "$tmp/stream")"
answered=$(awk '/^status: (accept|reject): / {n += $3} END {print n + 0}' \
  "$tmp/stream")
[ "$answered" = 3000 ] || fail "answered $answered of 3000: $(cat "$tmp/stream")"
[ "$reloads" -ge 2 ] || fail "only $reloads reloads during the stream"
write_config REJECT
kill -HUP "$pid"
reloads=$((reloads + 1))
wait_for_log "$reloads" "configuration reloaded from $tmp/c.conf"
[ "$(verdict)" = reject ] || fail "reloaded fallback not in force"

# An invalid file is refused; the old configuration stays.
printf 'chlid { }\n' >"$tmp/c.conf"
kill -HUP "$pid"
wait_for_log 1 "reload refused, the configuration in force stays: $tmp/c.conf:1:"
[ "$(verdict)" = reject ] || fail "old configuration lost after a refused reload"

# Where it listens changes only at a restart.
write_config REJECT 'io_threads: 7'
sed -i "s#$tmp/run/m.sock#$tmp/run/other.sock#" "$tmp/c.conf"
kill -HUP "$pid"
wait_for_log 1 "reload: connection_spec changes only at a restart"
wait_for_log 1 "reload: io_threads changes only at a restart"
[ "$(verdict)" = reject ] || fail "still served on the old socket"

# SIGUSR1 after rotation: the new file gets the lines.
mv "$log" "$log.1"
kill -USR1 "$pid"
wait_for_log 1 "log file reopened" "$log"

# SIGTERM with connections that never end: they get shutdown_timeout, then
# are closed, and the manager exits 0.
"$load" -s "unix:$tmp/run/m.sock" --idle 5 --hold 120 >"$tmp/idle" 2>&1 &
idle=$!
wait_for_log 1 "idle: 5 connections negotiated" "$tmp/idle"
kill -TERM "$pid"
wait "$pid"
status=$?
pid=""
kill "$idle" 2>/dev/null
wait "$idle" 2>/dev/null
[ "$status" = 0 ] || fail "exit after SIGTERM: $status ($(cat "$tmp/stderr"))"
wait_for_log 1 "stopped"
[ -e "$tmp/run/m.sock" ] && fail "socket left behind"
[ -e "$tmp/run/m.pid" ] && fail "pid file left behind"

[ "$failures" = 0 ] && echo "all passed"
[ "$failures" = 0 ]
