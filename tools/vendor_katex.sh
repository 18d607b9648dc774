#!/usr/bin/env bash
# Copy KaTeX from the npm registry into docs/assets/vendor/katex, so the site
# renders maths from its own files (no CDN). Run once per KaTeX upgrade and
# commit the result; the build itself never downloads anything.
set -euo pipefail
version="${1:-0.19.1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/docs/assets/vendor/katex"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "katex@$version" >/dev/null && tar xzf "katex-$version.tgz")
rm -rf "$dest"
mkdir -p "$dest/fonts" "$dest/contrib"
cp "$tmp/package/dist/katex.min.js" "$tmp/package/dist/katex.min.css" "$tmp/package/LICENSE" "$dest/"
cp "$tmp/package/dist/contrib/auto-render.min.js" "$dest/contrib/"
# Only woff2: every browser that runs this site's JavaScript reads it, and the
# stylesheet lists it first, so the .woff/.ttf copies would never be fetched.
cp "$tmp/package/dist/fonts/"*.woff2 "$dest/fonts/"
echo "$version" > "$dest/VERSION"
echo "KaTeX $version -> ${dest#"$root"/}"
