#!/usr/bin/env bash
# Builds loopgate with AddressSanitizer + UndefinedBehaviorSanitizer (clang)
# in build-asan and runs the whole test suite against it: the unit tests and
# every integration test, whose fixtures fail a test when a child process
# printed a sanitizer report. tools/test.sh runs this after the normal suite.
#
#   tools/sanitize.sh                      everything
#   tools/sanitize.sh -k relay             only integration tests matching "relay"
#   tools/sanitize.sh --results DIR ...    write the JUnit XML into DIR (asan-*.xml) for
#                                          tools/test-summary.py, instead of summarizing here
#
# LOOPGATE_ASAN_BUILD_DIR overrides the build directory (default build-asan).
# The integration tests get LOOPGATE_SANITIZED=1 (the one assertion that cannot
# hold under ASan, resident memory, is skipped) and LOOPGATE_SANITIZER_LOGS, the
# directory the sanitizers write their reports to (a report fails the test).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${LOOPGATE_ASAN_BUILD_DIR:-build-asan}
results=""
if [ "${1:-}" = --results ]; then
  results=$2
  shift 2
fi
source tools/sanitizer-env.sh

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
status=0
out=${results:-$(mktemp -d)}
mkdir -p "$out"

echo "== sanitizer build ($build)"
rc=0
if [ ! -f "$build/build.ninja" ]; then
  CC=$SANITIZER_CC CXX=$SANITIZER_CXX meson setup "$build" \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || rc=$?
fi
if [ $rc = 0 ]; then
  ninja -C "$build" >"$out/asan-build.log" || { rc=$?; cat "$out/asan-build.log"; }
fi
if [ $rc != 0 ]; then
  "$PYTHON" tools/junit-mark.py "$out/asan-build.xml" asan "$rc" build
  [ -n "$results" ] || "$PYTHON" tools/test-summary.py "$out/asan-build.xml"
  exit 1
fi

echo "== unit tests (ASan + UBSan)"
rc=0
"$build/tests/unit_tests" --reporters=junit --out="$out/asan-unit.xml" || rc=$?
"$PYTHON" tools/junit-mark.py "$out/asan-unit.xml" asan "$rc" unit_tests
[ $rc = 0 ] || status=1

echo "== integration tests (ASan + UBSan)"
# Reports go to files here, so the fixtures catch those of every child, also
# of processes a test starts itself (conftest.py: no_sanitizer_reports).
reports="$(cd "$out" && pwd)/asan-reports"
rm -rf "$reports"
mkdir -p "$reports"
rc=0
LOOPGATE_SANITIZED=1 LOOPGATE_SANITIZER_LOGS="$reports" LOOPGATE_BUILD_DIR="$repo/$build" \
  ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/report" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/report" \
  "$PYTHON" -m pytest tests/integration -q -p no:cacheprovider --junitxml="$out/asan-integration.xml" "$@" || rc=$?
"$PYTHON" tools/junit-mark.py "$out/asan-integration.xml" asan "$rc" pytest
[ $rc = 0 ] || status=1

if [ -z "$results" ]; then "$PYTHON" tools/test-summary.py "$out"/asan-*.xml || status=1; fi
exit $status
