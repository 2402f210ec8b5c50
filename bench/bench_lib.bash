# Helpers shared by the bench/*/run_bench.sh scripts. Source it after setting
# WORK (a scratch directory, removed on exit).
#   bench_start NAME BINARY   starts "BINARY unix:$WORK/NAME.sock" (stderr to
#                             $WORK/NAME.log), waits for the socket; sets PID
#   cpu_ticks PID             utime+stime of a process, in clock ticks
#   median                    the median of the numbers on stdin
#   bench_drain DIR N         waits (up to 2 min) until DIR holds N files,
#                             then empties it; non-zero (and a message) if
#                             they do not all come
TICK=$(getconf CLK_TCK)
PIDS=()
bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

bench_start() {
  "$2" "unix:$WORK/$1.sock" 2>"$WORK/$1.log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 50); do [ -S "$WORK/$1.sock" ] && return 0; sleep 0.1; done
  echo "$1 did not start" >&2
  exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_drain() {
  local n=0
  for _ in $(seq 1200); do
    n=$(find "$1" -type f | wc -l)
    [ "$n" -ge "$2" ] && { find "$1" -type f -delete; return 0; }
    sleep 0.1
  done
  echo "only $n of $2 messages delivered" >&2
  return 1
}
