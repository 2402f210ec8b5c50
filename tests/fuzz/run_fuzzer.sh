#!/usr/bin/env bash
# Builds the libFuzzer targets outside Bazel and runs each for SECONDS.
#   bash tests/fuzz/run_fuzzer.sh [SECONDS=60] [TARGET...]
# TARGET: decoder (milter/codec/fuzz), engine (milter/client/fuzz: the
# filter-side session engine fed MTA bytes), session (milter/server/fuzz: the
# MTA-side session fed filter bytes), script (manager/script/fuzz: the policy
# scripts' session API fed hostile SMTP facts; links mruby from
# /opt/libmilterpp/mruby and RE2); default: all four, one after another,
# SECONDS each.
# clang++ 14 with -fsanitize=fuzzer,address,undefined (needs clang-14 and
# libclang-rt-14-dev). Seed corpus: tests/fuzz/make_seeds.py (the real-peer
# captures in testdata/recorded plus hand-written sequences). Exits non-zero
# on any finding (crash, failed property, sanitizer report, leak,
# over-allocation, timeout) or build failure.
# FUZZ_WORKDIR keeps the build, corpus and any crash file (default: a temp
# dir, removed on success).
set -euo pipefail
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decoder engine session script)
mruby=/opt/libmilterpp/mruby
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${FUZZ_WORKDIR:-$(mktemp -d /tmp/milter_fuzz.XXXXXX)}"
mkdir -p "$work/obj"

cxx=""
for c in clang++-14 clang++; do command -v "$c" >/dev/null && { cxx="$c"; break; }; done
[ -n "$cxx" ] || { echo "run_fuzzer: clang++ not found" >&2; exit 1; }

# The Abseil link list is Bazel's (third_party/system.BUILD), not repeated here.
link=($(grep -o '"-labsl_[a-z_0-9]*"' "$root/third_party/system.BUILD" | tr -d '"'))
[ ${#link[@]} -gt 0 ] || { echo "run_fuzzer: no absl libraries found" >&2; exit 1; }

# -fsanitize=function is left out: clang 14 cannot emit it for coroutines
# ("Cannot represent a difference across sections"). Asio does not detect
# clang's coroutine support with libstdc++, hence ASIO_HAS_CO_AWAIT.
cflags=(-std=c++20 -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize=function -fno-sanitize-recover=undefined -O1 -g -Wall -Wextra
  -DASIO_STANDALONE -DASIO_NO_DEPRECATED -DASIO_HAS_CO_AWAIT=1 -I"$root"
  -isystem "$mruby/include" -DMRB_USE_DEBUG_HOOK)

codec=(decoder encoder header_value macros message modification negotiation
  protocol reply status)
sources() {  # target -> sources relative to the root
  for f in "${codec[@]}"; do echo "milter/codec/$f.cc"; done
  case "$1" in
    decoder) echo milter/codec/fuzz/decoder_fuzzer.cc ;;
    engine)
      for f in context engine filter_factory; do
        echo "milter/client/$f.cc"
      done
      echo milter/client/fuzz/brain.cc milter/client/fuzz/fuzz_filter.cc \
        milter/client/fuzz/engine_fuzzer.cc ;;
    session)
      for f in connection session verdict; do
        echo "milter/server/$f.cc"
      done
      echo milter/net/socket_spec.cc milter/server/fuzz/session_fuzzer.cc ;;
    script)
      for f in engine files_api pmilter_api regexp session session_api \
        session_requests store store_api; do
        echo "manager/script/$f.cc"
      done
      echo manager/script/fuzz/session_api_fuzzer.cc ;;
  esac
}

build() {  # target; one object per source, compiled in parallel
  local s o objs=()
  for s in $(sources "$1"); do
    o="$work/obj/${s//\//_}.o"
    objs+=("$o")
    # Kept across runs with FUZZ_WORKDIR while neither the source nor any
    # header changed.
    if [ -e "$o" ] && [ "$o" -nt "$root/$s" ] &&
      [ -z "$(find "$root/milter" "$root/manager/script" "$root/tests/fuzz" \
        -name '*.h' -newer "$o" | head -1)" ]; then
      continue
    fi
    rm -f "$o"
    { "$cxx" "${cflags[@]}" -c "$root/$s" -o "$o.tmp" && mv "$o.tmp" "$o"; } &
    while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  done
  wait
  for o in "${objs[@]}"; do [ -e "$o" ] || return 1; done
  local extra=()
  [ "$1" = script ] && extra=("$mruby/lib/libmruby.a" -lre2 -lm)
  "$cxx" -fsanitize=fuzzer,address,undefined "${objs[@]}" "${extra[@]}" \
    "${link[@]}" -lpthread -o "$work/${1}_fuzzer"
}

run() {  # target
  local t="$1" corpus="$work/corpus_$1" artifacts="$work/artifacts_$1"
  local max_len=200000
  [ "$t" = session ] && max_len=70000
  [ "$t" = script ] && max_len=65536
  mkdir -p "$artifacts"
  echo "run_fuzzer: building $t with $cxx in $work"
  (cd "$root" && build "$t") || { echo "run_fuzzer: $t: build failed" >&2; return 1; }
  /usr/bin/python3 "$root/tests/fuzz/make_seeds.py" "$t" "$corpus" >/dev/null
  echo "run_fuzzer: $t: $(ls "$corpus" | wc -l) inputs; fuzzing for ${seconds}s"
  local rc=0
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$work/${t}_fuzzer" "$corpus" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len="$max_len" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" 2>"$work/$t.log" || rc=$?
  grep -E "^(#[0-9]+[[:space:]]+DONE|Done )" \
    "$work/$t.log" || tail -5 "$work/$t.log"
  if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$artifacts")" ]; then
    echo "run_fuzzer: $t: FINDING (exit $rc); log and artifacts in $work" >&2
    tail -60 "$work/$t.log" >&2
    ls -la "$artifacts" >&2
    return 1
  fi
  echo "run_fuzzer: $t: no findings in ${seconds}s"
}

status=0
for t in "${targets[@]}"; do
  case "$t" in
    decoder | engine | session | script) run "$t" || status=1 ;;
    *)
      echo "run_fuzzer: unknown target $t (decoder, engine, session, script)" >&2
      status=1
      ;;
  esac
done
if [ "$status" -eq 0 ] && [ -z "${FUZZ_WORKDIR-}" ]; then rm -rf "$work"; fi
exit "$status"
