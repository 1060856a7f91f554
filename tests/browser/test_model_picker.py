"""The model picker, in real Chromium against a real `huajia serve` with two tiny models whose
forms differ: shown only when there is a choice, each model's sizes and limits shown, the
model picked is the one that runs, and the choice is remembered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button, screenshot
from tests.support.server import ServerProcess
from tests.support.two_models import SECOND, SECOND_MAX_SIZE, start_two_models

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def two_models(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ServerProcess]:  # fmt: skip
    server = start_two_models(tmp_path_factory.mktemp("huajia-browser-models"), tiny_model_dir,
                              tmp_path_factory.mktemp("models"))  # fmt: skip
    yield server
    server.stop()


def size_options(page: Any) -> list[str]:
    return list(page.locator("select[name=size] option").all_text_contents())


def test_pick_the_second_model_generate_and_the_result_says_that_model(
    two_models: ServerProcess, open_page: Any
) -> None:
    page = open_page(two_models.url + "/")
    picker = page.get_by_label("Model", exact=True)
    expect(picker).to_be_visible()
    expect(picker).to_have_value("tiny")
    assert picker.locator("option").all_text_contents() == ["tiny", SECOND]
    expect(page.get_by_text("Sizes 64–1024 px")).to_be_visible()
    default_sizes = size_options(page)

    picker.select_option(SECOND)
    expect(page.get_by_text(f"Sizes 64–{SECOND_MAX_SIZE} px · up to 6 steps")).to_be_visible()
    sizes = size_options(page)
    assert sizes != default_sizes, "the size presets are tiny-b's own"
    for label in sizes[:-1]:  # the last one is "Custom size"
        width, height = label.rsplit("(", 1)[1].rstrip(")").split("×")
        assert max(int(width), int(height)) <= SECOND_MAX_SIZE, label
    screenshot(page, "model-picker-second-model")

    page.get_by_label("Prompt", exact=True).fill("A lantern on a quiet river")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/generate") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="Generate", exact=True).click()
    assert answer.value.request.post_data_json["model"] == SECOND
    task = answer.value.json()["task_id"]
    expect(result_button(page, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    result = httpx.get(f"{two_models.url}/api/v1/tasks/{task}/result", timeout=10).json()
    assert result["parameters"]["model"] == SECOND
    assert max(result["images"][0]["width"], result["images"][0]["height"]) <= SECOND_MAX_SIZE

    page.reload()  # the choice is remembered, with its form
    expect(page.get_by_label("Model", exact=True)).to_have_value(SECOND)
    expect(page.get_by_text(f"Sizes 64–{SECOND_MAX_SIZE} px")).to_be_visible()


def test_the_embeddable_panel_offers_the_models_and_remembers_the_choice_per_editor(
    two_models: ServerProcess, open_page: Any
) -> None:
    """A new browser (no local storage) gets the choice back from the service's copy."""
    saved = httpx.put(f"{two_models.url}/api/v1/me/prefs", json={"model": SECOND}, timeout=10)
    assert saved.status_code == 200, saved.text
    page = open_page(two_models.url + "/demo/panel", locale="zh-CN")
    picker = page.get_by_label("模型", exact=True)
    expect(picker).to_have_value(SECOND)
    expect(page.get_by_text(f"尺寸 64–{SECOND_MAX_SIZE} 像素")).to_be_visible()
    picker.select_option("tiny")
    expect(page.get_by_text("尺寸 64–1024 像素")).to_be_visible()


def test_one_model_served_shows_no_picker(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/demo/panel")
    expect(page.get_by_label("Prompt", exact=True)).to_be_visible()
    expect(page.locator("huajia-panel select[name=size] option").first).to_be_attached()
    expect(page.get_by_label("Model", exact=True)).to_be_hidden()
