"""<huajia-panel> embedded in a CMS page on another origin (CORS): download, removal."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import (
    RESULT_TIMEOUT_MS,
    expect_a_step_done,
    result_button,
    slow_task,
    task_id,
)
from tests.support.server import ServerProcess, free_port, start_huajia

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

CMS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>CMS</title>
<script type="module" src="{huajia}/static/panel/huajia-panel.js"></script></head>
<body><label>Article <textarea id="article"></textarea></label>
<huajia-panel endpoint="{huajia}" lang="en"></huajia-panel></body></html>"""


@dataclass
class Cms:
    """A CMS on its own origin (another port) embedding the panel of a Huajia server."""

    url: str
    huajia: ServerProcess


@pytest.fixture(scope="module")
def cms(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cms]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = start_huajia(
        tmp_path_factory.mktemp("huajia-cors"),
        tiny_model_dir,
        {"HUAJIA_CORS_ORIGINS": json.dumps([origin])},
    )
    page = CMS_PAGE.format(huajia=server.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield Cms(f"{origin}/editor", server)
    httpd.shutdown()
    httpd.server_close()
    server.stop()


def open_cms(open_page: Any, cms: Cms) -> Any:
    page = open_page(cms.url)
    expect(page.get_by_label("Size")).not_to_have_value("")  # the panel loaded across origins
    return page


def is_event_stream(request: Any) -> bool:
    """The task's event stream (with or without `?previews=true`)."""
    return urlsplit(request.url).path.endswith("/events")


def test_download_saves_the_file_and_keeps_the_editor_page(cms: Cms, open_page: Any) -> None:
    page = open_cms(open_page, cms)
    sent: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.headers)
            if request.method == "POST" and request.url.endswith("/api/v1/generate")
            else None
        ),
    )
    page.get_by_label("Article").fill("Unsaved draft of my article")
    page.get_by_label("Prompt", exact=True).fill("A tea house in the mountains")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(page, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    link = page.get_by_role("link", name=re.compile(r"^Download Image 1, seed"))
    expect(link).to_have_attribute("href", re.compile(r"\?download=1$"))
    with page.expect_download() as download_info:
        link.click()
    assert download_info.value.suggested_filename.startswith("huajia-")
    # The editor page was not navigated away: the unsaved text is still there.
    assert page.url == cms.url
    expect(page.get_by_label("Article")).to_have_value("Unsaved draft of my article")
    # The request carried a fresh Idempotency-Key across origins (CORS allows the header).
    assert len(sent) == 1 and sent[0].get("idempotency-key"), sent


def test_removing_the_panel_closes_its_event_stream(cms: Cms, open_page: Any) -> None:
    page = open_cms(open_page, cms)
    page.get_by_label("Prompt", exact=True).fill("A slow, very detailed harbour map")
    slow_task(page, width="Width", height="Height", steps="Steps", advanced="Advanced")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect_a_step_done(page)
    running = task_id(page)
    assert running is not None
    try:
        with page.expect_event("requestfailed", predicate=is_event_stream):
            page.evaluate("document.querySelector('huajia-panel').remove()")
    finally:
        httpx.post(f"{cms.huajia.url}/api/v1/tasks/{running}/cancel", timeout=10)
