#!/usr/bin/env bash
# Checks that every C++ file of ours (*.cc, *.h outside third_party/) is
# formatted as clang-format 14 formats it with the repository's .clang-format
# (Google style), and that no file keeps merge conflict markers. Lists the
# files that fail and exits 1; fix formatting with
#   clang-format -i FILE...
set -uo pipefail
cd "$(dirname "$0")/.."

format=clang-format-14
command -v "$format" >/dev/null || format=clang-format
if ! command -v "$format" >/dev/null; then
  echo "check_format: clang-format not found (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if ! "$format" --version | grep -q "version 14\."; then
  echo "check_format: want clang-format 14, have: $("$format" --version)" >&2
  exit 1
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^third_party/')
else
  mapfile -t files < <(find . -path ./third_party -prune -o -path './bazel-*' -prune \
    -o \( -name '*.cc' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
fi
[ "${#files[@]}" -gt 0 ] || { echo "check_format: no files found" >&2; exit 1; }

bad=()
for f in "${files[@]}"; do
  "$format" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -ne 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not clang-formatted:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files clang-formatted"

# No file keeps the markers of an unresolved merge.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if git grep -n -e '^<<<<<<< ' -e '^>>>>>>> ' -e '^=======$' -- . ':!third_party'; then
    echo "check_format: merge conflict markers left in the files above" >&2
    exit 1
  fi
fi
