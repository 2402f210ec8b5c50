#!/usr/bin/env bash
# log_destination "syslog": the manager's lines reach /dev/log with the
# configured facility and the level as priority, tagged
# milter-manager[PID]. /dev/log is a datagram socket of this test's own,
# seen by the manager only (a private mount namespace: needs root).
set -u
if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
  echo "SKIP: needs root and mount namespaces"
  exit 0
fi
bin="$(pwd)/manager/milter-manager"
mta="$(pwd)/tools/milter-test-server/milter-test-server"
tmp="$(mktemp -d /tmp/mgrsl.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
mkdir -p "$tmp/dev"

# The syslog daemon: one line per datagram.
python3 - "$tmp/dev/log" "$tmp/received" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
PY
pids+=($!)
disown "$!"  # no notice when it is killed at the end
for _ in $(seq 100); do [ -S "$tmp/dev/log" ] && break; sleep 0.05; done

wait_for() {  # TEXT: until a received line holds TEXT (20 s at most)
  for _ in $(seq 400); do
    grep -qF -- "$1" "$tmp/received" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no \"$1\" received: $(cat "$tmp/received" 2>/dev/null)"
  return 1
}

# start FACILITY SOCKET: the manager in a namespace where /dev is $tmp/dev.
start() {
  printf 'connection_spec: "unix:%s"\nlog_destination: "syslog"\n%s\n' \
    "$2" "$1" >"$tmp/c.conf"
  unshare -m --propagation private bash -c '
    for d in null zero urandom random; do
      touch "$0/dev/$d" && mount --bind "/dev/$d" "$0/dev/$d"
    done
    mount --bind "$0/dev" /dev && exec "$1" --config "$0/c.conf"' \
    "$tmp" "$bin" 2>"$tmp/stderr" &
  pids+=($!)
  disown "$!"
}

start "" "$tmp/m1.sock"
wait_for "<22>"  # mail.info
line="$(grep -F "listening on unix:$tmp/m1.sock" "$tmp/received")"
case "$line" in
  "<22>"*"milter-manager["[0-9]*"]: info: listening on unix:$tmp/m1.sock with 0 children"*) ;;
  *) fail "start line: $line" ;;
esac
"$mta" -s "unix:$tmp/m1.sock" >/dev/null || fail "session through the manager"
wait_for "info: session client=mx.example.net[192.168.123.123]"
[ -s "$tmp/stderr" ] && fail "lines on stderr with syslog: $(cat "$tmp/stderr")"
kill -TERM "${pids[-1]}"

start 'syslog_facility: "local3"' "$tmp/m2.sock"
wait_for "<158>"  # local3.info
grep -F "<158>" "$tmp/received" | grep -qF "listening on unix:$tmp/m2.sock" ||
  fail "local3 line: $(grep -F '<158>' "$tmp/received")"
kill -TERM "${pids[-1]}"

[ "$failures" = 0 ] && echo "all passed"
[ "$failures" = 0 ]
