"""Settings and prompts follow the editor: chosen in one browser, found in another."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

PROMPT = "A paper boat on a puddle after rain"


def test_a_new_browser_gets_the_last_settings_and_the_prompt_history(
    huajia: ServerProcess, open_page: Any
) -> None:
    first = open_page(huajia.url + "/demo/panel")
    style = first.get_by_label("Style", exact=True)
    expect(style.locator("option").nth(1)).to_be_attached()
    chosen = style.locator("option").nth(1).get_attribute("value")
    style.select_option(chosen)
    first.get_by_role("radio", name="2", exact=True).check()
    first.get_by_label("Prompt", exact=True).fill(PROMPT)
    first.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(first, 2)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    other = open_page(huajia.url + "/demo/panel")  # a fresh browser profile: nothing stored
    expect(other.get_by_label("Style", exact=True)).to_have_value(chosen or "")
    expect(other.get_by_role("radio", name="2", exact=True)).to_be_checked()
    panel = other.locator("huajia-panel")
    panel.get_by_text("Recent prompts").click()
    other.get_by_placeholder("Search your prompts").fill("paper boat")
    again = panel.get_by_role("button", name=PROMPT)
    expect(again).to_be_visible()
    again.click()

    expect(other.get_by_label("Prompt", exact=True)).to_have_value(PROMPT)
