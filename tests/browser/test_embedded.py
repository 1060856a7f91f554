"""<huajia-panel> embedded in a CMS page on another origin (CORS): download, removal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    RESULT_TIMEOUT_MS,
    expect_a_step_done,
    result_button,
    slow_task,
    task_id,
)
from tests.support.server import ServerProcess, start_huajia

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

CMS = "http://cms.test"


@pytest.fixture(scope="module")
def cors_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[ServerProcess]:  # fmt: skip
    server = start_huajia(
        tmp_path_factory.mktemp("huajia-cors"),
        tiny_model_dir,
        {"HUAJIA_CORS_ORIGINS": json.dumps([CMS])},
    )
    yield server
    server.stop()


def open_cms(open_page: Any, server: ServerProcess) -> Any:
    """A CMS editor page on its own origin (served by the browser's router, not by Huajia)."""
    page = open_page("about:blank")
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>CMS</title>
      <script type="module" src="{server.url}/static/panel/huajia-panel.js"></script></head>
      <body><label>Article <textarea id="article"></textarea></label>
      <huajia-panel endpoint="{server.url}" lang="en"></huajia-panel></body></html>"""
    page.route(f"{CMS}/**", lambda route: route.fulfill(content_type="text/html", body=html))
    page.goto(f"{CMS}/editor")
    return page


def test_download_saves_the_file_and_keeps_the_editor_page(
    cors_server: ServerProcess, open_page: Any
) -> None:
    page = open_cms(open_page, cors_server)
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
    assert page.url == f"{CMS}/editor"
    expect(page.get_by_label("Article")).to_have_value("Unsaved draft of my article")
    # Not a secure context (no crypto.randomUUID): the request still carried a fresh key.
    assert len(sent) == 1 and sent[0].get("idempotency-key"), sent


def test_removing_the_panel_closes_its_event_stream(
    cors_server: ServerProcess, open_page: Any
) -> None:
    page = open_cms(open_page, cors_server)
    page.get_by_label("Prompt", exact=True).fill("A slow, very detailed harbour map")
    slow_task(page, width="Width", height="Height", steps="Steps", advanced="Advanced")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect_a_step_done(page)
    running = task_id(page)
    assert running is not None
    try:
        with page.expect_event(
            "requestfailed", predicate=lambda request: request.url.endswith("/events")
        ):
            page.evaluate("document.querySelector('huajia-panel').remove()")
    finally:
        httpx.post(f"{cors_server.url}/api/v1/tasks/{running}/cancel", timeout=10)
