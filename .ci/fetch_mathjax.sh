#!/usr/bin/env bash
# Fetch the pinned MathJax 3 package (npm tarball, checked by sha256) and unpack its
# `es5` bundle into _vendor/_static/mathjax/, which Sphinx copies into the built book
# (html_extra_path in _config.yml), so formulas render with no network.
# Idempotent: does nothing when the pinned version is already unpacked.
# Nothing fetched here is committed: _vendor/ is gitignored.
set -euo pipefail
cd "$(dirname "$0")/.."

MATHJAX_VERSION=3.2.2
MATHJAX_SHA256=1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
DEST=_vendor/_static/mathjax
STAMP=$DEST/.pinned

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$MATHJAX_VERSION $MATHJAX_SHA256" ] \
   && [ -f "$DEST/es5/tex-mml-chtml.js" ]; then
  echo "mathjax: $MATHJAX_VERSION already in $DEST"
  exit 0
fi

command -v npm >/dev/null || { echo "FAIL: npm is needed to fetch MathJax (apt-get install -y npm)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" >/dev/null)
tarball="$tmp/mathjax-$MATHJAX_VERSION.tgz"
echo "$MATHJAX_SHA256  $tarball" | sha256sum --check --quiet \
  || { echo "FAIL: sha256 of mathjax-$MATHJAX_VERSION.tgz differs from the pin"; exit 1; }
rm -rf "$DEST"
mkdir -p "$DEST"
tar -xzf "$tarball" -C "$DEST" --strip-components=1 package/es5 package/LICENSE
echo "$MATHJAX_VERSION $MATHJAX_SHA256" > "$STAMP"
echo "mathjax: $MATHJAX_VERSION unpacked into $DEST ($(find "$DEST" -type f | wc -l) files)"
