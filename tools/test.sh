#!/usr/bin/env bash
# Installs what is needed, builds loopgate and runs every test: the doctest
# unit tests, the macOS-only sources compiled with clang against
# tests/darwin-shim (tools/check-darwin.sh), and the integration tests
# (pytest) that start the real daemon.
# Then the same suite again under ASan + UBSan (tools/sanitize.sh), and each
# fuzz target for LOOPGATE_FUZZ_SECONDS (default 25) seconds (tools/fuzz.sh).
# The last line is the count of test cases: "N passed, N failed, N skipped".
#
#   tools/test.sh                   all tests
#   tools/test.sh -k relay          only integration tests matching "relay" (pytest -k)
#   LOOPGATE_QUICK=1 tools/test.sh  skip the sanitizer suite and the fuzzing (CI runs them)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${LOOPGATE_BUILD_DIR:-build}

tools/install-deps.sh
if [ -d "$build" ]; then meson setup --reconfigure "$build" >/dev/null; else meson setup "$build" >/dev/null; fi
ninja -C "$build"
(cd tests/integration/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

results="$build/test-results"
rm -rf "$results"
mkdir -p "$results"
status=0

echo "== unit tests"
"$build/tests/unit_tests" --reporters=junit --out="$results/unit.xml" || status=1

echo "== macOS sources compiled against tests/darwin-shim (not a Mac: see its README.md)"
tools/check-darwin.sh "$results" || status=1

echo "== integration tests"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
LOOPGATE_BUILD_DIR="$repo/$build" "$PYTHON" -m pytest tests/integration -q -p no:cacheprovider \
  --junitxml="$results/integration.xml" "$@" || status=1

if [ "${LOOPGATE_QUICK:-0}" != 1 ]; then
  echo "== sanitizer suite (LOOPGATE_QUICK=1 skips it and the fuzzing)"
  tools/sanitize.sh --results "$results" "$@" || status=1
  echo "== fuzzing"
  LOOPGATE_FUZZ_RESULTS="$results" tools/fuzz.sh "${LOOPGATE_FUZZ_SECONDS:-25}" || status=1
fi

echo "== summary"
"$PYTHON" tools/test-summary.py "$results"/*.xml || status=1
exit $status
