#!/usr/bin/env bash
# Builds mruby for the manager's scripting engine from Debian's own source
# package (mruby 3.1, the same code as libmruby-dev) with MRB_USE_DEBUG_HOOK,
# which Debian's binary package lacks and the engine needs to stop a script that
# runs past its deadline. Installs a static libmruby.a and the headers into
# /opt/libmilterpp/mruby (third_party/system.BUILD's @system//:mruby).
#
# Idempotent: a stamp records the source version, the recipe below and the
# build configuration's checksum; when they match, nothing is done (bump
# RECIPE when the steps below change). Needs root (apt) the first time.
# About 80 s of CPU: 1 to 5 minutes of wall time on two cores, by load.
set -euo pipefail

PREFIX="${MRUBY_PREFIX:-/opt/libmilterpp/mruby}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
CONFIG="$HERE/third_party/mruby/build_config.rb"
STAMP="$PREFIX/.build-stamp"

# One build at a time on a machine (several checkouts may run this at once).
mkdir -p "$(dirname "$PREFIX")"
exec 9>"$PREFIX.lock"
flock 9

RECIPE=1
want="3.1.0 recipe$RECIPE $(sha256sum < "$CONFIG" | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   [ -f "$PREFIX/lib/libmruby.a" ]; then
  echo "[build-mruby] $PREFIX is up to date ($want)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Source packages come from the same Debian mirror as the binary ones.
SRC_LIST=/etc/apt/sources.list.d/libmilterpp-deb-src.sources
if ! grep -rqs "^Types:.*deb-src" /etc/apt/sources.list.d/ &&
   ! grep -qs "^deb-src" /etc/apt/sources.list; then
  cat > "$SRC_LIST" <<'SOURCES'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  apt-get update -qq
fi
need=()
for p in ruby rake bison dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

WORK="$(mktemp -d /tmp/build-mruby.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
if ! apt-get source -qq mruby=3.1.0-3 >/dev/null 2>&1; then
  apt-get update -qq
  apt-get source -qq mruby >/dev/null
fi
cd mruby-3.1.0
start=$(date +%s)
# A copy: rake writes a .lock file beside the configuration.
cp "$CONFIG" "$WORK/build_config.rb"
MRUBY_CONFIG="$WORK/build_config.rb" MRUBY_BUILD_DIR="$WORK/build" \
  rake -j2 all >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }

rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new/lib" "$PREFIX.new/bin"
cp "$WORK/build/host/lib/libmruby.a" "$PREFIX.new/lib/"
cp -r include "$PREFIX.new/include"
cp "$WORK/build/host/bin/mrbc" "$PREFIX.new/bin/" 2>/dev/null || true
# Consumers must agree with the library on the layout of mrb_state.
sed -i 's|^//#define MRB_USE_DEBUG_HOOK .*|#define MRB_USE_DEBUG_HOOK /* built with the hook */|' \
  "$PREFIX.new/include/mrbconf.h"
grep -q '^#define MRB_USE_DEBUG_HOOK' "$PREFIX.new/include/mrbconf.h"
echo "$want" > "$PREFIX.new/.build-stamp"
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"
echo "[build-mruby] built in $(( $(date +%s) - start ))s into $PREFIX"
