#!/usr/bin/env bash
# Installs what building and testing loopgate needs.
#   Debian 12: apt-get (run as root, or with sudo available); skipped when all is present.
#   macOS:     prints the Homebrew command (nothing is installed for you).
set -euo pipefail

DEBIAN_PACKAGES=(
  g++ meson ninja-build pkg-config
  libuv1-dev libssl-dev nlohmann-json3-dev doctest-dev node-llhttp
  openssl ca-certificates python3 python3-pytest python3-websockets python3-cryptography
  util-linux strace iproute2 curl man-db xz-utils git
  # ruby: checks the Homebrew formula (packaging/homebrew) is valid Ruby.
  ruby
  prometheus
  chromium
  # clang: the sanitizer and fuzz builds, and tools/check-darwin.sh (clang++).
  clang libclang-rt-14-dev llvm
)

if [ "$(uname)" = Darwin ]; then
  missing=0
  for tool in meson ninja pkg-config; do command -v "$tool" >/dev/null || missing=1; done
  if [ $missing = 1 ]; then
    echo "install-deps: on macOS run: brew install meson ninja pkg-config libuv openssl@3 llhttp nlohmann-json doctest node llvm" >&2
    exit 1
  fi
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-deps: not a Debian-like system; install: ${DEBIAN_PACKAGES[*]} nodejs npm" >&2
  exit 0
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node may come from Debian or from NodeSource (whose nodejs bundles npm): only
# ask Debian for it when there is none at all.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
# Packages such as prometheus (installed only for its promtool) would start
# their service on install; a policy-rc.d that says no keeps every one stopped.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ $policy_added = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
