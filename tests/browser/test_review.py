"""Publishing review in the browser: an editor's images wait for a reviewer in the panel (shown
from the key-authenticated preview, not insertable); a reviewer approves one and rejects the
other on /review; the editor's open panel follows both decisions without a reload."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button, saved_key, screenshot
from tests.support.server import ServerProcess, huajia_command, start_huajia

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

REASON = "Shows a real brand's logo"


def create_key(data_dir: Path, name: str, role: str) -> str:
    created = huajia_command(["keys", "create", name, "--role", role], data_dir)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def review_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str, str]]:
    """A server where generated images wait for review, with an editor and a reviewer key."""
    data_dir = tmp_path_factory.mktemp("huajia-review")
    editor = create_key(data_dir, "editor-browser", "editor")
    reviewer = create_key(data_dir, "reviewer-browser", "reviewer")
    server = start_huajia(data_dir, tiny_model_dir, extra_env={"HUAJIA_REVIEW_REQUIRED": "1"})
    yield server, editor, reviewer
    server.stop()


def use_key(scope: Any, secret: str, button: str) -> None:
    field = scope.get_by_label("API key")
    expect(field).to_be_visible()
    field.fill(secret)
    scope.get_by_role("button", name=button).click()
    expect(field).to_be_hidden()


def generating(open_page: Any, server: ServerProcess, key: str, prompt: str, count: int) -> Any:
    """The embedded panel, signed in with `key`, generating `count` images of `prompt`."""
    editor = open_page(server.url + "/demo/panel")
    use_key(editor, key, "Save")
    editor.get_by_label("Prompt", exact=True).fill(prompt)
    editor.get_by_role("radio", name=str(count), exact=True).check()
    editor.get_by_role("button", name="Generate", exact=True).click()
    return editor


def test_editor_waits_for_the_reviewer_and_sees_each_decision_live(
    review_server: tuple[ServerProcess, str, str], open_page: Any
) -> None:
    server, editor_key, reviewer_key = review_server
    editor = generating(open_page, server, editor_key, "A tea house sign by a river", 2)

    first, second = result_button(editor, 1), result_button(editor, 2)
    expect(second).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    waiting = editor.locator("huajia-panel").get_by_text("Waiting for review")
    expect(waiting).to_have_count(2)
    # Neither can be chosen, so Insert stays off; each says why.
    for pick in (first, second):
        expect(pick).to_be_disabled()
        expect(pick).to_have_attribute("title", re.compile("once a reviewer approves it"))
    expect(editor.get_by_role("button", name="Insert", exact=True)).to_be_disabled()
    # The preview came through the API key (an object URL), and really decoded.
    previews = editor.locator("huajia-panel").locator(".result img")
    expect(previews.first).to_have_attribute("src", re.compile(r"^blob:"))
    editor.wait_for_function(
        """() => [...document.querySelector('huajia-panel').shadowRoot
              .querySelectorAll('.result img')]
              .every((img) => img.complete && img.naturalWidth > 0)"""
    )
    screenshot(editor, "30-panel-waiting-for-review")

    reviewer = open_page(server.url + "/review")
    use_key(reviewer, reviewer_key, "Use key")
    items = reviewer.locator(".review-item")
    expect(items).to_have_count(2)
    expect(reviewer.get_by_text("2 image(s) waiting")).to_be_visible()
    expect(items.first.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(items.first).to_contain_text("A tea house sign by a river")
    screenshot(reviewer, "31-review-queue")
    approved_id = items.nth(0).get_attribute("data-image-id")
    rejected_id = items.nth(1).get_attribute("data-image-id")
    assert approved_id and rejected_id and approved_id != rejected_id

    items.nth(0).get_by_role("checkbox").check()
    reviewer.get_by_role("button", name="Approve selected").click()
    expect(items).to_have_count(1)
    items.first.get_by_role("checkbox").check()
    reviewer.get_by_role("button", name="Reject selected").click()
    reviewer.get_by_role("button", name="Reject", exact=True).click()
    expect(reviewer.get_by_text("Give a reason to reject.")).to_be_visible()  # not sent
    expect(items).to_have_count(1)
    reviewer.get_by_label("Reason for rejecting").fill(REASON)
    reviewer.get_by_role("button", name="Reject", exact=True).click()
    expect(reviewer.get_by_text("Nothing waits for review.")).to_be_visible()
    expect(items).to_have_count(0)

    # The editor's panel, never reloaded, heard both decisions over its open event stream.
    panel = editor.locator("huajia-panel")
    expect(panel.get_by_text(f"Rejected: {REASON}")).to_be_visible(timeout=20_000)
    expect(waiting).to_have_count(0)
    expect(panel.locator(".result[data-review=rejected] img")).to_have_count(0)
    enabled = panel.locator(".result:not([data-review]) .pick")
    expect(enabled).to_have_count(1)
    expect(enabled).to_be_enabled()
    expect(enabled.locator("img")).to_have_attribute("src", re.compile("/generated-images/"))
    screenshot(editor, "32-panel-after-review")
    enabled.click()
    editor.get_by_role("button", name="Insert", exact=True).click()
    expect(editor.locator("#detail")).not_to_be_empty()
    detail = json.loads(editor.locator("#detail").text_content() or "{}")
    assert [image["id"] for image in detail["images"]] == [approved_id]
    assert httpx.get(detail["images"][0]["url"], timeout=10).status_code == 200

    # The web app's gallery (same browser, same saved key) tells the two apart as well.
    editor.goto(server.url + "/")
    gallery = editor.locator("huajia-gallery")
    expect(gallery.get_by_text(f"Rejected: {REASON}")).to_be_visible(timeout=20_000)
    cards = gallery.locator(".cards li")
    expect(cards).to_have_count(2)
    expect(gallery.locator(".cards li img")).to_have_count(1)
    expect(gallery.locator(".cards li img")).to_have_attribute(
        "src", re.compile("/generated-images/")
    )
    expect(gallery.get_by_role("link", name=re.compile("Download"))).to_have_count(1)


def test_the_review_page_refuses_an_editor_key(
    review_server: tuple[ServerProcess, str, str], open_page: Any
) -> None:
    server, editor_key, _ = review_server
    page = open_page(server.url + "/review")
    page.get_by_label("API key").fill(editor_key)
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_text("This API key may not review images")).to_be_visible()
    expect(page.get_by_role("button", name="Approve selected")).to_be_hidden()


def test_the_edit_tools_show_an_image_waiting_for_review(
    review_server: tuple[ServerProcess, str, str], open_page: Any
) -> None:
    server, editor_key, _ = review_server
    editor = generating(open_page, server, editor_key, "A paper lantern over a doorway", 1)
    expect(result_button(editor, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    panel = editor.locator("huajia-panel")
    expect(panel.get_by_text("Waiting for review")).to_have_count(1)

    panel.get_by_role("button", name=re.compile(r"^Edit: Image 1, seed")).click()
    shown = panel.locator("img[data-ref=editImage]")
    expect(shown).to_have_attribute("src", re.compile(r"^blob:"))
    editor.wait_for_function(
        """() => { const img = document.querySelector('huajia-panel').shadowRoot
              .querySelector('img[data-ref=editImage]');
              return img.complete && img.naturalWidth > 0; }"""
    )


def test_a_reviewer_signs_in_where_the_browser_holds_an_editor_key(
    review_server: tuple[ServerProcess, str, str], open_page: Any
) -> None:
    server, editor_key, reviewer_key = review_server
    page = open_page(server.url + "/review")
    page.evaluate(
        "([name, key]) => localStorage.setItem(name, key)",
        [f"huajia.apiKey:{server.url}", editor_key],
    )
    page.reload()
    expect(page.get_by_text("This API key may not review images")).to_be_visible()
    field = page.get_by_label("API key")
    expect(field).to_be_visible()

    field.fill("hj_not_a_key")
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_text("not valid")).to_be_visible()
    expect(field).to_be_visible()
    assert saved_key(page, server) == editor_key, "a refused key is never saved"

    field.fill(reviewer_key)
    page.get_by_role("button", name="Use key").click()
    expect(field).to_be_hidden()
    expect(page.get_by_role("button", name="Approve selected")).to_be_visible()
    assert saved_key(page, server) == reviewer_key
