#!/usr/bin/env bash
# Soak test: 1,000 sessions churning through loopgate for --minutes N (default 30) while the
# gateway is killed and restarted and the network changes; prints figures once a minute and a
# verdict at the end (exit 0 PASS, 1 FAIL, 2 cannot run). Not part of tools/test.sh.
#
#   sudo tools/soak.sh                      30 minutes, 1,000 sessions
#   sudo tools/soak.sh --minutes 3          a short check
#   sudo tools/soak.sh --help               every option (tools/soak.py)
#
# Needs root (network namespaces and veth pairs, as the network-change tests) and what
# tools/install-deps.sh installs; installs nothing itself. Builds only when build/daemon/loopgate
# is missing. LOOPGATE_BUILD_DIR, LOOPGATE_BIN and LOOPGATE_GATEWAY_BIN choose other binaries;
# the soak runs copies of them, so a rebuild during the run cannot pull them from under it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "soak.sh: needs root (it creates network namespaces); try: sudo $0 $*" >&2
  exit 2
fi

build=${LOOPGATE_BUILD_DIR:-build}
if [ -z "${LOOPGATE_BIN:-}" ] && [ ! -x "$build/daemon/loopgate" ]; then
  echo "soak.sh: $build/daemon/loopgate is missing; building it"
  [ -f "$build/build.ninja" ] || meson setup "$build"
  ninja -C "$build"
fi

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
LOOPGATE_BUILD_DIR=$build exec "$PYTHON" tools/soak.py "$@"
