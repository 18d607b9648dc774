#!/usr/bin/env bash
# What the browser tests (tests/browser/) need beyond Python packages:
#   - Debian's chromium, driven by Playwright (Playwright's own browser
#     download is not used: it cannot be fetched here, and the system
#     browser is what readers run);
#   - a Japanese font, so Japanese pages render (and are screenshotted) without tofu;
#   - axe-core, the accessibility checker, from the npm registry (package-lock.json).
# Installs what it can: apt-get only as root on Debian. Anything missing makes
# the browser tests skip with the reason, except where REQUIRE_BROWSER=1 (CI),
# where they fail instead.
#
#   tools/install_browser.sh          install what is missing and can be installed
#   tools/install_browser.sh --check  exit 1 (saying what) if anything is still missing
set -euo pipefail
cd "$(dirname "$0")/.."

# grep reads fc-list's whole output (no -q): with pipefail, a grep that quits at
# its first match leaves fc-list to die of SIGPIPE, and the pipeline then fails
# although the font is there (4 runs in 5 on a machine with fonts-noto-cjk).
have_font() { fc-list 2>/dev/null | grep -i "CJK\|IPAex\|Noto Sans JP" >/dev/null; }

if [ "${1:-}" = "--check" ]; then
  still=()
  [ -n "${CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || still+=(chromium)
  have_font || still+=("a Japanese font (fonts-noto-cjk)")
  [ -f node_modules/axe-core/axe.min.js ] || still+=("axe-core (npm ci)")
  if [ ${#still[@]} -gt 0 ]; then
    echo "browser tests will skip: missing ${still[*]}; the next make test tries again" >&2
    exit 1
  fi
  exit 0
fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
have_font || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: ${missing[*]} missing and not installable here (needs root and apt-get)" >&2
  fi
fi

if command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund
else
  echo "warning: npm not found; axe-core is missing and the accessibility test will skip" >&2
fi
