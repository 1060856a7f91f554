"""The web app's image detail view: parameters and lineage, ←/→, WebP download, zip, reuse."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from huajia.images.encode import is_ai_generated, read_parameters
from tests.e2e.flows import SMALL, wait_for
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

PROMPT = "Detail view test: a paper crane on a desk"


def made_with_a_child(server: ServerProcess) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Two generated images and a flipped copy of the first (its child)."""
    with httpx.Client(base_url=server.url, timeout=30) as api:
        task = api.post("/api/v1/generate", json={"prompt": PROMPT, "num_images": 2, **SMALL})
        wait_for(api, task.json()["task_id"], {"completed"})
        images = api.get(f"/api/v1/tasks/{task.json()['task_id']}/result").json()["images"]
        flip = {"edits": [{"kind": "flip", "direction": "horizontal"}]}
        child = api.post(f"/api/v1/images/{images[0]['id']}/edits", json=flip).json()
        listed = api.get("/api/v1/images", params={"q": PROMPT}).json()["images"]
    return listed, child


def the_gallery(server: ServerProcess, open_page: Any) -> tuple[Any, Any]:
    """The web app's page and its gallery, searched for this file's prompt."""
    page = open_page(server.url + "/")
    gallery = page.locator("huajia-gallery")
    gallery.get_by_label("Search prompts").fill(PROMPT)
    return page, gallery


def test_the_detail_view_shows_lineage_moves_with_arrows_and_downloads(
    huajia: ServerProcess, open_page: Any
) -> None:
    listed, child = made_with_a_child(huajia)
    parent_id = next(image["id"] for image in listed if image["id"] == child["parent_id"])
    at = [image["id"] for image in listed].index(parent_id)
    page, gallery = the_gallery(huajia, open_page)
    details = gallery.get_by_role("button", name=f"Details: {PROMPT}")
    expect(details).to_have_count(len(listed))

    details.nth(at).click()
    dialog = page.get_by_role("dialog", name="Image details")
    expect(dialog).to_be_visible()
    expect(dialog.locator("dd", has_text=parent_id)).to_have_count(1)
    expect(dialog.locator("dd", has_text=PROMPT).first).to_be_visible()
    seed = str(listed[at]["seed"])
    expect(dialog.locator("dt", has_text="seed").first).to_be_visible()
    expect(dialog.locator("dd", has_text=seed).first).to_be_visible()
    related = dialog.get_by_role("button", name=f"Open image: {child['origin']} {child['id'][:8]}")
    expect(related).to_be_visible()

    page.keyboard.press("ArrowRight" if at + 1 < len(listed) else "ArrowLeft")
    neighbour = listed[at + 1 if at + 1 < len(listed) else at - 1]["id"]
    expect(dialog.locator("dd", has_text=neighbour)).to_have_count(1)
    page.keyboard.press("ArrowLeft" if at + 1 < len(listed) else "ArrowRight")
    expect(dialog.locator("dd", has_text=parent_id)).to_have_count(1)

    dialog.get_by_label("Format").select_option("webp")
    with page.expect_download() as saved:
        dialog.get_by_role("button", name="Download", exact=True).click()
    data = Path(saved.value.path()).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert saved.value.suggested_filename.endswith(".webp")
    assert read_parameters(data)["prompt"] == PROMPT and is_ai_generated(data)

    related.click()
    expect(dialog.locator("dd", has_text=child["id"])).to_have_count(1)
    expect(dialog.get_by_role("button", name=f"Open image: generated {parent_id[:8]}")
           ).to_be_visible()  # fmt: skip
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_two_selected_images_download_as_one_zip_and_settings_fill_the_form(
    huajia: ServerProcess, open_page: Any
) -> None:
    listed, _ = made_with_a_child(huajia)
    page, gallery = the_gallery(huajia, open_page)
    picks = gallery.get_by_role("checkbox", name=f"Select: {PROMPT}")
    expect(picks).to_have_count(len(listed))
    picks.nth(0).check()
    picks.nth(1).check()
    with page.expect_download() as saved:
        gallery.get_by_role("button", name="Download selected (zip) (2)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(saved.value.path()).read_bytes()))
    assert len(archive.namelist()) == 2

    gallery.get_by_role("button", name=f"Details: {PROMPT}").nth(1).click()
    dialog = page.get_by_role("dialog", name="Image details")
    dialog.get_by_role("button", name="Use these settings").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(PROMPT)
    expect(page.get_by_label("Seed")).to_have_value(str(listed[1]["seed"]))


def test_the_actions_wait_for_the_images_details_and_never_use_the_one_shown_before(
    huajia: ServerProcess, open_page: Any
) -> None:
    """The dialog opens before an image's details arrive: until they do, "Use these
    settings" must not act (on nothing, a script error; on the image shown before, its
    settings). The second image's details are held back until the test lets them through."""
    listed, _ = made_with_a_child(huajia)
    page, gallery = the_gallery(huajia, open_page)
    details = gallery.get_by_role("button", name=f"Details: {PROMPT}")
    expect(details).to_have_count(len(listed))
    dialog = page.get_by_role("dialog", name="Image details")
    use = dialog.get_by_role("button", name="Use these settings")

    details.nth(0).click()
    expect(use).to_be_enabled()
    expect(dialog.locator("dd", has_text=str(listed[0]["seed"])).first).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    held: list[Any] = []
    second = re.compile(rf".*/api/v1/images/{listed[1]['id']}$")
    page.route(second, lambda route: held.append(route))
    details.nth(1).click()
    expect(dialog).to_be_visible()
    expect(use).to_be_disabled()
    expect(dialog.get_by_role("button", name="Download")).to_be_disabled()
    for _ in range(200):  # the held request reaches the test as Playwright dispatches it
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    expect(use).to_be_disabled()
    held[0].continue_()

    use.click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Seed")).to_have_value(str(listed[1]["seed"]))
