#!/usr/bin/env bash
# Builds the codec's libFuzzer target outside Bazel and runs it.
#   bash tests/fuzz/run_fuzzer.sh [SECONDS=60]
# clang++ 14 with -fsanitize=fuzzer,address,undefined (needs clang-14 and
# libclang-rt-14-dev). Seed corpus: the real-peer captures in testdata/recorded
# plus hand-written packets for every code. Exits non-zero on any finding
# (crash, sanitizer report, leak, over-allocation, timeout) or build failure.
# FUZZ_WORKDIR keeps the build, corpus and any crash file (default: a temp
# dir, removed on success).
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${FUZZ_WORKDIR:-$(mktemp -d /tmp/codec_fuzz.XXXXXX)}"
mkdir -p "$work/corpus" "$work/artifacts"

cxx=""
for c in clang++-14 clang++; do command -v "$c" >/dev/null && { cxx="$c"; break; }; done
[ -n "$cxx" ] || { echo "run_fuzzer: clang++ not found" >&2; exit 1; }

absl_libs=(flags_parse flags_usage flags_usage_internal flags_internal
  flags_marshalling flags_reflection flags_config flags_program_name
  flags_private_handle_accessor flags_commandlineflag
  flags_commandlineflag_internal statusor status cord cordz_info cordz_handle
  cordz_functions cord_internal raw_hash_set hashtablez_sampler hash city
  low_level_hash str_format_internal synchronization graphcycles_internal
  stacktrace symbolize debugging_internal demangle_internal time civil_time
  time_zone strings strings_internal int128 throw_delegate
  bad_optional_access bad_variant_access base spinlock_wait malloc_internal
  raw_logging_internal log_severity exponential_biased)
link=()
for l in "${absl_libs[@]}"; do link+=("-labsl_$l"); done

echo "run_fuzzer: building with $cxx in $work"
srcs=()
for f in decoder encoder macros message negotiation protocol reply; do
  srcs+=("$root/milter/codec/$f.cc")
done
"$cxx" -std=c++20 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -O1 -g -Wall -Wextra -I"$root" \
  "${srcs[@]}" "$root/milter/codec/fuzz/decoder_fuzzer.cc" \
  "${link[@]}" -lpthread -o "$work/decoder_fuzzer"

# Seeds: each capture whole (pattern 0) and in small pieces (pattern 7), with
# the default and the 1M limit; plus hand-written packets.
n=0
for f in "$root"/testdata/recorded/*.mta_to_filter "$root"/testdata/recorded/*.filter_to_mta; do
  [ -e "$f" ] || continue
  for prefix in '\x00\x00' '\x00\x07' '\x02\x01'; do
    n=$((n + 1))
    { printf "$prefix"; cat "$f"; } >"$work/corpus/recorded_$n"
  done
done
/usr/bin/python3 - "$work/corpus" <<'PY'
import struct, sys, os
out = sys.argv[1]
def p(code, payload=b""):
    return struct.pack(">I", len(payload) + 1) + code + payload
be = lambda v: struct.pack(">I", v)
seeds = {
  "cmd_all": p(b"O", be(6) + be(0x1FF) + be(0x1FFFFF)) + p(b"D", b"Cj\0mx\0{daemon_name}\0smtpd\0")
     + p(b"C", b"host\0" + b"4" + struct.pack(">H", 25) + b"192.0.2.1\0") + p(b"C", b"h6\x006\x01\x01IPv6:::1\0")
     + p(b"C", b"u\0U") + p(b"C", b"l\0L\0\0/sock\0") + p(b"H", b"helo\0") + p(b"M", b"<a@b>\0SIZE=1\0")
     + p(b"R", b"<c@d>\0") + p(b"T") + p(b"L", b"Subject\0\x93\xfa\x96\x7b\0") + p(b"N")
     + p(b"B", b"body\r\n\0\xff") + p(b"E") + p(b"U", b"HELP\0") + p(b"A") + p(b"K") + p(b"Q") + p(b"D"),
  "rsp_all": p(b"O", be(6) + be(0x1FF) + be(0x101000) + be(0) + b"j {daemon_name}\0" + be(5) + b"i\0")
     + b"".join(p(c) for c in [b"c", b"a", b"r", b"t", b"d", b"s", b"p", b"4", b"f"])
     + p(b"y", b"550-5.7.1 a\r\n550 5.7.1 b\0") + p(b"q", b"why\0") + p(b"h", b"X\0y\0")
     + p(b"i", be(0) + b"X\0y\0") + p(b"m", be(1) + b"Subject\0\0") + p(b"e", b"<a>\0") + p(b"e", b"<a>\0X=Y\0")
     + p(b"+", b"<r>\0") + p(b"2", b"<r>\0A=B\0") + p(b"-", b"<r>\0") + p(b"b", b"replaced\r\n"),
  "zero_length": b"\0\0\0\0",
  "huge_length": b"\xff\xff\xff\xffB" + b"x" * 32,
  "bad_family": p(b"C", b"host\0X"),
  "bad_stage": p(b"O", be(6) + be(0) + be(0) + be(9) + b"j\0"),
  "big_body": p(b"B", b"z" * 65535) + p(b"E"),
}
for name, data in seeds.items():
    for prefix in (b"\0\0", b"\0\x05", b"\x03\x01"):
        open(os.path.join(out, "%s_%02x%02x" % (name, prefix[0], prefix[1])), "wb").write(prefix + data)
PY
echo "run_fuzzer: $(ls "$work/corpus" | wc -l) seed inputs; fuzzing for ${seconds}s"

set +e
ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
"$work/decoder_fuzzer" "$work/corpus" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -max_len=200000 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" 2>"$work/fuzz.log"
rc=$?
set -e
grep -E "^(#[0-9]+[[:space:]]+DONE|stat::|Done )" "$work/fuzz.log" || tail -5 "$work/fuzz.log"
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  echo "run_fuzzer: FINDING (exit $rc); log and artifacts in $work" >&2
  tail -60 "$work/fuzz.log" >&2
  ls -la "$work/artifacts" >&2
  exit 1
fi
echo "run_fuzzer: no findings in ${seconds}s"
[ -n "${FUZZ_WORKDIR-}" ] || rm -rf "$work"
