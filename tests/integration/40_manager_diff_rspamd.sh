#!/usr/bin/env bash
# Differential test, real Postfix, rspamd (Debian rspamd, its proxy worker in
# milter mode, scanning itself): after the libmilter test filter, and before
# it, chained by Postfix directly and through milter-manager. Same SMTP
# replies (GTUBE rejected with rspamd's reply) and the same deliveries,
# rspamd's X-Spamd-Result and X-Spam-Status headers included: rspamd was
# shown, through the manager, the message Postfix shows it.
#
# rspamd runs on a private configuration: only the proxy worker, on
# loopback; no Redis; its DNS resolver pointed at a stub on loopback that
# answers NXDOMAIN to everything (no query leaves the machine, answers come
# at once and are the same every time); the fuzzy module off (its servers
# are looked up at start with the system resolver); the milter headers added
# for local senders too (rspamd's defaults skip them for 127.0.0.1).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 12850

command -v rspamd >/dev/null || {
  echo "SKIP: rspamd is not installed (bash scripts/install-deps.sh installs it)"
  exit 0
}

echo "== building the manager and the filters; starting the filters and rspamd"
md_build
C="$MD_WORK/c.sock"
md_start cfilter "$C" "$MD_CFILTER" "unix:$C"

RS="$MD_WORK/rspamd"
RSPAMD_PORT=$((MD_PORT_BASE + 30))
DNS_PORT=$((MD_PORT_BASE + 31))
mkdir -p "$RS/local/local.d" "$RS/db" "$RS/run" "$RS/log"
chown -R _rspamd:_rspamd "$RS/db" "$RS/run" "$RS/log"
chmod 755 "$RS"
cat >"$RS/dns.py" <<'PY'
# A DNS server on loopback that answers NXDOMAIN to every query.
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("dns stub: listening", flush=True)
while True:
    q, addr = s.recvfrom(4096)
    if len(q) < 12:
        continue
    # Same ID and question; QR, RD as asked, RA; RCODE 3 (NXDOMAIN).
    flags = 0x8000 | ((q[2] << 8) & 0x0100) | 0x0080 | 3
    s.sendto(q[:2] + bytes([flags >> 8, flags & 0xFF]) + q[4:6] +
             b"\0\0\0\0\0\0" + q[12:], addr)
PY
"$MD_PYTHON" "$RS/dns.py" "$DNS_PORT" >"$MD_WORK/dns.log" 2>&1 &
MD_PID[dns]=$!
disown "$!" 2>/dev/null
md_wait_log dns "listening" || md_fail "DNS stub did not start"

cat >"$RS/rspamd.conf" <<CONF
.include "\$CONFDIR/common.conf"
options {
  pidfile = "\$RUNDIR/rspamd.pid";
  .include "\$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "\$LOGDIR/rspamd.log";
  level = "info";
}
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:$RSPAMD_PORT";
  milter = yes;
  timeout = 120s;
  upstream "local" {
    default = yes;
    self_scan = yes;
  }
  count = 1;
  spam_header = "X-Spam";
  reject_message = "Spam message rejected";
}
CONF
cat >"$RS/local/local.d/options.inc" <<CONF
filters = "chartable,regexp";
dns {
  nameserver = ["127.0.0.1:$DNS_PORT"];
  timeout = 1s;
  retransmits = 1;
}
CONF
cat >"$RS/local/local.d/milter_headers.conf" <<'CONF'
use = ["x-spamd-result", "x-spam-status"];
skip_local = false;
skip_authenticated = false;
CONF

rspamd -f -u _rspamd -g _rspamd -c "$RS/rspamd.conf" \
  --var="LOCAL_CONFDIR=$RS/local" --var="DBDIR=$RS/db" \
  --var="RUNDIR=$RS/run" --var="LOGDIR=$RS/log" >"$MD_WORK/rspamd.log" 2>&1 &
rspamd_start=$SECONDS
MD_PID[rspamd]=$!
disown "$!" 2>/dev/null
# Up to a minute: rspamd compiles its URL and regexp tables at start.
for _ in $(seq 1200); do
  [ -n "$(ss -Hltn "src 127.0.0.1:$RSPAMD_PORT")" ] && break
  kill -0 "${MD_PID[rspamd]}" 2>/dev/null || break
  sleep 0.1
done
[ -n "$(ss -Hltn "src 127.0.0.1:$RSPAMD_PORT")" ] ||
  { tail -20 "$RS/log/rspamd.log"; md_fail "rspamd did not start"; }
md_ok "rspamd proxy (milter mode) listening on 127.0.0.1:$RSPAMD_PORT after $((SECONDS - rspamd_start)) s"

md_standard_messages
"$MD_PYTHON" - "$MD_WORK/messages/gtube" <<'PY'
import sys
open(sys.argv[1], "wb").write(
    b"From: Sender <sender@example.com>\r\nTo: a@dest.example\r\n"
    b"Subject: test spam\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <gtube@pf-test.example>\r\n\r\n"
    b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
PY
md_message gtube sender@example.com a@dest.example "$MD_WORK/messages/gtube"

# The hours since the messages' Date: the same unless an hour turns between
# the two runs.
export MD_MASK_RE='DATE_IN_PAST\([0-9.]+\)\[[0-9]+\]'
R="inet:127.0.0.1:$RSPAMD_PORT"
declare -A sock=([cfilter]="unix:$C" [rspamd]="$R")
for order in "cfilter rspamd" "rspamd cfilter"; do
  set -- $order
  tag="${order// /-}"
  echo "== order: $order"
  config=""
  milters=""
  for f in "$@"; do
    config+="$(md_child "$f" "${sock[$f]}" "end_of_message_timeout: 60")"$'\n'
    milters+="${milters:+, }${sock[$f]}"
  done
  md_start_manager "manager-$tag" $((MD_PORT_BASE + 40)) "$config"
  md_run "direct-$tag" "$milters" "milter_content_timeout = 60s"
  md_run "manager-$tag" "$MD_MILTER" "milter_content_timeout = 60s"
  md_stop "manager-$tag"
  md_compare "direct-$tag" "manager-$tag"
  md_expect_reply "manager-$tag" gtube '^(REFUSED|OK) 554 5\.7\.1 Gtube pattern' "GTUBE rejected with rspamd's reply"
  md_expect "manager-$tag" plain '^X-Spamd-Result: default: False' "rspamd scanned and added its result"
done
md_pass
