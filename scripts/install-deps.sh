#!/usr/bin/env bash
# Installs, idempotently, every Debian package the build and the tests need.
# Safe to run again: packages already present are skipped. Then builds mruby
# for the scripting engine (scripts/build-mruby.sh, a no-op once built).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

PACKAGES=(
  bazel-bootstrap g++ clang libclang-rt-14-dev clang-format
  libabsl-dev libprotobuf-dev protobuf-compiler libgtest-dev libgmock-dev
  libbenchmark-dev libasio-dev libre2-dev libc-ares-dev libmicrohttpd-dev
  libmilter-dev python3-milter miltertest postfix swaks opendkim opendkim-tools
  rspamd dnsmasq-base sasl2-bin libsasl2-modules
  python3 procps iproute2 netcat-openbsd groff-base
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[install-deps] all ${#PACKAGES[@]} packages already installed"
  bash "$HERE/build-mruby.sh"
  exit 0
fi

echo "[install-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; the tests run their own instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string test.example.com" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
bash "$HERE/build-mruby.sh"
echo "[install-deps] done"
