# Sourced by tools/sanitize.sh and tools/fuzz.sh: how sanitizer builds report.
# Every finding stops the process with a stack trace (UBSan would otherwise
# print and carry on, and a test that does not read stderr would pass), and
# leaks are checked at exit. Values already in the environment win, so a
# person can add options without editing this file.

: "${ASAN_OPTIONS:=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
: "${LSAN_OPTIONS:=}"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

# Stack traces need llvm-symbolizer; Debian installs it as llvm-symbolizer-14
# unless the `llvm` package adds the plain name.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null; then
  for candidate in /usr/bin/llvm-symbolizer-1[0-9] /usr/lib/llvm-1[0-9]/bin/llvm-symbolizer; do
    if [ -x "$candidate" ]; then export ASAN_SYMBOLIZER_PATH="$candidate"; break; fi
  done
fi

# The compilers for sanitizer and fuzz builds: clang, unless CC/CXX say otherwise
# (on macOS, Homebrew's llvm: Apple's clang has no libFuzzer).
SANITIZER_CC=${CC:-clang}
SANITIZER_CXX=${CXX:-clang++}
