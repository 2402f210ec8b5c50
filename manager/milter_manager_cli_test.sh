#!/usr/bin/env bash
# milter-manager's command line: --help, --version, --show-config,
# --check-config, configuration errors with file:line:column, usage errors,
# detected milters (on a fixture root), a start and a clean stop on SIGTERM.
set -u
bin="$(pwd)/manager/milter-manager"
tmp="$(mktemp -d /tmp/mgrcli.XXXXXX)"
trap 'kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
pid=""
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

expect_status 0 "--help" "$bin" --help
expect_in "$tmp/out" "--config" "--help lists --config"
expect_status 0 "--version" "$bin" --version
expect_in "$tmp/out" "milter-manager" "--version names the program"

expect_status 0 "--show-config (embedded default)" "$bin" --show-config
expect_in "$tmp/out" 'connection_spec: "inet:10025@[127.0.0.1]"' "default spec"
expect_in "$tmp/out" 'fallback_status: ACCEPT' "default fallback"

cat >"$tmp/good.conf" <<'CONF'
# two children, and none detected from this host's packages
detect_installed_milters: false
child { name: "dkim" connection_spec: "inet:8891@127.0.0.1" }
child { name: "spam" connection_spec: "unix:/run/spamass.sock"
        evaluation_mode: true fallback_status: TEMPFAIL }
CONF
expect_status 0 "--check-config good" "$bin" --config "$tmp/good.conf" --check-config
expect_in "$tmp/err" "configuration OK (2 children)" "check-config says OK"
expect_status 0 "--show-config of a file" "$bin" -c "$tmp/good.conf" --show-config
expect_in "$tmp/out" 'reading_timeout: 30' "child defaults shown"
expect_in "$tmp/out" 'evaluation_mode: true' "child settings shown"

printf 'child {\n  name: "x"\n  connection_spec: "inet:notaport"\n}\n' >"$tmp/bad.conf"
expect_status 1 "bad spec" "$bin" --config "$tmp/bad.conf" --check-config
expect_in "$tmp/err" "$tmp/bad.conf:3:3: child \"x\": connection_spec" "error names file:line:col"
printf 'chlid { }\n' >"$tmp/typo.conf"
expect_status 1 "unknown field" "$bin" --config "$tmp/typo.conf"
expect_in "$tmp/err" "$tmp/typo.conf:1:" "syntax error names the file and line"
expect_status 1 "missing file" "$bin" --config "$tmp/none.conf"
expect_in "$tmp/err" "cannot read" "missing file said"
expect_status 2 "stray argument" "$bin" stray
expect_status 1 "unknown flag" "$bin" --no-such-flag
long="$tmp/$(printf 'a%.0s' $(seq 1 120)).sock"
expect_status 1 "socket path too long" "$bin" -s "unix:$long"
expect_in "$tmp/err" "the limit is 107" "long path said"
expect_status 1 "cannot listen" "$bin" -s "unix:$tmp/no/such/dir.sock"

# Installed milters detected under a fixture root: an enabled opendkim,
# overridden by a configured child of its name; a clamav-milter without its
# configuration file (a warning, no child, still a good configuration).
root="$tmp/root"
mkdir -p "$root/usr/sbin" "$root/etc/systemd/system/multi-user.target.wants"
touch "$root/usr/sbin/opendkim" "$root/usr/sbin/clamav-milter"
printf '# OpenDKIM\nSocket\tinet:8891@localhost\n' >"$root/etc/opendkim.conf"
ln -s /lib/systemd/system/opendkim.service \
  "$root/etc/systemd/system/multi-user.target.wants/opendkim.service"
printf 'detection_root: "%s"\nchild { name: "opendkim" evaluation_mode: true }\n' \
  "$root" >"$tmp/detect.conf"
expect_status 0 "--check-config with detection" "$bin" -c "$tmp/detect.conf" --check-config
expect_in "$tmp/err" "configuration OK (1 children)" "one child detected"
expect_in "$tmp/err" "warning: detecting installed milters: $root/etc/clamav/clamav-milter.conf: cannot read" \
  "unreadable package file said"
expect_status 0 "--show-config with detection" "$bin" -c "$tmp/detect.conf" --show-config
expect_in "$tmp/out" 'connection_spec: "inet:8891@localhost"' "detected socket"
expect_in "$tmp/out" "origin: \"$root/etc/opendkim.conf:2 (opendkim), overridden at $tmp/detect.conf:2:1\"" \
  "detected origin shown"
expect_in "$tmp/out" 'evaluation_mode: true' "configured field overrides"
printf 'detection_root: "%s"\ndetect_installed_milters: false\n' "$root" >"$tmp/off.conf"
expect_status 0 "--check-config, detection off" "$bin" -c "$tmp/off.conf" --check-config
expect_in "$tmp/err" "configuration OK (0 children)" "nothing detected when off"

# Starts (on a unix socket, detecting nothing) and stops cleanly.
mkfifo "$tmp/log"
"$bin" -c "$tmp/off.conf" -s "unix:$tmp/m.sock" 2>"$tmp/log" &
pid=$!
if read -r line <"$tmp/log"; then
  case "$line" in
    *"listening on unix:$tmp/m.sock with 0 children"*) ;;
    *) fail "start line: $line" ;;
  esac
else
  fail "no start line"
fi
[ -S "$tmp/m.sock" ] || fail "socket not created"
kill -TERM "$pid"
wait "$pid"
status=$?
[ "$status" = 0 ] || fail "exit after SIGTERM: $status"
[ -e "$tmp/m.sock" ] && fail "socket left behind"
pid=""

[ "$failures" = 0 ] && echo "all passed"
[ "$failures" = 0 ]
