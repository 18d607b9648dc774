#!/usr/bin/env bash
# Copy third-party code from the npm registry into the repository, so that
# neither the build nor the site downloads anything:
#   - KaTeX (tools/vendor/katex), which hooks/maths.py runs under Node.js at
#     build time to turn every formula into MathML: pages carry no maths script,
#     stylesheet or font;
#   - iframe-worker (docs/assets/vendor), the shim that lets Material's search
#     run from file:// in the offline bundle (Material would otherwise load it
#     from a CDN).
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
dest="$root/tools/vendor/katex"
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/katex/package/dist/katex.min.js" "$tmp/katex/package/LICENSE" "$dest/"
echo "$katex" > "$dest/VERSION"

fetch iframe-worker "$iframe_worker"
dest="$vendor/iframe-worker"
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/iframe-worker/package/shim/index.js" "$dest/shim.js"
cp "$tmp/iframe-worker/package/LICENSE" "$dest/" 2>/dev/null || true
echo "$iframe_worker" > "$dest/VERSION"

echo "KaTeX $katex -> tools/vendor/katex, iframe-worker $iframe_worker -> ${vendor#"$root"/}"
