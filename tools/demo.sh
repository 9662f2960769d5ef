#!/usr/bin/env bash
# The demo: installs what is needed, builds loopgate, starts the bundled TLS
# test gateway on 127.0.0.1:18799 and loopgate in front of it with
# config/loopgate.example.jsonc, and shows an unmodified WebSocket client
# (python-websockets) talking to ws://127.0.0.1:18789 through it.
# It then keeps running until Ctrl-C so you can point your own app at
# ws://127.0.0.1:18789/ (the gateway echoes). --once stops after the client.
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = "--once" ] && once=1

tools/install-deps.sh
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build >/dev/null
tools/gen-certs.sh build/demo

logs=build/demo
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

wait_for() {  # file pattern what
  for _ in $(seq 1 500); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  echo "demo: $3 did not start; its output:" >&2
  cat "$1" >&2
  exit 1
}

build/tools/loopgate-test-gateway --listen 127.0.0.1:18799 \
  --cert build/demo/server.pem --key build/demo/server.key >"$logs/gateway.log" 2>&1 &
pids+=($!)
wait_for "$logs/gateway.log" "listening on" "the test gateway"

build/daemon/loopgate run --config config/loopgate.example.jsonc 2> >(tee "$logs/loopgate.log" >&2) &
pids+=($!)
wait_for "$logs/loopgate.log" "msg=listening" "loopgate"

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" tools/demo_client.py ws://127.0.0.1:18789/echo

if [ $once = 1 ]; then exit 0; fi
echo
echo "loopgate is listening on ws://127.0.0.1:18789 (Ctrl-C to stop)."
echo "Logs: $logs/loopgate.log (also shown here), gateway: $logs/gateway.log"
wait
