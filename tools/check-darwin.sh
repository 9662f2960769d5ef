#!/usr/bin/env bash
# Compiles every macOS-only source file with clang on Linux, as macOS would
# see it (__APPLE__ and __MACH__ defined, __linux__ not), against the
# stand-ins for Apple's headers in tests/darwin-shim/ (see its README.md),
# with the real build's warnings as errors. It proves the code is well-formed
# against the declarations we wrote there, not that Apple's API matches them;
# nothing here runs on a Mac. tools/test.sh runs it after the unit tests.
#
#   tools/check-darwin.sh              check, print one line per file
#   tools/check-darwin.sh RESULTS_DIR  also write RESULTS_DIR/darwin-compile.xml
#                                      (JUnit, one test case per file) for
#                                      tools/test-summary.py
#
# The files: every *_darwin.* under daemon/, proxy/ and config/, and every
# other source or header there (but *_linux.*) with an #if on __APPLE__,
# __MACH__, TARGET_OS_* or a name the shim hides because macOS lacks it
# (SO_PEERCRED, ...: $branch_macros below), so a new one is checked without
# editing this script; plus the shim's own layout check
# (tests/darwin-shim/layout_check.cpp). Exit status 1 when any
# of them does not compile. CXX_DARWIN_CHECK overrides the compiler.
set -uo pipefail
results=${1:-}
if [ -n "$results" ]; then
  mkdir -p "$results" && results=$(cd "$results" && pwd) || exit 1
fi
cd "$(dirname "$0")/.." || exit 1
cxx=${CXX_DARWIN_CHECK:-clang++}
shim=tests/darwin-shim

# A preprocessor test of one of these picks a macOS branch: Apple's own
# macros, and the names the shim withholds from glibc because macOS lacks them.
branch_macros='__APPLE__|__MACH__|TARGET_OS_|SO_PEERCRED|TCP_KEEPIDLE|TCP_USER_TIMEOUT'
files=()
while IFS= read -r file; do files+=("$file"); done < <(
  {
    find daemon proxy config -type f -name '*_darwin.*'
    grep -rlE "^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif).*($branch_macros)" daemon proxy config \
      --include='*.cpp' --include='*.hpp' --include='*.h'
  } | grep -v '_linux\.' | sort -u
)
files+=("$shim/layout_check.cpp")

# A stand-in for the build's generated header, so no build is needed.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
printf '#pragma once\n#define LOOPGATE_VERSION "%s"\n#define LOOPGATE_DATADIR "/usr/local/share/loopgate"\n' \
  "${version:-0}" >"$gen/loopgate_version.h"

# The real build: meson's warning_level=2 is -Wall -Wextra; cpp_std=c++20.
flags=(-std=c++20 -fsyntax-only -Wall -Wextra -Werror -fno-color-diagnostics
  -D__APPLE__ -D__MACH__ -U__linux__ -U__linux -Ulinux -U__gnu_linux__
  -isystem "$shim"
  -I"$gen" -Iproxy -Idaemon -Iconfig)
# The dependencies' own flags, as meson passes them (empty on Debian).
if command -v pkg-config >/dev/null; then
  read -r -a dep_flags <<<"$(pkg-config --cflags libuv openssl nlohmann_json 2>/dev/null || true)"
  flags+=("${dep_flags[@]}")
fi

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

cases=""
failed=0
skip_reason=""
if [ "$(uname)" = Darwin ]; then
  # On a Mac the real build compiles these files against Apple's headers; the
  # shim would only shadow them.
  skip_reason="on macOS the real build compiles this file against Apple's headers"
fi

for file in "${files[@]}"; do
  name=$(printf '%s' "$file" | xml_escape)
  if [ -n "$skip_reason" ]; then
    echo "darwin-compile $file: skipped ($skip_reason)"
    cases+="  <testcase classname=\"darwin-compile\" name=\"$name\"><skipped message=\"$skip_reason\"/></testcase>"$'\n'
    continue
  fi
  if ! command -v "$cxx" >/dev/null; then
    out="$cxx not found (tools/install-deps.sh installs clang)"
    rc=127
  else
    case "$file" in
      *.cpp) out=$("$cxx" "${flags[@]}" "$file" 2>&1); rc=$? ;;
      # A header is checked as a translation unit that includes it.
      *) out=$(printf '#include "%s"\n' "$PWD/$file" | "$cxx" "${flags[@]}" -x c++ - 2>&1); rc=$? ;;
    esac
  fi
  if [ $rc = 0 ] && [ -z "$out" ]; then
    echo "darwin-compile $file: ok"
    cases+="  <testcase classname=\"darwin-compile\" name=\"$name\"/>"$'\n'
  else
    # Any output is a failure: with -Werror a warning already is, and a note
    # on its own would mean something compiled that should be looked at.
    failed=$((failed + 1))
    echo "darwin-compile $file: FAILED"
    printf '%s\n' "$out" | sed 's/^/    /'
    detail=$(printf '%s\n' "$out" | xml_escape)
    cases+="  <testcase classname=\"darwin-compile\" name=\"$name\"><failure message=\"does not compile as macOS sees it (against $shim)\">$detail</failure></testcase>"$'\n'
  fi
done

if [ -n "$results" ]; then
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuite name=\"darwin-compile\" tests=\"${#files[@]}\" failures=\"$failed\">"
    printf '%s' "$cases"
    echo '</testsuite>'
  } >"$results/darwin-compile.xml"
fi

if [ $failed != 0 ]; then
  echo "darwin-compile: $failed of ${#files[@]} failed; the command: $cxx ${flags[*]} FILE" >&2
  exit 1
fi
