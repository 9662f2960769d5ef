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
# The files: every source file the macOS build compiles, read from the
# meson.build of each directory the top-level meson.build enters (config,
# proxy, daemon, tools, tests): each quoted '*.cpp' there, except those a
# `host_machine.system() == 'linux'` branch or the `else` of an
# `if host_is_darwin` adds; plus every header under daemon/, proxy/ and
# config/ (but *_linux.*) with an #if on __APPLE__, __MACH__, TARGET_OS_* or a
# name the shim hides because macOS lacks it (SO_PEERCRED, ...:
# $branch_macros below), and the shim's own layout check
# (tests/darwin-shim/layout_check.cpp). So a new file is checked without
# editing this script. Exit status 1 when any of them does not compile.
# CXX_DARWIN_CHECK overrides the compiler; DARWIN_CHECK_JOBS how many
# compile at once (default: the number of processors).
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
branch_macros='__APPLE__|__MACH__|TARGET_OS_|SO_PEERCRED|TCP_KEEPIDLE|TCP_USER_TIMEOUT|SOCK_CLOEXEC|SOCK_NONBLOCK|MSG_NOSIGNAL|SO_NOSIGPIPE'
# The sources one meson.build compiles on macOS (see the top of this file).
# A nested `if` on anything else (an option, a found dependency) counts as
# taken both ways.
darwin_sources() {
  awk -v dir="$1" '
    function skipped(  i) { for (i = 1; i <= depth; i++) if (skip[i]) return 1; return 0 }
    /^[[:space:]]*#/ { next }
    /^[[:space:]]*if[[:space:]]/ {
      depth++
      linux_only[depth] = ($0 ~ /host_machine\.system\(\) *== *.linux.|not host_is_darwin/)
      darwin_only[depth] = !linux_only[depth] && ($0 ~ /host_is_darwin|host_machine\.system\(\) *== *.darwin./)
      skip[depth] = linux_only[depth]
      next
    }
    /^[[:space:]]*(else|elif)/ { skip[depth] = darwin_only[depth]; next }
    /^[[:space:]]*endif/ { depth--; next }
    !skipped() {
      line = $0
      while (match(line, /\047[^\047]*\.cpp\047/)) {
        print dir "/" substr(line, RSTART + 1, RLENGTH - 2)
        line = substr(line, RSTART + RLENGTH)
      }
    }
  ' "$1/meson.build"
}
files=()
while IFS= read -r file; do files+=("$file"); done < <(
  {
    for dir in $(sed -n "s/^subdir('\([^']*\)')/\1/p" meson.build); do darwin_sources "$dir"; done
    grep -rlE "^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif).*($branch_macros)" daemon proxy config \
      --include='*.hpp' --include='*.h'
  } | grep -v '_linux\.' | sort -u
)
# A parse of meson.build that found nothing would make this check pass while
# checking nothing: every source folder must give files, the macOS ones too.
for dir in config proxy daemon tools tests; do
  printf '%s\n' "${files[@]}" | grep -q "^$dir/.*\.cpp$" ||
    { echo "darwin-compile: no sources found in $dir/meson.build (has its layout changed?)" >&2; exit 1; }
done
printf '%s\n' "${files[@]}" | grep -qx daemon/netwatch_darwin.cpp ||
  { echo "darwin-compile: daemon/netwatch_darwin.cpp is not among the macOS sources" >&2; exit 1; }
files+=("$shim/layout_check.cpp")

# A stand-in for the build's generated header, so no build is needed.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
printf '#pragma once\n#define LOOPGATE_VERSION "%s"\n#define LOOPGATE_DATADIR "/usr/local/share/loopgate"\n' \
  "${version:-0}" >"$gen/loopgate_version.h"
python3 tools/embed-text.py tools/loopgate.service "$gen/systemd_unit_template.h" kSystemdUnitTemplate || exit 1

# The real build: meson's warning_level=2 is -Wall -Wextra; cpp_std=c++20.
flags=(-std=c++20 -fsyntax-only -Wall -Wextra -Werror -fno-color-diagnostics
  -D__APPLE__ -D__MACH__ -U__linux__ -U__linux -Ulinux -U__gnu_linux__
  -isystem "$shim"
  -I"$gen" -Iproxy -Idaemon -Iconfig -Itools)
# The dependencies' own flags, as meson passes them (empty on Debian), and
# llhttp.h where meson's llhttp_include_dir option says when pkg-config has no
# libllhttp (Debian).
if command -v pkg-config >/dev/null; then
  read -r -a dep_flags <<<"$(pkg-config --cflags libuv openssl nlohmann_json doctest 2>/dev/null || true)"
  flags+=("${dep_flags[@]}")
  if pkg-config --exists libllhttp 2>/dev/null; then
    read -r -a dep_flags <<<"$(pkg-config --cflags libllhttp)"
    flags+=("${dep_flags[@]}")
  fi
fi
llhttp_inc=$(sed -n "s/^option('llhttp_include_dir'.*value *: *'\([^']*\)'.*/\1/p" meson_options.txt)
[ -n "$llhttp_inc" ] && [ -d "$llhttp_inc" ] && flags+=(-isystem "$llhttp_inc")

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

cases=""
failed=0
skip_reason=""
if [ "$(uname)" = Darwin ]; then
  # On a Mac the real build compiles these files against Apple's headers; the
  # shim would only shadow them.
  skip_reason="on macOS the real build compiles this file against Apple's headers"
fi

# Compiles file $1 into $gen/$2.out and $gen/$2.rc.
compile_one() {
  local out rc
  case "$1" in
    *.cpp) out=$("$cxx" "${flags[@]}" "$1" 2>&1); rc=$? ;;
    # A header is checked as a translation unit that includes it.
    *) out=$(printf '#include "%s"\n' "$PWD/$1" | "$cxx" "${flags[@]}" -x c++ - 2>&1); rc=$? ;;
  esac
  printf '%s' "$out" >"$gen/$2.out"
  echo "$rc" >"$gen/$2.rc"
}

jobs=${DARWIN_CHECK_JOBS:-$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 1)}
if [ -z "$skip_reason" ] && command -v "$cxx" >/dev/null; then
  running=0
  for i in "${!files[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
      wait -n
      running=$((running - 1))
    fi
    compile_one "${files[$i]}" "$i" &
    running=$((running + 1))
  done
  wait
fi

for i in "${!files[@]}"; do
  file=${files[$i]}
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
    out=$(cat "$gen/$i.out")
    rc=$(cat "$gen/$i.rc")
  fi
  if [ "$rc" = 0 ] && [ -z "$out" ]; then
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
