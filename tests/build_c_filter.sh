#!/usr/bin/env bash
# Compiles testdata/libmilter/sample_filter.c (a filter on sendmail's
# libmilter, see the top of that file) with gcc.
#   bash tests/build_c_filter.sh OUTPUT_PATH
# Needs libmilter-dev. Exits non-zero if the build fails.
set -euo pipefail
out="${1:?usage: build_c_filter.sh OUTPUT_PATH}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$(dirname "$out")"
gcc -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o "$out" \
  "$root/testdata/libmilter/sample_filter.c" -lmilter -lpthread
