"""The CKEditor 5 plugin in /demo/ckeditor: generate, pick, edit alt text, insert a figure."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import (
    RESULT_TIMEOUT_MS,
    expect_a_step_done,
    result_button,
    screenshot,
    slow_task,
    task_id,
    wait_for_state,
)
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


def open_editor(open_page: Any, url: str, locale: str) -> Any:
    page = open_page(url, locale=locale)
    if page.get_by_role("heading", name="CKEditor 5 is not installed").count():
        pytest.skip("CKEditor 5 is not installed: npm ci --prefix integrations/ckeditor5")
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached()
    return page


def is_event_stream(request: Any) -> bool:
    """The task's event stream (with or without `?previews=true`)."""
    return urlsplit(request.url).path.endswith("/events")


def test_toolbar_button_generates_and_inserts_an_image_figure_with_alt_text(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_editor(open_page, huajia.url + "/demo/ckeditor?lang=en", "en-US")
    page.get_by_role("button", name="Generate image").click()
    dialog = page.get_by_role("dialog", name="Generate image")
    expect(dialog).to_be_visible()
    prompt = dialog.get_by_label("Prompt", exact=True)
    expect(prompt).to_be_focused()
    prompt.fill("A red lighthouse on a cliff at dawn")
    dialog.get_by_role("radio", name="2", exact=True).check()
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(dialog, 2)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    alt = dialog.get_by_label("Alt text")
    expect(alt).to_have_value("A red lighthouse on a cliff at dawn")
    insert = dialog.get_by_role("button", name="Insert", exact=True)
    expect(insert).to_be_disabled()
    result_button(dialog, 2).click()
    alt.fill("Red lighthouse at dawn")
    dialog.get_by_label("Caption (optional)").fill("Generated with Huajia")
    screenshot(page, "06-ckeditor-panel")
    insert.click()

    expect(dialog).to_be_hidden()
    data = page.evaluate("editor.getData()")
    assert re.search(r'<figure class="image">\s*<img[^>]+alt="Red lighthouse at dawn"', data), data
    assert re.search(r'src="http://127\.0\.0\.1:\d+/generated-images/\d{8}/[^"]+"', data), data
    assert "<figcaption>Generated with Huajia</figcaption>" in data, data
    screenshot(page, "07-ckeditor-inserted")


def test_closing_in_chinese_while_generating_offers_to_cancel(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_editor(open_page, huajia.url + "/demo/ckeditor?lang=zh-CN", "zh-CN")
    page.get_by_role("button", name="AI 生成图片").click()
    dialog = page.get_by_role("dialog", name="AI 生成图片")
    dialog.get_by_label("画面描述").fill("夜晚的城市街道，霓虹灯")
    slow_task(dialog, width="宽度", height="高度", steps="步数", advanced="高级选项")
    dialog.get_by_role("button", name="生成", exact=True).click()
    expect_a_step_done(dialog)
    running = task_id(page)
    assert running is not None

    page.keyboard.press("Escape")
    offer = dialog.get_by_role("button", name="取消生成并关闭")
    expect(offer).to_be_visible()
    expect(offer).to_be_focused()
    screenshot(page, "08-ckeditor-close-offers-cancel-zh")
    offer.click()
    expect(dialog).to_be_hidden()
    assert wait_for_state(huajia, running) == "canceled"


def test_destroying_the_editor_while_generating_closes_the_panels_event_stream(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_editor(open_page, huajia.url + "/demo/ckeditor?lang=en", "en-US")
    page.get_by_role("button", name="Generate image").click()
    dialog = page.get_by_role("dialog", name="Generate image")
    dialog.get_by_label("Prompt", exact=True).fill("A slow, very detailed harbour map")
    slow_task(dialog, width="Width", height="Height", steps="Steps", advanced="Advanced")
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect_a_step_done(dialog)
    running = task_id(page)
    assert running is not None
    try:
        with page.expect_event("requestfailed", predicate=is_event_stream):
            page.evaluate("editor.destroy()")  # raises if the returned promise rejects
    finally:
        httpx.post(f"{huajia.url}/api/v1/tasks/{running}/cancel", timeout=10)

    # The panel and its modal dialog are gone, and nothing of the page is left inert.
    expect(page.locator("huajia-panel")).to_have_count(0)
    expect(page.locator("dialog")).to_have_count(0)
    assert page.evaluate("document.querySelector(':modal, [inert]')") is None
    # The page still works: a new editor on it opens the panel again, ready for a prompt.
    page.evaluate(
        """async () => {
          const { ClassicEditor, Essentials, Paragraph, Image } = await import('ckeditor5');
          const { HuajiaImageGenerator } = await import('/integrations/ckeditor5/src/index.js');
          window.editor = await ClassicEditor.create(document.querySelector('#editor'), {
            licenseKey: 'GPL', plugins: [Essentials, Paragraph, Image, HuajiaImageGenerator],
            toolbar: ['huajiaGenerateImage'], huajia: { endpoint: location.origin },
          });
        }"""
    )
    page.get_by_role("button", name="Generate image").click()
    dialog = page.get_by_role("dialog", name="Generate image")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Prompt", exact=True)).to_be_focused()
    expect(dialog.get_by_role("button", name="Generate", exact=True)).to_be_enabled()


def test_the_plugin_brings_the_block_image_it_inserts_into(
    huajia: ServerProcess, open_page: Any
) -> None:
    """An editor configured without the Image plugin still gets figures (the plugin requires
    the block image's editing part), and labels follow the editor's translations."""
    page = open_editor(open_page, huajia.url + "/demo/ckeditor?lang=en", "en-US")
    data = page.evaluate(
        """async () => {
          await window.editor.destroy();
          const { ClassicEditor, Essentials, Paragraph } = await import('ckeditor5');
          const { HuajiaImageGenerator } = await import('/integrations/ckeditor5/src/index.js');
          window.editor = await ClassicEditor.create(document.querySelector('#editor'), {
            licenseKey: 'GPL', plugins: [Essentials, Paragraph, HuajiaImageGenerator],
            toolbar: ['huajiaGenerateImage'], huajia: { endpoint: location.origin },
            translations: [{ en: { dictionary: { 'Generate image': 'Make a picture' } } }],
          });
          editor.plugins.get('HuajiaImageGenerator').insertImages({ caption: '', images: [
            { url: '/static/app/favicon.svg', width: 64, height: 64, alt: 'A tiny icon' }] });
          return editor.getData();
        }"""
    )
    assert re.search(r'<figure class="image">\s*<img[^>]+alt="A tiny icon"', data), data
    expect(page.get_by_role("button", name="Make a picture")).to_be_visible()
