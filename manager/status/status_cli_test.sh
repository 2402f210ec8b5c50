#!/usr/bin/env bash
# The status listener of a running milter-manager, from outside: started
# from the configuration (status_listen), read by `milter-manager --status`
# and by Python's HTTP client (/metrics, /status, POST /reload putting a
# changed file in force and refusing a broken one, 404, 405), and the errors
# of --status without a listener or with nothing listening.
set -u
bin="$(pwd)/manager/milter-manager"
tmp="$(mktemp -d /tmp/mgrst.XXXXXX)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_status() {  # STATUS DESCRIPTION COMMAND...
  local want="$1" what="$2"
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" = "$want" ] || fail "$what: exit $got, want $want ($(cat "$tmp/err"))"
}
expect_in() {  # FILE TEXT DESCRIPTION
  grep -qF -- "$2" "$1" || fail "$3: no \"$2\" in $(cat "$1")"
}

printf 'child { name: "dkim" connection_spec: "unix:%s/none.sock" }\n' "$tmp" \
  >"$tmp/plain.conf"
expect_status 1 "--status without a listener" "$bin" -c "$tmp/plain.conf" --status
expect_in "$tmp/err" "no status listener is configured" "says why"

printf 'io_threads: 1\nstatus_listen: "http://x"\n' >"$tmp/bad.conf"
expect_status 1 "bad status_listen" "$bin" -c "$tmp/bad.conf" --check-config
expect_in "$tmp/err" "$tmp/bad.conf:2:1: status_listen: " "error names file:line"

expect_status 1 "--status with nothing listening" "$bin" -c "$tmp/plain.conf" --status \
  --status-listen "unix:$tmp/nobody.sock"
expect_in "$tmp/err" "cannot connect to unix:$tmp/nobody.sock" "says where"

cat >"$tmp/m.conf" <<CONF
connection_spec: "unix:$tmp/m.sock"
status_listen: "inet:0@[127.0.0.1]"
io_threads: 1
detect_installed_milters: false
child { name: "dkim" connection_spec: "unix:$tmp/none.sock" }
child { name: "spam" connection_spec: "unix:$tmp/none2.sock" enabled: false }
CONF
mkfifo "$tmp/log"
"$bin" -c "$tmp/m.conf" 2>"$tmp/log" &
pid=$!
exec 3<"$tmp/log"
spec=""
while read -r -t 20 line <&3; do
  case "$line" in
    *"status and metrics on "*) spec="${line##*metrics on }"; break ;;
  esac
done
[ -n "$spec" ] || fail "no status line"
cat <&3 >/dev/null &  # keep draining the log

expect_status 0 "--status" "$bin" -c "$tmp/m.conf" --status --status-listen "$spec"
expect_in "$tmp/out" "milter-manager 0.1, up " "version and uptime"
expect_in "$tmp/out" "sessions: 0 total, 0 active" "counters"
expect_in "$tmp/out" "dkim" "child listed"
grep -qE "spam +disabled" "$tmp/out" || fail "disabled child: $(cat "$tmp/out")"

port="${spec#inet:}"
port="${port%%@*}"
python3 - "$port" "$tmp/m.conf" >"$tmp/py" 2>&1 <<'PY' || fail "python client: $(cat "$tmp/py")"
import http.client, json, sys
port = int(sys.argv[1])

def ask(method, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    return r.status, r.getheader("Content-Type"), r.read().decode()

status, ctype, body = ask("GET", "/metrics")
assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
assert "milter_manager_sessions_total 0\n" in body, body
assert 'milter_manager_child_state{child="spam",state="disabled"} 1' in body
status, ctype, body = ask("GET", "/status")
assert status == 200 and ctype == "application/json", ctype
doc = json.loads(body)
assert doc["version"] == "0.1", doc
assert [c["name"] for c in doc["children"]] == ["dkim", "spam"], doc
assert 'name: "dkim"' in doc["configuration"], doc
status, _, body = ask("POST", "/reload")
assert status == 200 and json.loads(body) == {"ok": True}, (status, body)
conf = sys.argv[2]
with open(conf, "a") as f:
    f.write('child { name: "extra" connection_spec: "unix:/nowhere.sock" }\n')
status, _, body = ask("POST", "/reload")
assert status == 200, (status, body)
doc = json.loads(ask("GET", "/status")[2])
assert [c["name"] for c in doc["children"]] == ["dkim", "spam", "extra"], doc
with open(conf, "a") as f:
    f.write("chlid {}\n")
status, _, body = ask("POST", "/reload")
answer = json.loads(body)
assert status == 500 and not answer["ok"], (status, body)
assert conf + ":8:" in answer["error"], answer
doc = json.loads(ask("GET", "/status")[2])
assert len(doc["children"]) == 3, doc  # the configuration in force stays
status, _, _ = ask("GET", "/nope")
assert status == 404, status
status, _, _ = ask("PUT", "/metrics")
assert status == 405, status
PY

kill -TERM "$pid"
wait "$pid"
code=$?
[ "$code" = 0 ] || fail "exit after SIGTERM: $code"
pid=""
[ "$failures" = 0 ] && echo "all passed"
[ "$failures" = 0 ]
