# manager_diff.bash: differential end-to-end tests of the milter manager with
# a real Postfix. The same milters are chained by Postfix directly
# (smtpd_milters = A, B) and through the manager (smtpd_milters = manager,
# children A, B); the same messages go through both; the SMTP replies and the
# delivered messages (as smtp-sink dumps them, envelope included) must be the
# same, apart from the MTA's Received lines, queue IDs and DKIM
# timestamps/signature values. Sourced (the .bash suffix keeps it out of the runner's *.sh glob):
#
#   source tests/postfix/postfix_env.sh
#   source tests/integration/manager_diff.bash
#   md_setup PORT_BASE            work dir, clean-up trap; Postfix on
#                                 PORT_BASE, its sink on PORT_BASE+1
#   md_build                      MD_MANAGER, MD_SAMPLE (example filter),
#                                 MD_CFILTER (libmilter test filter)
#   md_start NAME SOCKET CMD...   starts a filter (umask 0), waits for its
#                                 unix socket; MD_PID[NAME]
#   md_stop NAME [SIGNAL]         stops it (and waits for it)
#   md_child NAME SPEC [FIELD...] prints a child { } block for a config
#   md_start_manager NAME PORT CONFIG_TEXT
#                                 writes NAME.conf (connection_spec on
#                                 127.0.0.1:PORT, then CONFIG_TEXT), starts
#                                 the manager, waits for "listening on";
#                                 MD_MILTER is then Postfix's spec for it
#   md_standard_messages          the shared message set (md_message each)
#   md_message NAME FROM TO[,TO] FILE
#   md_run LABEL MILTERS [MAIN_CF_LINE...]
#                                 a fresh Postfix with smtpd_milters =
#                                 MILTERS; every message sent in turn, its
#                                 reply kept in LABEL/NAME.reply and, when
#                                 accepted, its delivery in LABEL/NAME.eml
#   md_compare LABEL_A LABEL_B    replies and normalised deliveries equal, or
#                                 a unified diff and failure
#   md_reply LABEL NAME / md_eml LABEL NAME    paths
#   md_fail TEXT, md_ok TEXT
#
# Every wait is for an event (a socket, a log line, a delivered file), each
# bounded. Cleans up (Postfix, filters, manager, work dir) on every exit.

MD_PYTHON="${MD_PYTHON:-/usr/bin/python3}"
declare -A MD_PID=()
MD_NAMES=()
declare -A MD_FROM=() MD_TO=() MD_FILE=()
MD_CHECKS=0

md_cleanup() {
  pf_stop
  local name pid
  for name in "${!MD_PID[@]}"; do
    pid="${MD_PID[$name]}"
    kill "$pid" 2>/dev/null
  done
  for name in "${!MD_PID[@]}"; do
    pid="${MD_PID[$name]}"
    # libmilter filters take ~5 s to exit after SIGTERM; don't wait for them.
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  MD_PID=()
  if [ -n "${MD_WORK-}" ] && [ -d "$MD_WORK" ]; then
    if [ "${MD_KEEP-0}" = 1 ]; then
      echo "kept $MD_WORK"
    else
      rm -rf "$MD_WORK"
    fi
  fi
}

md_fail() {
  echo "FAIL: $*"
  local log
  for log in "$MD_WORK"/*.log; do
    [ -e "$log" ] && { echo "--- $log"; tail -20 "$log"; }
  done
  if [ -n "${PF_DIR-}" ]; then echo "--- postfix log"; pf_log | tail -30; fi
  exit 1
}

md_ok() { MD_CHECKS=$((MD_CHECKS + 1)); echo "ok: $*"; }

md_setup() {
  MD_PORT_BASE="${1:?md_setup PORT_BASE}"
  MD_WORK="$(mktemp -d /tmp/it40.XXXXXX)"
  chmod 755 "$MD_WORK"
  trap md_cleanup EXIT
  trap 'exit 1' INT TERM
}

# md_port: the loopback ports (SMTP, sink) for the next Postfix: the same
# for every run, as the relay's port shows in macros ({rcpt_host}) the
# milters are given.
md_port() {
  MD_PORT="$MD_PORT_BASE"
}

md_build() {
  bazel build //manager:milter-manager //examples/sample:sample_filter \
    >"$MD_WORK/bazel.log" 2>&1 || { cat "$MD_WORK/bazel.log"; md_fail "bazel build"; }
  local bin
  bin="$(bazel info bazel-bin 2>/dev/null)"
  MD_MANAGER="$bin/manager/milter-manager"
  MD_SAMPLE="$bin/examples/sample/sample_filter"
  [ -x "$MD_MANAGER" ] && [ -x "$MD_SAMPLE" ] || md_fail "built binaries missing"
  MD_CFILTER="$MD_WORK/c_filter"
  bash tests/build_c_filter.sh "$MD_CFILTER" >"$MD_WORK/cbuild.log" 2>&1 ||
    md_fail "cannot build the libmilter test filter"
}

md_start() {
  local name="$1" sock="$2"
  shift 2
  rm -f "$sock"
  (umask 0; exec "$@") >"$MD_WORK/$name.log" 2>&1 &
  MD_PID[$name]=$!
  disown "$!" 2>/dev/null  # no job-control notice when it is killed
  local i
  for i in $(seq 100); do
    [ -S "$sock" ] && return 0
    kill -0 "${MD_PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  md_fail "$name did not start (no socket $sock)"
}

md_stop() {
  local name="$1" sig="${2:-TERM}" pid="${MD_PID[$1]-}"
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  unset "MD_PID[$name]"
  return 0
}

# md_wait_log NAME REGEX [TIMEOUT_S=10]: waits for a line in NAME.log.
md_wait_log() {
  local name="$1" re="$2" timeout="${3:-10}" i
  for i in $(seq $((timeout * 10))); do
    grep -qE -- "$re" "$MD_WORK/$name.log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

md_child() {
  local name="$1" spec="$2" field
  shift 2
  printf 'child {\n  name: "%s"\n  connection_spec: "%s"\n' "$name" "$spec"
  for field in "$@"; do printf '  %s\n' "$field"; done
  printf '}\n'
}

# md_start_manager NAME PORT TEXT: writes NAME.conf (listening on PORT, the
# children in TEXT) and starts the manager on it.
md_start_manager() {
  local name="$1" port="$2" text="$3"
  {
    echo "connection_spec: \"inet:$port@[127.0.0.1]\""
    echo "detect_installed_milters: false"  # only the children listed here
    echo "$text"
  } >"$MD_WORK/$name.conf"
  md_start_manager_on "$name" "$port" "$MD_WORK/$name.conf"
}

# md_start_manager_on NAME PORT CONF: checks CONF (a configuration listening
# on PORT), starts the manager on it as NAME, waits until it listens; sets
# MD_MILTER for Postfix.
md_start_manager_on() {
  local name="$1" port="$2" conf="$3"
  "$MD_MANAGER" --check-config --config "$conf" >"$MD_WORK/$name.check" 2>&1 ||
    { cat "$MD_WORK/$name.check"; md_fail "manager configuration $conf refused"; }
  "$MD_MANAGER" --config "$conf" >"$MD_WORK/$name.log" 2>&1 &
  MD_PID[$name]=$!
  disown "$!" 2>/dev/null
  md_wait_log "$name" "^milter-manager: info: listening on .* with [0-9]+ children" ||
    md_fail "manager $name did not start"
  MD_MILTER="inet:127.0.0.1:$port"
}

md_message() {
  MD_NAMES+=("$1")
  MD_FROM[$1]="$2"
  MD_TO[$1]="$3"
  MD_FILE[$1]="$4"
}

# The shared message set: several headers of one name (and the leading-space
# variants), 8-bit (Shift_JIS) header bytes, a 200 KiB body (four 64 KiB
# chunks), a body the sample filters replace, two recipients, a sender the
# sample filters reject, a message they leave alone.
md_standard_messages() {
  local d="$MD_WORK/messages"
  mkdir -p "$d"
  "$MD_PYTHON" - "$d" <<'PY'
import os, sys
d = sys.argv[1]
def write(name, headers, body):
    with open(os.path.join(d, name), "wb") as f:
        f.write(b"\r\n".join(headers) + b"\r\n\r\n" + body)
base = [b"From: Sender <sender@example.com>",
        b"Date: Sun, 22 Nov 2026 10:00:00 +0000"]
def mid(n):
    return b"Message-ID: <" + n.encode() + b"@pf-test.example>"
write("plain", base + [b"To: a@dest.example", b"Subject: plain message",
      mid("plain")], b"Hello.\r\n\r\n.a line starting with a dot\r\nlast line\r\n")
write("multi", [b"Received: from upstream1.example by relay.example; "
                b"Sun, 22 Nov 2026 09:59:00 +0000",
                b"Received: from upstream2.example\r\n\tby relay2.example; "
                b"Sun, 22 Nov 2026 09:58:00 +0000"] + base +
      [b"To: a@dest.example", b"X-Multi: one", b"Subject: multi INSERT",
       b"X-Multi: two", b"X-Tab:\ttabbed value", b"X-NoSpace:no space",
       b"X-Spaces:   three spaces", b"X-Multi: three",
       b"X-Folded: first line\r\n second line\r\n\tthird line", mid("multi")],
      b"Several headers of one name.\r\n")
write("sjis", base + [b"To: a@dest.example",
      b"Subject: \x93\xfa\x96\x7b\x8c\xea\x82\xcc\x8c\x8f\x96\xbc",
      b"X-Sjis: \x82\xa0\x82\xa2\x82\xa4", mid("sjis")],
      b"\x96\x7b\x95\xb6 8-bit body\r\n")
line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
big = b"".join(b"%06d " % i + line for i in range(200 * 1024 // (len(line) + 7) + 1))
write("big", base + [b"To: a@dest.example", b"Subject: big body", mid("big")], big)
write("replace", base + [b"To: a@dest.example",
      b"Subject: please REPLACE the body", mid("replace")],
      b"This body is replaced.\r\n")
write("two_rcpts", base + [b"To: a@dest.example, b@other.example",
      b"Subject: two recipients", mid("two_rcpts")], b"For two.\r\n")
write("reject", [b"From: reject@example.com", b"To: a@dest.example",
      b"Subject: rejected sender", mid("reject")], b"Never delivered.\r\n")
write("nomod", base + [b"To: a@dest.example", b"Subject: NOMOD please",
      mid("nomod")], b"Left alone.\r\n")
PY
  md_message plain sender@example.com a@dest.example "$d/plain"
  md_message multi sender@example.com a@dest.example "$d/multi"
  md_message sjis sender@example.com a@dest.example "$d/sjis"
  md_message big sender@example.com a@dest.example "$d/big"
  md_message replace sender@example.com a@dest.example "$d/replace"
  md_message two_rcpts sender@example.com a@dest.example,b@other.example "$d/two_rcpts"
  md_message reject reject@example.com a@dest.example "$d/reject"
  md_message nomod sender@example.com a@dest.example "$d/nomod"
}

md_reply() { echo "$MD_WORK/$1/$2.reply"; }
md_eml() { echo "$MD_WORK/$1/$2.eml"; }

md_run() {
  local label="$1" milters="$2"
  shift 2
  local dir="$MD_WORK/$label" name delivered=0 reply
  mkdir -p "$dir"
  md_port
  pf_start "$MD_PORT" "$milters" "$@" || md_fail "$label: postfix did not start"
  for name in "${MD_NAMES[@]}"; do
    reply="$(pf_send_file "${MD_FROM[$name]}" "${MD_TO[$name]}" "${MD_FILE[$name]}")"
    printf '%s\n' "$reply" >"$dir/$name.reply"
    case "$reply" in
      "OK 2"*)
        delivered=$((delivered + 1))
        pf_wait_delivered "$delivered" 60 >/dev/null ||
          md_fail "$label: message $name not delivered"
        cp "$(pf_sink_files | tail -1)" "$dir/$name.eml"
        ;;
    esac
  done
  cp "$PF_LOG" "$dir/maillog" 2>/dev/null
  pf_stop
  echo "$label: ${#MD_NAMES[@]} messages sent, $delivered delivered"
}

# md_normalise FILE: the Received headers of Postfix and smtp-sink replaced
# by a placeholder (position kept); queue IDs, DKIM t= and b= values too,
# and whatever matches $MD_MASK_RE.
md_normalise() {
  "$MD_PYTHON" - "$1" <<'PY'
import os, re, sys
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\r\n\r\n")
if not sep:
    head, sep, body = data.partition(b"\n\n")
lines = re.split(rb"\r?\n", head)
fields = []
for l in lines:
    if l[:1] in (b" ", b"\t") and fields:
        fields[-1] += b"\n" + l
    else:
        fields.append(l)
out = []
for f in fields:
    name = f.split(b":", 1)[0].strip().lower()
    if name == b"received" and (b"(Postfix)" in f or b"(smtp-sink)" in f):
        # Kept in place (a header inserted above or below it must stay
        # there), its dates and IDs not.
        out.append(b"Received: (by the MTA)")
        continue
    if name == b"dkim-signature":
        f = re.sub(rb"\s*\n\s*", b" ", f)
        f = re.sub(rb"\bt=\d+", b"t=T", f)
        f = re.sub(rb"\bb=[^;]*", b"b=B", f)
    out.append(f)
text = b"\n".join(out) + b"\n\n" + body
# What a test asks to mask (MD_MASK_RE, a Python regex), e.g. values that
# depend on the clock.
if os.environ.get("MD_MASK_RE"):
    text = re.sub(os.environ["MD_MASK_RE"].encode(), b"MASKED", text)
# Postfix queue IDs (short and long form) where they are shown.
text = re.sub(rb"queued as [0-9A-Za-z]+", b"queued as QUEUEID", text)
text = re.sub(rb"\b[0-9A-F]{10,12}\b", b"QUEUEID", text)
sys.stdout.buffer.write(text)
PY
}

md_compare() {
  local a="$1" b="$2" name bad=0 out
  for name in "${MD_NAMES[@]}"; do
    md_normalise "$(md_reply "$a" "$name")" >"$MD_WORK/$a.$name.rn"
    md_normalise "$(md_reply "$b" "$name")" >"$MD_WORK/$b.$name.rn"
    if ! out="$(diff -u --label "$a/$name.reply" --label "$b/$name.reply" \
      "$MD_WORK/$a.$name.rn" "$MD_WORK/$b.$name.rn")"; then
      echo "$out"
      echo "MISMATCH: SMTP reply for $name ($a vs $b)"
      bad=1
      continue
    fi
    if [ -e "$(md_eml "$a" "$name")" ] || [ -e "$(md_eml "$b" "$name")" ]; then
      [ -e "$(md_eml "$a" "$name")" ] || { echo "MISMATCH: $name delivered only by $b"; bad=1; continue; }
      [ -e "$(md_eml "$b" "$name")" ] || { echo "MISMATCH: $name delivered only by $a"; bad=1; continue; }
      md_normalise "$(md_eml "$a" "$name")" >"$MD_WORK/$a.$name.n"
      md_normalise "$(md_eml "$b" "$name")" >"$MD_WORK/$b.$name.n"
      if ! out="$(diff -u --label "$a/$name" --label "$b/$name" \
        "$MD_WORK/$a.$name.n" "$MD_WORK/$b.$name.n")"; then
        echo "$out" | head -80
        echo "MISMATCH: delivered message $name ($a vs $b)"
        bad=1
        continue
      fi
    fi
    md_ok "$name: same reply ($(cut -c1-40 "$MD_WORK/$a.$name.rn" | head -1)) and delivery, $a vs $b"
  done
  [ "$bad" = 0 ] || md_fail "$a and $b differ"
}

# md_expect LABEL NAME REGEX WHAT: the delivered message matches REGEX
# (grep -E, whole file).
md_expect() {
  grep -qaE -- "$3" "$(md_eml "$1" "$2")" 2>/dev/null ||
    md_fail "$1/$2: $4: no '$3'"
  md_ok "$1/$2: $4"
}

md_expect_reply() {
  grep -qaE -- "$3" "$(md_reply "$1" "$2")" ||
    md_fail "$1/$2: $4: reply $(cat "$(md_reply "$1" "$2")"), want '$3'"
  md_ok "$1/$2: $4"
}

md_pass() { echo "PASS: $MD_CHECKS checks"; }
