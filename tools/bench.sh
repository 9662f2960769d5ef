#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md: loopgate beside nginx and HAProxy (Debian's), each a
# ws:// -> wss:// proxy on 127.0.0.1 in front of one TLS echo upstream, and beside the load
# client speaking wss:// itself ("direct", the limit). Workloads W1-W8 of issue 12.
# Not part of the test suite. Run as root on Debian 12:
#
#   tools/bench.sh                     every workload, 3 rounds (about 20 minutes)
#   tools/bench.sh --quick             a smoke run (about 2 minutes)
#   tools/bench.sh W1 W2               some workloads only
#   tools/bench.sh --loopgate PATH     measure another loopgate binary
#   tools/bench.sh --help              every option (tools/bench/bench.py)
#
# It installs nginx-light and haproxy with apt-get when missing (BENCH_NO_INSTALL=1: never),
# builds the bench tools and loopgate in ${LOOPGATE_BUILD_DIR:-build} (meson, -j1, nice), and
# stops everything it started when it exits, however it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${LOOPGATE_BUILD_DIR:-build}
command_line="tools/bench.sh $*"

for arg in "$@"; do
  if [ "$arg" = --help ] || [ "$arg" = -h ]; then exec python3 tools/bench/bench.py --help; fi
done
if [ "$(id -u)" != 0 ]; then
  echo "bench.sh: run as root (network namespaces for W7/W8, file limits for W5)" >&2
  exit 1
fi

if [ "${BENCH_NO_INSTALL:-0}" != 1 ]; then
  tools/install-deps.sh
  missing=()
  command -v nginx >/dev/null || missing+=(nginx-light)
  command -v haproxy >/dev/null || missing+=(haproxy)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench.sh: installing ${missing[*]} from Debian" >&2
    # The packages would start their system services (nginx on port 80): a policy-rc.d that
    # says no keeps them stopped.
    policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      policy_added=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
  fi
fi

if [ -d "$build" ]; then meson setup --reconfigure "$build" >/dev/null; else meson setup "$build" >/dev/null; fi
nice ninja -C "$build" -j1 >/dev/null

# The benchmark runs in a process group of its own; on any exit everything in it is stopped
# (the Python side stops its children itself; this catches what a hard kill left behind), and
# the network namespaces it created are removed.
bench_pid=""
cleanup() {
  if [ -n "$bench_pid" ]; then
    kill -TERM -- "-$bench_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 -- "-$bench_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL -- "-$bench_pid" 2>/dev/null || true
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^lgt-$bench_pid-[0-9]+$" || true); do
      ip netns delete "$ns" 2>/dev/null || true
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

setsid python3 tools/bench/bench.py --build "$repo/$build" --command "$command_line" "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
exit $status
