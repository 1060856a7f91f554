"""The security headers every HTML page is sent with: no framing, no referrer, and a
Content-Security-Policy that allows only what the pages load from this origin.

Inline `<script>` and `<style>` elements of a page (the demo pages' editor set-up, an import
map) are allowed by their SHA-256, computed from the page itself, so a page edit cannot forget
to update the policy and nothing injected alongside would run.

Pages hosting a rich-text editor (the CKEditor 5 and TinyMCE demos) also allow inline styles,
which both editors set as they lay out their UI, and show an article's images from anywhere
(pasted from another site, or as data: and blob: URLs), which "Edit with Huajia" reads
(`fetch` of a data: or blob: URL; an image on another host is fetched by the server, from
`source_hosts`). Scripts stay this origin's on every page.
"""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_INLINE_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)

# Never framed by anyone (clickjacking); the embeddable panel is a script on the host page.
FRAMING = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def page_headers(html: str, *, editor: bool = False) -> dict[str, str]:
    """Headers for one HTML page: the framing and referrer rules and its CSP."""
    return {**FRAMING, "Content-Security-Policy": content_security_policy(html, editor)}


def content_security_policy(html: str, editor: bool = False) -> str:
    """Only this origin, plus the page's own inline scripts and styles by hash; an editor
    page's article images and inline styles (see above)."""
    scripts = " ".join(["'self'", *_hashes(_INLINE_SCRIPT, html)])
    # A hash in style-src makes browsers ignore 'unsafe-inline': editor pages get only the latter.
    own_styles = " ".join(["'self'", *_hashes(_INLINE_STYLE, html)])
    styles = "'self' 'unsafe-inline'" if editor else own_styles
    images = "'self' data: blob: https: http:" if editor else "'self' data: blob:"
    connect = "'self' data: blob:" if editor else "'self'"
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src {styles}",
            f"img-src {images}",
            "font-src 'self' data:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _hashes(element: re.Pattern[str], html: str) -> list[str]:
    return [_sha256(body) for body in dict.fromkeys(element.findall(html))]


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
