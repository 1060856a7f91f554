"""The campaign batch page in Chromium: a sheet in, each row's state and error shown, the zip
downloaded."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, saved_key, screenshot
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


def test_a_sheet_becomes_rows_that_finish_and_a_zip(
    huajia: ServerProcess, open_page: Any, tmp_path: Path
) -> None:
    sheet = tmp_path / "spring.csv"
    sheet.write_text(
        "prompt,size,filename,alt\n"
        "A tea cup on linen,64x64,tea.png,A white tea cup\n"
        ",64x64,empty.png,\n"
        "A kite over hills,64x64,kite.png,A red kite\n",
        encoding="utf-8",
    )
    page = open_page(huajia.url + "/batches")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.get_by_label("Sheet (CSV or XLSX)").set_input_files(str(sheet))
    page.get_by_role("button", name="Generate the batch").click()

    rows = page.locator("#rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("the prompt is empty")
    expect(page.get_by_text("Finished.", exact=False)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(rows.nth(0)).to_contain_text("completed")
    expect(rows.nth(2)).to_contain_text("1 image(s)")
    screenshot(page, "40-campaign-batch")
    followed = [url for url in asked if "/api/v1/batches/" in url]
    assert len(followed) == 1 and followed[0].endswith("/events"), "one stream, no polling"
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download zip").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(downloading.value.path()).read_bytes()))

    assert sorted(archive.namelist()) == ["errors.csv", "kite.png", "manifest.csv", "tea.png"]


def test_a_typed_key_is_saved_only_once_a_call_made_with_it_succeeds(
    keyed_server: tuple[ServerProcess, str, str], open_page: Any, tmp_path: Path
) -> None:
    server, editor_key, _ = keyed_server
    sheet = tmp_path / "one.csv"
    sheet.write_text("prompt,size,filename,alt\nA tea cup,64x64,tea.png,A cup\n", "utf-8")
    page = open_page(server.url + "/batches")
    page.get_by_label("Sheet (CSV or XLSX)").set_input_files(str(sheet))
    generate = page.get_by_role("button", name="Generate the batch")
    field = page.get_by_label("API key")

    generate.click()
    expect(field).to_be_visible()
    field.fill("hj_not_a_key")
    page.get_by_role("button", name="Use key").click()
    generate.click()
    expect(field).to_be_visible()  # refused: asked again
    assert saved_key(page, server) is None, "a refused key is never saved"

    field.fill(editor_key)
    page.get_by_role("button", name="Use key").click()
    generate.click()
    expect(page.locator("#rows tbody tr")).to_have_count(1)
    assert saved_key(page, server) == editor_key
