#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; never a browser download.
# A CJK font makes the zh-CN interface legible in the tests' screenshots; Noto CJK is the
# font text overlays (huajia.edits) draw Chinese with. exiftool checks, as a third-party
# reader, the AI labels (TC260 / IPTC XMP) Huajia writes into every image. nginx checks and
# runs the shipped deploy/nginx/huajia.conf in front of a real `huajia serve`.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/truetype/wqy ] || missing+=(fonts-wqy-zenhei)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
command -v exiftool >/dev/null || missing+=(libimage-exiftool-perl)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]});" >&2
    echo "without chromium the browser tests are skipped, without exiftool its label checks," >&2
    echo "without nginx the deploy/nginx checks." >&2
fi
