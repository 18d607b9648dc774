#!/usr/bin/env bash
# Copy the site's third-party browser assets from the npm registry into
# docs/assets/vendor/, so the site serves them itself (no CDN):
#   - KaTeX, which renders the maths;
#   - iframe-worker, the shim that lets Material's search run from file://
#     in the offline bundle (Material would otherwise load it from a CDN).
# Run once per upgrade and commit the result; the build never downloads anything.
set -euo pipefail
katex="${KATEX_VERSION:-0.19.1}"
iframe_worker="${IFRAME_WORKER_VERSION:-1.0.4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/docs/assets/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fetch() {  # fetch NAME VERSION -> unpacked in $tmp/NAME/package
  mkdir -p "$tmp/$1"
  (cd "$tmp/$1" && npm pack --silent "$1@$2" >/dev/null && tar xzf ./*.tgz)
}

fetch katex "$katex"
dest="$vendor/katex"
rm -rf "$dest"
mkdir -p "$dest/fonts" "$dest/contrib"
cp "$tmp/katex/package/dist/katex.min.js" "$tmp/katex/package/dist/katex.min.css" "$tmp/katex/package/LICENSE" "$dest/"
cp "$tmp/katex/package/dist/contrib/auto-render.min.js" "$dest/contrib/"
# Only woff2: every browser that runs this site's JavaScript reads it, and the
# stylesheet lists it first, so the .woff/.ttf copies would never be fetched.
cp "$tmp/katex/package/dist/fonts/"*.woff2 "$dest/fonts/"
echo "$katex" > "$dest/VERSION"

fetch iframe-worker "$iframe_worker"
dest="$vendor/iframe-worker"
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/iframe-worker/package/shim/index.js" "$dest/shim.js"
cp "$tmp/iframe-worker/package/LICENSE" "$dest/" 2>/dev/null || true
echo "$iframe_worker" > "$dest/VERSION"

echo "KaTeX $katex, iframe-worker $iframe_worker -> ${vendor#"$root"/}"
