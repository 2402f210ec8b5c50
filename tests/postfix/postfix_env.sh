# postfix_env.sh: a throwaway Postfix on loopback for real-peer tests.
#
# Source it from bash (as root), then:
#   pf_start SMTP_PORT MILTER_SPEC [EXTRA_MAIN_CF_LINE...]
#       Starts a private Postfix instance listening on 127.0.0.1:SMTP_PORT with
#       smtpd_milters = MILTER_SPEC (e.g. unix:/tmp/f.sock or
#       inet:127.0.0.1:9999; "" for none) and milter_default_action = tempfail.
#       A unix-socket milter must be connectable by the "postfix" user
#       (socket mode o+w, directories o+x).
#       Mail is relayed to an smtp-sink on 127.0.0.1:SMTP_PORT+1 (override
#       with PF_SINK_PORT) that dumps every message to a file in $PF_SINK_DIR.
#       Extra arguments are appended to main.cf ("name = value" lines).
#       Sets PF_DIR (everything lives there), PF_CONF (config_directory),
#       PF_LOG (maillog), PF_SINK_DIR, PF_SMTP_PORT. Returns non-zero if
#       Postfix or the sink does not come up.
#   pf_send FROM TO[,TO...] SUBJECT [BODY] [EXTRA_HEADER_LINE...]
#       Sends one message over SMTP (python3 smtplib). SUBJECT, BODY and the
#       header lines may hold any bytes (use $'\x93\xfa' for Shift_JIS).
#       Prints "OK <reply>" and returns 0 when accepted, prints
#       "REFUSED <code> <text>" and returns 1 when refused at any stage.
#   pf_send_file FROM TO[,TO...] FILE
#       Same, with a complete RFC 5322 message (headers + body) from FILE.
#   pf_wait_delivered N [TIMEOUT_SECONDS=30]
#       Waits until the sink holds at least N messages; prints their paths
#       (oldest first). Returns 1 on timeout.
#   pf_sink_files        Paths of the messages dumped so far, oldest first.
#   pf_log               Prints the Postfix log of this instance.
#   pf_stop              Stops Postfix and the sink and removes PF_DIR
#                        (kept if PF_KEEP=1). Safe to call twice and from a
#                        trap: trap pf_stop EXIT. Works under set -e.
#
# Each pf_start uses its own temporary directory (config, queue, data, log,
# sink), so scripts can run one after another (or side by side with distinct
# ports). Runs anywhere root runs: no systemd, no syslog (maillog_file via
# postlogd), chroot off, FQDN myhostname, DNS off.
#
# The sink's dump format (smtp-sink -d): the envelope as pseudo-headers
# ("X-Mail-Args: <a@b>", one "X-Rcpt-Args: <c@d> ORCPT=..." per recipient,
# X-Client-Addr, X-Helo-Args), a Received: line, then the message as Postfix
# delivered it, so a test can grep both the envelope and the content.

PF_PYTHON="${PF_PYTHON:-/usr/bin/python3}"

_pf_msg() { echo "postfix_env: $*" >&2; }

_pf_listening() {  # PORT: is something listening on 127.0.0.1:PORT?
  [ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]
}

pf_start() {
  local port="${1:?pf_start SMTP_PORT MILTER_SPEC [main.cf lines...]}"
  local milter="${2-}"
  shift 2 || shift $#
  PF_SMTP_PORT="$port"
  PF_SINK_PORT="${PF_SINK_PORT:-$((port + 1))}"
  PF_DIR="$(mktemp -d /tmp/pf_env.XXXXXX)"
  chmod 755 "$PF_DIR"
  PF_CONF="$PF_DIR/etc"
  PF_LOG="$PF_DIR/log/maillog"
  PF_SINK_DIR="$PF_DIR/sink"
  mkdir -p "$PF_CONF" "$PF_DIR/log" "$PF_DIR/queue" "$PF_DIR/data" "$PF_SINK_DIR"
  chown postfix:postfix "$PF_DIR/data" "$PF_SINK_DIR"
  cp /etc/postfix/master.cf "$PF_CONF/master.cf"

  cat >"$PF_CONF/main.cf" <<CONF
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR/log
myhostname = mx.pf-test.example
mydomain = pf-test.example
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$PF_SINK_PORT
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtp_host_lookup = native
smtpd_peername_lookup = no
biff = no
smtputf8_enable = no
smtpd_milters = $milter
milter_default_action = tempfail
milter_protocol = 6
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connection_cache_on_demand = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
CONF
  local line
  for line in "$@"; do echo "$line" >>"$PF_CONF/main.cf"; done

  # Only our loopback listener; no chroot (nothing populates a chroot jail).
  sed -i -E 's/^smtp( +)inet /#&/' "$PF_CONF/master.cf"
  echo "127.0.0.1:$port inet n - n - - smtpd" >>"$PF_CONF/master.cf"
  postconf -c "$PF_CONF" -F '*/*/chroot = n' >/dev/null 2>&1 ||
    { _pf_msg "postconf -F failed"; return 1; }

  # The sink first, so that the first delivery attempt succeeds.
  smtp-sink -u postfix -d "$PF_SINK_DIR/%Y%m%d%H%M%S." \
    "127.0.0.1:$PF_SINK_PORT" 64 >"$PF_DIR/log/sink.log" 2>&1 &
  PF_SINK_PID=$!
  echo "$PF_SINK_PID" >"$PF_DIR/sink.pid"

  if ! postfix -c "$PF_CONF" start >"$PF_DIR/log/start.log" 2>&1; then
    _pf_msg "postfix start failed:"; cat "$PF_DIR/log/start.log" >&2
    pf_stop; return 1
  fi
  local i
  for i in $(seq 1 100); do
    # Check for listeners without connecting: a test connection would be an
    # SMTP session, and so a milter session the filter under test would see.
    if _pf_listening "$port" && _pf_listening "$PF_SINK_PORT"; then
      return 0
    fi
    sleep 0.1
  done
  _pf_msg "Postfix (port $port) or sink (port $PF_SINK_PORT) did not come up"
  pf_log >&2
  cat "$PF_DIR/log/sink.log" >&2
  pf_stop
  return 1
}

_pf_smtp() {  # from tos subject body file -- extra headers
  "$PF_PYTHON" - "$PF_SMTP_PORT" "$@" <<'PY'
import os, smtplib, sys
port, sender, rcpts, subject, body, path = sys.argv[1:7]
extra = sys.argv[7:]
enc = lambda s: os.fsencode(s)
if path:
    msg = open(path, "rb").read()
else:
    lines = [b"From: " + enc(sender), b"To: " + enc(rcpts.split(",")[0]),
             b"Subject: " + enc(subject), b"Message-ID: <" +
             enc(str(os.getpid())) + b"." + enc(str(id(port))) + b"@pf-test>"]
    lines += [enc(h) for h in extra]
    body_b = enc(body).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    msg = b"\r\n".join(lines) + b"\r\n\r\n" + body_b
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
try:
    with smtplib.SMTP("127.0.0.1", int(port), timeout=60) as s:
        s.ehlo("client.pf-test.example")
        code, text = s.mail(sender)
        if code >= 400:
            print("REFUSED", code, text.decode("latin-1"))
            sys.exit(1)
        refused = []
        for r in rcpts.split(","):
            code, text = s.rcpt(r)
            if code >= 400:
                refused.append((code, text))
        if len(refused) == len(rcpts.split(",")):
            code, text = refused[0]
            print("REFUSED", code, text.decode("latin-1"))
            sys.exit(1)
        code, text = s.data(msg)
        print("OK", code, text.decode("latin-1"))
except smtplib.SMTPResponseException as e:
    print("REFUSED", e.smtp_code, e.smtp_error.decode("latin-1"))
    sys.exit(1)
except smtplib.SMTPSenderRefused as e:
    print("REFUSED", e.smtp_code, e.smtp_error.decode("latin-1"))
    sys.exit(1)
except smtplib.SMTPDataError as e:
    print("REFUSED", e.smtp_code, e.smtp_error.decode("latin-1"))
    sys.exit(1)
PY
}

pf_send() {
  local from="$1" to="$2" subject="$3" body="${4-Hello from pf_send.}"
  shift 4 2>/dev/null || shift $#
  _pf_smtp "$from" "$to" "$subject" "$body" "" "$@"
}

pf_send_file() {
  _pf_smtp "$1" "$2" "" "" "$3"
}

pf_sink_files() {
  [ -n "${PF_SINK_DIR-}" ] || return 0
  ls -1tr "$PF_SINK_DIR" 2>/dev/null | sed "s|^|$PF_SINK_DIR/|"
}

pf_wait_delivered() {
  local want="${1:?pf_wait_delivered N [timeout]}" timeout="${2:-30}" i n
  for i in $(seq 1 $((timeout * 10))); do
    n=$(pf_sink_files | wc -l)
    if [ "$n" -ge "$want" ]; then
      sleep 0.2  # let smtp-sink finish writing the last file
      pf_sink_files
      return 0
    fi
    sleep 0.1
  done
  _pf_msg "timeout: $n of $want messages delivered"
  return 1
}

pf_log() {
  [ -n "${PF_LOG-}" ] && [ -f "$PF_LOG" ] && cat "$PF_LOG"
  return 0
}

pf_stop() {
  [ -n "${PF_DIR-}" ] && [ -d "$PF_DIR" ] || return 0
  if [ -f "$PF_CONF/main.cf" ]; then
    postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do
      [ -f "$PF_DIR/queue/pid/master.pid" ] || break
      local mpid
      mpid="$(tr -d ' ' <"$PF_DIR/queue/pid/master.pid" 2>/dev/null)"
      { [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; } || break
      sleep 0.1
    done
    postfix -c "$PF_CONF" abort >/dev/null 2>&1 || true
  fi
  if [ -f "$PF_DIR/sink.pid" ]; then
    kill "$(cat "$PF_DIR/sink.pid")" 2>/dev/null || true
    wait "$(cat "$PF_DIR/sink.pid")" 2>/dev/null || true
  fi
  if [ "${PF_KEEP-0}" = 1 ]; then
    _pf_msg "kept $PF_DIR"
  else
    rm -rf "$PF_DIR"
  fi
  PF_DIR=""
  return 0
}
