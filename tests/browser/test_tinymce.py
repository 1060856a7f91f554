"""The TinyMCE plugin in /demo/tinymce: toolbar button, Huajia panel, figures, one undo step."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button, screenshot
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

FIGURE = re.compile(r'<figure class="image">\s*<img([^>]*)>\s*<figcaption>([^<]*)</figcaption>')


def open_editor(open_page: Any, url: str, locale: str) -> Any:
    page = open_page(url, locale=locale)
    if page.get_by_role("heading", name="TinyMCE is not installed").count():
        pytest.skip("TinyMCE is not installed: npm ci --prefix integrations/tinymce")
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached()
    return page


def content(page: Any) -> str:
    return str(page.evaluate("editor.getContent()"))


def test_toolbar_button_inserts_figures_with_alt_and_caption_in_one_undo_step(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_editor(open_page, huajia.url + "/demo/tinymce?lang=en", "en-US")
    before = content(page)
    page.get_by_role("button", name="Generate an image with Huajia").click()
    dialog = page.get_by_role("dialog", name="Generate image")
    expect(dialog).to_be_visible()
    prompt = dialog.get_by_label("Prompt", exact=True)
    expect(prompt).to_be_focused()
    prompt.fill("A red lighthouse on a cliff at dawn")
    dialog.get_by_role("radio", name="2", exact=True).check()
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(dialog, 2)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    result_button(dialog, 1).click()
    result_button(dialog, 2).click()
    dialog.get_by_label("Alt text").fill('Red "lighthouse" at dawn')
    dialog.get_by_label("Caption (optional)").fill("Generated with Huajia")
    screenshot(page, "50-tinymce-panel")
    dialog.get_by_role("button", name="Insert", exact=True).click()
    expect(dialog).to_be_hidden()

    after = content(page)
    figures = FIGURE.findall(after)
    assert len(figures) == 2, after
    for attributes, caption in figures:
        assert 'alt="Red &quot;lighthouse&quot; at dawn"' in attributes, attributes
        assert re.search(r'data-huajia-image-id="[^"]+"', attributes), attributes
        assert re.search(r'width="\d+" height="\d+"', attributes), attributes
        assert caption == "Generated with Huajia"
        src = re.search(r'src="(http://127\.0\.0\.1:\d+/generated-images/[^"]+)"', attributes)
        assert src is not None, attributes
        image = httpx.get(src.group(1), timeout=10)
        assert image.status_code == 200
        assert image.headers["content-type"].startswith("image/")
    screenshot(page, "51-tinymce-inserted")

    # One undo (the editor's own shortcut, in its iframe) takes both figures out again.
    page.frame_locator("iframe").locator("body").click()
    page.keyboard.press("Control+z")
    assert "<figure" not in content(page)
    assert content(page) == before


def test_labels_follow_the_editors_language_and_the_menu_opens_the_panel(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_editor(open_page, huajia.url + "/demo/tinymce?lang=zh-CN", "zh-CN")
    expect(page.get_by_role("button", name="用画架 AI 生成图片")).to_be_visible()
    page.get_by_role("menuitem", name="Insert").click()
    page.get_by_role("menuitem", name="AI 图片").click()
    dialog = page.get_by_role("dialog", name="AI 生成图片")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("画面描述")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
