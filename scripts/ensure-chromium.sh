#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; never a browser download.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "Chromium is missing: install Debian's 'chromium' package (sudo apt-get install chromium)" >&2
    echo "or the browser tests will be skipped." >&2
fi
