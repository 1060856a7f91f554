"""Every HTML page refuses to be framed, sends no referrer and runs under a CSP it satisfies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

PAGES = {
    "/": "Prompt",
    "/review": None,
    "/admin/presets": None,
    "/batches": None,
    "/demo/panel": None,
    "/demo/ckeditor": None,
    "/demo/tinymce": None,
}


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_is_sent_with_the_framing_referrer_and_content_policies(
    huajia: ServerProcess, path: str
) -> None:
    reply = httpx.get(huajia.url + path, timeout=10)
    assert reply.status_code == 200, "the demo editors are installed for the browser tests"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    policy = [part.strip() for part in reply.headers["Content-Security-Policy"].split(";")]
    for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert directive in policy
    sources = {part.split()[0]: part.split()[1:] for part in policy}
    assert "'unsafe-inline'" not in sources["script-src"]
    assert "'unsafe-eval'" not in sources["script-src"]
    editor = path in ("/demo/ckeditor", "/demo/tinymce")  # an article's images: see below
    assert sources["connect-src"] == (["'self'", "data:", "blob:"] if editor else ["'self'"])
    assert sources["default-src"] == ["'self'"]


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_works_under_its_policy(
    huajia: ServerProcess, open_page: Any, path: str
) -> None:
    # open_page fails the test on any script error or anything the policy refuses.
    page = open_page(huajia.url + path)
    page.wait_for_load_state("networkidle")
    if path == "/demo/ckeditor":
        expect(page.locator(".ck-editor__editable")).to_be_visible()
    if path == "/demo/tinymce":
        expect(page.locator("body[data-editor-ready=true]")).to_be_attached(timeout=15_000)
    if path in ("/", "/demo/panel"):
        expect(page.get_by_label("Prompt", exact=True)).to_be_visible()


@contextmanager
def attacker_site(html: str) -> Iterator[str]:
    """Another origin (its own port) serving one page, as a site luring a signed-in user."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_cannot_frame_the_review_page(
    huajia: ServerProcess, browser: Any
) -> None:
    lure = (
        f'<h1>Win a prize</h1><iframe src="{huajia.url}/review" width="800" height="600">'
        f'</iframe><iframe src="{huajia.url}/static/app/review.css"></iframe>'
    )
    context = browser.new_context()
    refusals: list[str] = []
    with attacker_site(lure) as url:
        page = context.new_page()
        page.on("console", lambda message: refusals.append(message.text))
        page.goto(url)
        page.wait_for_load_state("networkidle")
        frames = [frame for frame in page.frames if frame != page.main_frame]
        # The control: a file sent without the headers does load in a frame from there, so
        # the page's refusal below is the headers' doing.
        control = [frame for frame in frames if frame.url.endswith("/static/app/review.css")]
        assert control and "{" in control[0].content()
        framed = [frame for frame in frames if frame not in control]
        assert len(framed) == 1
        assert not framed[0].url.startswith(huajia.url), f"framed: {framed[0].url}"
        assert framed[0].evaluate("document.querySelectorAll('main, form, button').length") == 0
        assert any("frame-ancestors 'none'" in text for text in refusals)
    context.close()


TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DA"
    "wMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("path", ["/demo/ckeditor", "/demo/tinymce"])
def test_an_editor_page_shows_and_reads_an_articles_data_and_blob_images(
    huajia: ServerProcess, open_page: Any, path: str
) -> None:
    """An article's pasted images (data: and blob: URLs) show, and "Edit with Huajia" can
    read their bytes (a fetch of the URL), under the editor pages' policy."""
    page = open_page(huajia.url + path)
    page.wait_for_load_state("networkidle")
    read = page.evaluate(
        """async (dataUrl) => {
            const shown = async (src) => {
                const image = new Image();
                image.src = src;
                await image.decode();
                return image.naturalWidth;
            };
            const bytes = await (await fetch(dataUrl)).blob();
            const blobUrl = URL.createObjectURL(bytes);
            const again = await (await fetch(blobUrl)).blob();
            return [await shown(dataUrl), await shown(blobUrl), bytes.size, again.size];
        }""",
        TINY_PNG,
    )
    assert read[0] == read[1] == 2
    assert read[2] == read[3] > 0
