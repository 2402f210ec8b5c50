#!/usr/bin/env bash
# Through a real Postfix: accepted messages per second with our example filter
# (//examples/sample:sample_filter, milter/client) and with the same filter on
# sendmail's libmilter (testdata/libmilter/sample_filter.c), in one run.
#
#   bash bench/postfix/run_bench.sh [MESSAGES=2000] [ROUNDS=3] [SESSIONS=20]
#
# One throwaway Postfix (tests/postfix/postfix_env.sh: no systemd, no syslog,
# chroot off, DNS off, relaying to a local smtp-sink) with one smtpd listener
# per cell, each with its own smtpd_milters and milter_protocol (-o in
# master.cf), so nothing is reloaded between measurements. Cells: filter
# (ours, libmilter) x socket (TCP on 127.0.0.1, unix) x milter_protocol (6:
# no-reply flags on offer; 2: none). Each filter runs as two processes, one
# per socket.
#
# A measurement: smtp-source -s SESSIONS -m MESSAGES -l 1024 with a Subject
# containing NOMOD (both filters accept at end of message without a change);
# msg/s = MESSAGES / wall time of smtp-source, which stops at the first
# refused message (milter_default_action = tempfail: a filter failure is a
# refusal), and then counts as a failed run. Then the script waits until the
# sink holds every message, so deliveries of one cell do not load the next.
# Rounds interleave the cells; medians are reported with ours/libmilter.
# in_flow_delay = 0: Postfix would otherwise slow acceptance down to the
# delivery rate.
#
# Environment: BAZEL (default bazel), BENCH_PORT (first of 24 ports, default
# 26000), BASELINE (path of another build of sample_filter, e.g. an older
# commit's: measured as a third filter, "baseline", in the same rounds).
# Exits non-zero on any failure; cleans up on every exit path.
set -uo pipefail
cd "$(dirname "$0")/../.."
MESSAGES="${1:-2000}"
ROUNDS="${2:-3}"
SESSIONS="${3:-20}"
BAZEL="${BAZEL:-bazel}"
BASE="${BENCH_PORT:-26000}"
BASELINE="${BASELINE:-}"

[ "$(id -u)" = 0 ] || { echo "run as root (Postfix)" >&2; exit 1; }
for t in postfix smtp-source smtp-sink; do
  command -v "$t" >/dev/null || { echo "needs $t (bash scripts/install-deps.sh)" >&2; exit 1; }
done
$BAZEL build //examples/sample:sample_filter >/dev/null 2>&1 ||
  { echo "bazel build failed" >&2; exit 1; }
BIN="$($BAZEL info bazel-bin 2>/dev/null)"
WORK="$(mktemp -d /tmp/bench_postfix.XXXXXX)"
chmod 755 "$WORK"  # Postfix's smtpd (user postfix) connects to sockets here
source bench/bench_lib.bash  # removes WORK and stops the filters on exit
source tests/postfix/postfix_env.sh
trap 'pf_stop; bench_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Copies, so that a concurrent build cannot swap the binary mid-run.
cp "$BIN/examples/sample/sample_filter" "$WORK/ours"
FILTERS=(ours libmilter)
if [ -n "$BASELINE" ]; then
  cp "$BASELINE" "$WORK/baseline" || exit 1
  FILTERS+=(baseline)
fi
bash tests/build_c_filter.sh "$WORK/libmilter" || exit 1

for p in $(seq "$BASE" $((BASE + 23))); do
  if _pf_listening "$p"; then echo "port $p is in use (set BENCH_PORT)" >&2; exit 1; fi
done

SOCKETS=(tcp unix)
PROTOCOLS=(6 2)
declare -A MILTER SMTP_PORT RATES CPU FPID
start_filter() {  # filter socket tcp-port
  local name="$1-$2" spec
  if [ "$2" = tcp ]; then
    spec="inet:$3@127.0.0.1"
    MILTER[$name]="inet:127.0.0.1:$3"
  else
    spec="unix:$WORK/$name.sock"
    MILTER[$name]="$spec"
  fi
  "$WORK/$1" "$spec" 2>"$WORK/$name.log" &
  PIDS+=($!)
  FPID[$name]=$!
  for _ in $(seq 100); do
    if [ "$2" = tcp ]; then _pf_listening "$3" && return 0
    else [ -S "$WORK/$name.sock" ] && return 0
    fi
    sleep 0.1
  done
  echo "filter $name did not start:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}
i=0
for f in "${FILTERS[@]}"; do
  start_filter "$f" tcp $((BASE + 20 + i))
  start_filter "$f" unix
  i=$((i + 1))
done

pf_start "$BASE" "" "in_flow_delay = 0s" || exit 1
port=$((BASE + 2))
for f in "${FILTERS[@]}"; do
  for s in "${SOCKETS[@]}"; do
    for v in "${PROTOCOLS[@]}"; do
      SMTP_PORT[$f-$s-$v]=$port
      echo "127.0.0.1:$port inet n - n - - smtpd -o smtpd_milters=${MILTER[$f-$s]} -o milter_protocol=$v" \
        >>"$PF_CONF/master.cf"
      port=$((port + 1))
    done
  done
done
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || { echo "postfix reload failed" >&2; exit 1; }
for p in "${SMTP_PORT[@]}"; do
  for _ in $(seq 100); do _pf_listening "$p" && break; sleep 0.1; done
  _pf_listening "$p" || { echo "smtpd on port $p did not come up" >&2; exit 1; }
done

# Sends $2 messages through cell $1 (FILTER-SOCKET-PROTOCOL); prints msg/s
# and the filter's CPU ms per message.
measure() {
  local t0 t1 c0 c1 pid=${FPID[${1%-*}]}
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  if ! smtp-source -s "$SESSIONS" -m "$2" -l 1024 -S "bench NOMOD" \
      -M client.pf-test.example -f sender@client.pf-test.example \
      -t rcpt@dest.pf-test.example "127.0.0.1:${SMTP_PORT[$1]}" \
      >"$WORK/source.log" 2>&1; then
    echo "smtp-source failed on $1:" >&2
    cat "$WORK/source.log" >&2
    pf_log | tail -20 >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  bench_drain "$PF_SINK_DIR" "$2" || exit 1
  awk -v a="$t0" -v b="$t1" -v n="$2" -v d=$((c1 - c0)) -v t="$TICK" \
    'BEGIN {printf "%.0f %.3f", n / (b - a), d * 1000 / t / n}'
}

CELLS=()
for v in "${PROTOCOLS[@]}"; do
  for s in "${SOCKETS[@]}"; do
    for f in "${FILTERS[@]}"; do CELLS+=("$f-$s-$v"); done
  done
done

echo "== warm-up: $((MESSAGES / 10)) messages per cell"
for c in "${CELLS[@]}"; do measure "$c" $((MESSAGES / 10)) >/dev/null || exit 1; done

echo "== $MESSAGES messages x $ROUNDS rounds, $SESSIONS SMTP sessions at a time"
for r in $(seq 1 "$ROUNDS"); do
  echo "   round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for c in "${CELLS[@]}"; do
    out=$(measure "$c" "$MESSAGES") || exit 1
    read -r rate cpu <<<"$out"
    printf "     %-22s %6s msg/s   filter CPU %s ms/message\n" "$c" "$rate" "$cpu"
    RATES[$c]+="$rate "
    CPU[$c]+="$cpu "
  done
done

echo
echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
head="| socket | milter_protocol | ours msg/s | libmilter msg/s | ours/libmilter | filter CPU ms/msg, ours / libmilter |"
rule="|---|---:|---:|---:|---:|---:|"
[ -n "$BASELINE" ] && { head+=" baseline msg/s | baseline/libmilter |"; rule+="---:|---:|"; }
echo "$head"
echo "$rule"
for v in "${PROTOCOLS[@]}"; do
  for s in "${SOCKETS[@]}"; do
    o=$(echo "${RATES[ours-$s-$v]}" | median)
    l=$(echo "${RATES[libmilter-$s-$v]}" | median)
    b=$(echo "${RATES[baseline-$s-$v]:-}" | median)
    co=$(echo "${CPU[ours-$s-$v]}" | median)
    cl=$(echo "${CPU[libmilter-$s-$v]}" | median)
    label=$([ "$s" = tcp ] && echo "TCP 127.0.0.1" || echo unix)
    awk -v s="$label" -v v="$v" -v o="$o" -v l="$l" -v b="$b" -v co="$co" \
      -v cl="$cl" 'BEGIN {
      printf "| %s | %s | %d | %d | %.2fx | %s / %s |", s, v, o, l, o / l, co, cl
      if (b != "") printf " %d | %.2fx |", b, b / l
      printf "\n"
    }'
  done
done
