#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, docs/fuzzing.md) with clang, ASan
# and UBSan in build-fuzz, and runs each for SECONDS from a copy of its seed
# corpus (the repository's corpus is never modified). Fails when a target
# crashes, hangs, leaks or breaks an invariant, and prints the reproducer.
#
#   tools/fuzz.sh                      every target, 60 s each
#   tools/fuzz.sh 600 fuzz_frames      one target for 10 minutes
#   tools/fuzz.sh 0                    only build the targets
#
# Environment:
#   LOOPGATE_FUZZ_BUILD_DIR   build directory (default build-fuzz)
#   LOOPGATE_FUZZ_RESULTS     a directory: write fuzz-<target>.xml (JUnit) there
#   LOOPGATE_FUZZ_KEEP        a directory: keep each grown corpus there instead of discarding it
#   CC, CXX                   compilers (default clang, clang++)
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(fuzz_app_request fuzz_upstream_response fuzz_frames fuzz_config)
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
case "$seconds" in
  '' | *[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS] [TARGET...]   targets: ${ALL_TARGETS[*]}" >&2; exit 2 ;;
esac
for target in "${targets[@]}"; do
  if [ ! -d "tests/fuzz/corpus/$target" ]; then
    echo "fuzz: unknown target $target (known: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done

build=${LOOPGATE_FUZZ_BUILD_DIR:-build-fuzz}
results=${LOOPGATE_FUZZ_RESULTS:-}
artifacts="$build/fuzz-artifacts"
source tools/sanitizer-env.sh
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

# One JUnit test case per target run, for tools/test-summary.py.
write_junit() {  # target status seconds detail-file
  [ -n "$results" ] || return 0
  mkdir -p "$results"
  "$PYTHON" - "$results/fuzz-$1.xml" "$1" "$2" "$3" "$4" <<'PY'
import re
import sys
import xml.etree.ElementTree as ET
path, target, status, seconds, detail = sys.argv[1:6]
# Fuzz inputs show up in the detail; XML 1.0 cannot hold most control bytes.
def xml_safe(text):
    return re.sub("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd]", "?", text)
suite = ET.Element("testsuite", name="fuzz", tests="1", failures="0" if status == "0" else "1")
case = ET.SubElement(suite, "testcase", classname="fuzz", name=f"{target} ({seconds} s)", time=seconds)
if status != "0":
    text = open(detail, errors="replace").read() if detail else ""
    first = next((line for line in text.splitlines() if line.startswith("fuzz:")), f"exit status {status}")
    ET.SubElement(case, "failure", message=xml_safe(first)).text = xml_safe(text[:4000])
ET.ElementTree(suite).write(path, encoding="unicode")
PY
}

configure() {
  CC=$SANITIZER_CC CXX=$SANITIZER_CXX meson setup "$build" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args=-fsanitize=fuzzer-no-link -Dc_args=-fsanitize=fuzzer-no-link
}

build_targets() {
  local log="$1"
  { [ -f "$build/build.ninja" ] || configure; } >"$log" 2>&1 &&
    ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >>"$log" 2>&1
}

mkdir -p "$artifacts"
build_log="$artifacts/build.log"
if ! build_targets "$build_log"; then
  cat "$build_log"
  echo "fuzz: building the fuzz targets failed (log: $build_log)" >>"$build_log"
  for target in "${targets[@]}"; do write_junit "$target" 1 0 "$build_log"; done
  echo "fuzz: building the fuzz targets failed" >&2
  exit 1
fi

# Where a report starts: sanitizers, a broken invariant, libFuzzer's own
# crash, timeout, out-of-memory and leak reports.
REPORT_START='^==[0-9]+== ?ERROR|runtime error:|^fuzz (detail|invariant)|^ALARM:|^MS: '

# Runs one target; prints a one-line result, or the report and the reproducer.
run_target() {
  local target=$1 work log status=0
  work=$(mktemp -d)
  log="$artifacts/$target.log"
  cp -R "tests/fuzz/corpus/$target" "$work/corpus"
  touch "$work/started"
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$work/corpus" </dev/null >"$log" 2>&1 ||
    status=$?
  local reproducer
  reproducer=$(find "$artifacts" -maxdepth 1 -type f -name "$target-*" -newer "$work/started" | head -1)
  if [ -n "${LOOPGATE_FUZZ_KEEP:-}" ]; then
    mkdir -p "$LOOPGATE_FUZZ_KEEP/$target"
    cp -R "$work/corpus/." "$LOOPGATE_FUZZ_KEEP/$target/"
  fi
  rm -rf "$work"

  local runs coverage
  # The log holds raw input bytes, so grep -a.
  runs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  coverage=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$status" = 0 ]; then
    echo "fuzz: $target: ${seconds} s, ${runs:-0} runs, ${coverage:-cov: ?}, no findings"
    write_junit "$target" 0 "$seconds" ""
    return 0
  fi
  local first
  first=$(grep -a -n -m1 -E "$REPORT_START" "$log" | cut -d: -f1 || true)
  {
    tail -n +"${first:-1}" "$log" | head -120
    echo "fuzz: $target failed (exit status $status) after ${runs:-?} runs; full log: $log"
    echo "fuzz: reproducer: ${reproducer:-none written}"
    [ -z "$reproducer" ] || echo "fuzz: reproduce with: $build/tests/fuzz/$target $reproducer"
    # The bytes themselves, so a finding on a machine whose files are gone (CI)
    # can be rebuilt: base64 -d > crash.
    [ -z "$reproducer" ] ||
      { size=$(wc -c <"$reproducer"); shown="$size bytes"; [ "$size" -le 3072 ] || shown="the first 3072 of $size bytes, cut"
        echo "fuzz: reproducer bytes ($shown, base64): $(head -c 3072 "$reproducer" | base64 -w0)"; }
  } >"$log.report"
  cat "$log.report"
  write_junit "$target" "$status" "$seconds" "$log.report"
  return 1
}

# libFuzzer reads -max_total_time=0 as "forever".
[ "$seconds" != 0 ] || exit 0

status=0
for target in "${targets[@]}"; do
  run_target "$target" || status=1
done
exit $status
