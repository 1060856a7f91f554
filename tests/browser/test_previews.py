"""Live previews in the panel: while a generation runs, its placeholders in the results show
small pictures of the images as they form; the real images replace them on completion.

The panel's DOM states are recorded by a MutationObserver from the first moment, so the
order (a preview shown, then the final images) is read afterwards, not raced by polling.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button, screenshot
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

RECORD_STATES = """() => {
  window.__states = [];
  const root = document.querySelector('huajia-panel').shadowRoot;
  const note = () => {
    const previews = [...root.querySelectorAll('.previews img')]
      .filter((img) => !img.hidden && img.src.startsWith('data:image/webp'));
    const finals = [...root.querySelectorAll('.grid .pick img')]
      .filter((img) => img.src.includes('/generated-images/'));
    const last = window.__states.at(-1);
    const state = `previews=${previews.length} finals=${finals.length}`;
    if (last !== state) window.__states.push(state);
  };
  new MutationObserver(note).observe(root, {subtree: true, childList: true, attributes: true});
}"""


def test_the_grid_shows_previews_before_the_final_images(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/demo/panel")
    page.get_by_label("Prompt", exact=True).fill("an ink wash mountain at dawn")
    page.get_by_role("radio", name="2", exact=True).check()
    page.locator("huajia-panel select[name=size]").select_option("custom")
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_text("Advanced").click()
    page.get_by_label("Steps").fill("30")  # many steps: a preview every 2 of them
    page.evaluate(RECORD_STATES)

    page.get_by_role("button", name="Generate", exact=True).click()
    preview = page.get_by_role("img", name="Preview of image 1, step", exact=False)
    expect(preview).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    screenshot(page, "30-panel-live-preview")
    expect(result_button(page, 2)).to_be_visible(timeout=RESULT_TIMEOUT_MS)

    states: list[str] = page.evaluate("window.__states")
    shown = [i for i, state in enumerate(states) if not state.startswith("previews=0")]
    final = [i for i, state in enumerate(states) if state.endswith("finals=2")]
    assert shown and final, states
    assert shown[0] < final[0], f"a preview before the final images: {states}"
    assert states[-1] == "previews=0 finals=2", "the real images replaced the placeholders"
    expect(page.locator("huajia-panel .previews")).to_be_hidden()
