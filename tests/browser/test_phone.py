"""Phones: the web app, the embedded panel, batches and review in a 390 × 844 touch viewport
(Chromium's mobile emulation): nothing scrolls sideways, every control is a 44 px touch target,
and a generation runs by tapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, SCREENSHOTS, result_button
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

WIDTH = 390
PHONE = {
    "viewport": {"width": WIDTH, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
TARGET_PX = 44  # WCAG 2.5.5's and the platforms' smallest comfortable touch target

# Every control in the page and in every open shadow root that is rendered, with the box a
# finger has to hit: a radio's or checkbox's label when it has one (tapping it toggles it).
SMALL_TARGETS = """(least) => {
  const small = [];
  const visit = (root) => {
    for (const node of root.querySelectorAll('*')) {
      if (node.shadowRoot) visit(node.shadowRoot);
      if (!node.matches('button, select, input, textarea, summary, a[href]')) continue;
      const hit = node.matches('input[type=radio], input[type=checkbox]')
        ? node.closest('label') || node : node;
      const box = hit.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(hit).visibility === 'hidden') {
        continue;
      }
      if (box.width < least || box.height < least) {
        const name = node.getAttribute('aria-label') || node.textContent.trim().slice(0, 30);
        const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
        small.push(`${node.tagName.toLowerCase()} "${name}" ${size}`);
      }
    }
  };
  visit(document);
  return small;
}"""

# Elements (in the page and in open shadow roots) that reach past the right edge.
TOO_WIDE = """(width) => {
  const wide = [];
  const visit = (root) => {
    for (const node of root.querySelectorAll('*')) {
      if (node.shadowRoot) visit(node.shadowRoot);
      const box = node.getBoundingClientRect();
      if (box.width > 0 && box.right > width + 0.5) {
        wide.push(`${node.tagName.toLowerCase()}.${node.className} right=${Math.round(box.right)}`);
      }
    }
  };
  visit(document);
  return wide.slice(0, 12);
}"""


def assert_fits_a_phone(page: Any) -> None:
    """No sideways scrolling and no control smaller than a fingertip."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= WIDTH, (scroll_width, page.evaluate(TOO_WIDE, WIDTH))
    assert page.evaluate(SMALL_TARGETS, TARGET_PX) == []


def assert_tall_enough(control: Any) -> None:
    expect(control).to_be_visible()
    box = control.bounding_box()
    assert box is not None and box["height"] >= TARGET_PX, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box


def phone_screenshot(page: Any, name: str, at: Any = None) -> None:
    """What the phone's screen shows (scrolled to `at`, a locator, if given).

    Not a full-page capture: Chromium lays the page out again for it, and the picture would
    not be what a phone shows.
    """
    if at is not None:
        at.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"50-phone-{name}.png"))


def count_chip(page: Any, count: int) -> Any:
    """The visible label a finger taps to choose a count (the radio inside is transparent)."""
    return page.locator("huajia-panel label.chip").filter(
        has=page.get_by_role("radio", name=str(count), exact=True)
    )


def generate_by_tapping(page: Any, prompt: str, count: int) -> None:
    page.get_by_label("Prompt", exact=True).tap()
    page.get_by_label("Prompt", exact=True).fill(prompt)
    count_chip(page, count).tap()
    expect(page.get_by_role("radio", name=str(count), exact=True)).to_be_checked()
    page.get_by_role("button", name="Generate", exact=True).tap()
    expect(result_button(page, count)).to_be_visible(timeout=RESULT_TIMEOUT_MS)


def assert_within_the_width(images: Any) -> None:
    assert images.count() > 0
    for index in range(images.count()):
        box = images.nth(index).bounding_box()
        assert box is not None and box["width"] > 0, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box


def test_the_web_app_fits_a_phone_and_generates_by_tapping(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/", **PHONE)
    assert page.evaluate("matchMedia('(pointer: coarse)').matches") is True
    expect(page.get_by_label("Style", exact=True).locator("option")).not_to_have_count(1)
    for control in (
        page.get_by_label("Prompt", exact=True),
        page.get_by_label("Style", exact=True),
        page.get_by_label("Size"),
        count_chip(page, 1),
        count_chip(page, 4),
        page.get_by_role("button", name="Generate", exact=True),
    ):
        assert_tall_enough(control)
    assert_fits_a_phone(page)
    phone_screenshot(page, "app-form")

    prompt = "Phone test: a paper boat on a puddle"
    generate_by_tapping(page, prompt, 2)
    assert_within_the_width(page.locator("huajia-panel .grid img"))
    assert_fits_a_phone(page)
    phone_screenshot(page, "app-results", at=page.locator("huajia-panel .grid"))

    gallery = page.locator("huajia-gallery")
    expect(gallery.get_by_role("img", name=prompt)).to_have_count(2)
    assert_within_the_width(gallery.get_by_role("img", name=prompt))
    assert_fits_a_phone(page)
    phone_screenshot(page, "gallery", at=gallery.get_by_role("img", name=prompt).first)

    gallery.get_by_role("button", name=f"Details: {prompt}").first.tap()
    dialog = page.get_by_role("dialog", name="Image details")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
    assert_fits_a_phone(page)
    phone_screenshot(page, "detail")
    dialog.get_by_role("button", name="Close").tap()
    expect(dialog).to_be_hidden()


def test_the_embedded_panel_inserts_by_tapping_on_a_phone(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/demo/panel", **PHONE)
    expect(page.get_by_label("Size")).not_to_have_value("")  # presets have arrived
    prompt = "Phone test: a lantern in the snow"
    generate_by_tapping(page, prompt, 1)
    insert = page.get_by_role("button", name="Insert", exact=True)
    assert_tall_enough(insert)
    assert_within_the_width(page.locator("huajia-panel .grid img"))
    assert_fits_a_phone(page)
    phone_screenshot(page, "panel-results", at=insert)

    expect(result_button(page, 1)).to_have_attribute("aria-pressed", "true")
    insert.tap()
    expect(page.locator("#detail")).not_to_be_empty()
    detail = json.loads(page.locator("#detail").text_content() or "{}")
    assert detail["prompt"] == prompt and len(detail["images"]) == 1
    assert_fits_a_phone(page)


def test_a_batch_runs_from_a_phone(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/batches", **PHONE)
    assert_fits_a_phone(page)
    lines = page.get_by_label("Or one prompt per line")
    lines.tap()
    lines.fill(
        "Phone batch: a red umbrella in the rain\n"
        "Phone batch: a yellow bicycle leaning on a long white-washed wall in a quiet fishing town"
    )
    page.get_by_role("button", name="Generate the batch").tap()
    expect(page.locator("#rows tbody tr")).to_have_count(2)
    expect(page.get_by_text("Finished.", exact=False)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    assert_tall_enough(page.get_by_role("button", name="Download zip"))
    assert_fits_a_phone(page)
    phone_screenshot(page, "batches")


def test_the_review_page_fits_a_phone(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/review", **PHONE)
    expect(page.get_by_role("heading", name="Images waiting for review")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert_fits_a_phone(page)
    phone_screenshot(page, "review")


def test_the_gallery_hides_load_more_on_a_phone_when_nothing_more_is_there(
    keyed_server: tuple[ServerProcess, str, str], open_page: Any
) -> None:
    server, editor_key, _ = keyed_server  # an editor with at most a few images
    page = open_page(server.url + "/", **PHONE)
    page.evaluate(
        "([name, key]) => localStorage.setItem(name, key)",
        [f"huajia.apiKey:{server.url}", editor_key],
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    gallery = page.locator("huajia-gallery")
    more = gallery.locator("[data-ref=more]")
    expect(more).to_have_attribute("hidden", "")
    expect(more).to_be_hidden()
