"""The built-in web app at `/`: generate with live progress, select, download; languages; memory."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import Image

from tests.browser.conftest import (
    RESULT_TIMEOUT_MS,
    expect_a_step_done,
    record_progress,
    result_button,
    screenshot,
)
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


def test_generate_shows_each_step_then_select_and_download(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/")
    page.get_by_label("Prompt", exact=True).fill("A lighthouse on a cliff at dawn, soft mist")
    page.get_by_label("Size").select_option("custom")
    page.get_by_label("Width").fill("512")
    page.get_by_label("Height").fill("512")
    page.get_by_role("radio", name="2", exact=True).check()
    page.get_by_text("Advanced").click()
    page.get_by_label("Steps").fill("16")
    screenshot(page, "01-app-form")
    record_progress(page)

    page.get_by_role("button", name="Generate", exact=True).click()
    expect_a_step_done(page)
    screenshot(page, "02-app-progress")
    expect(result_button(page, 2)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_role("status").first).to_have_text("Done: 2 image(s)")

    steps = page.evaluate("window.__steps")
    seen = sorted({step for step, _total in steps})
    assert len(seen) >= 3, f"expected several distinct steps announced, got {steps}"
    assert seen[-1] == steps[-1][1], "the last step shown should be the last of the task"

    result_button(page, 2).click()
    expect(result_button(page, 2)).to_have_attribute("aria-pressed", "true")
    expect(result_button(page, 1)).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_text("1 selected")).to_be_visible()
    screenshot(page, "03-app-results-selected")

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile(r"^Download Image 2, seed")).click()
    data = download_info.value.path().read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (512, 512)


def test_chinese_browser_gets_chinese_and_can_switch_to_english(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/", locale="zh-CN")
    expect(page.get_by_role("button", name="生成", exact=True)).to_be_visible()
    expect(page.get_by_label("画面描述")).to_be_visible()
    expect(page.get_by_role("heading", name="我的图片")).to_be_visible()
    screenshot(page, "04-app-zh-CN")

    page.get_by_label("语言").select_option("en")
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="My images")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_visible()


def test_remembers_style_count_and_size_and_lists_the_image_in_the_gallery(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/")
    prompt = "Watercolour fox reading a newspaper"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    style = page.get_by_label("Style", exact=True)
    expect(style.locator("option")).not_to_have_count(1)  # presets arrived from the service
    style_name = style.locator("option").nth(2).get_attribute("value")
    style.select_option(style_name)
    page.get_by_label("Size").select_option("banner")
    page.get_by_role("radio", name="4", exact=True).check()
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(page, 4)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    gallery = page.locator("huajia-gallery")
    expect(gallery.get_by_role("img", name=prompt)).to_have_count(4)
    gallery.get_by_label("Search prompts").fill("no such picture anywhere")
    expect(gallery.get_by_role("img", name=prompt)).to_have_count(0)
    gallery.get_by_label("Search prompts").fill("fox")
    expect(gallery.get_by_role("img", name=prompt)).to_have_count(4)
    star = gallery.get_by_role("button", name=f"Favourite: {prompt}").first
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    # Each download link says which image it saves, and saves it without leaving the page.
    downloads = gallery.get_by_role("link", name=f"Download: {prompt}")
    expect(downloads).to_have_count(4)
    expect(downloads.first).to_have_attribute("href", re.compile(r"\?download=1$"))
    gallery.get_by_label("Favourites only").check()
    expect(gallery.get_by_role("img", name=prompt)).to_have_count(1)
    screenshot(page, "05-app-gallery")

    page.reload()
    expect(page.get_by_label("Style", exact=True)).to_have_value(style_name or "")
    expect(page.get_by_label("Size")).to_have_value("banner")
    expect(page.get_by_role("radio", name="4", exact=True)).to_be_checked()


def test_keyboard_only_generate_and_select(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/demo/panel")
    prompt = page.get_by_label("Prompt", exact=True)
    expect(page.get_by_label("Size")).not_to_have_value("")  # presets have arrived
    prompt.focus()
    page.keyboard.type("A quiet bamboo forest after rain")
    page.keyboard.press("Control+Enter")
    expect(result_button(page, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    # One image comes back selected; Tab reaches it and Space toggles it off and on again.
    first = result_button(page, 1)
    expect(first).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Regenerate").focus()
    page.keyboard.press("Tab")
    expect(first).to_be_focused()
    page.keyboard.press("Space")
    expect(first).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_role("button", name="Insert", exact=True)).to_be_disabled()
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Insert", exact=True)).to_be_enabled()
