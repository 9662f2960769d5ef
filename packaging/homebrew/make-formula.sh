#!/usr/bin/env bash
# Makes a Homebrew formula for the commit checked out: a source tarball of
# HEAD (git archive, so uncommitted changes are not in it) and loopgate.rb
# from loopgate.rb.in with that tarball's url and sha256.
#
#   packaging/homebrew/make-formula.sh                      # build/homebrew/: tarball + formula (file:// url)
#   packaging/homebrew/make-formula.sh --url-base URL       # the formula names URL/loopgate-VERSION.tar.xz,
#                                                           # where the tarball will be published
#   packaging/homebrew/make-formula.sh --out DIR            # write to DIR instead
#
# Prints the formula's path. Install it with: brew install --formula PATH
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/build/homebrew"
url_base=""
homepage=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --url-base) url_base=${2%/}; shift 2 ;;
    --homepage) homepage=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-formula: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done

git -C "$repo" rev-parse --verify -q HEAD >/dev/null ||
  { echo "make-formula: $repo is not a git checkout with a commit; the tarball is made from HEAD" >&2; exit 66; }
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "make-formula: note: uncommitted changes are not in the tarball (it holds HEAD)" >&2
fi
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$repo/meson.build" | head -n 1)
[ -n "$version" ] || { echo "make-formula: no version in meson.build" >&2; exit 65; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
tarball="$out/loopgate-$version.tar.xz"
git -C "$repo" archive --format=tar --prefix="loopgate-$version/" HEAD | xz -9 -c >"$tarball"
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
url=${url_base:+$url_base/loopgate-$version.tar.xz}
url=${url:-file://$tarball}
homepage=${homepage:-${url_base:-file://$repo}}

sed -e "s|@URL@|$url|" -e "s|@SHA256@|$sha|" -e "s|@HOMEPAGE@|$homepage|" \
  "$here/loopgate.rb.in" >"$out/loopgate.rb"
echo "$out/loopgate.rb"
