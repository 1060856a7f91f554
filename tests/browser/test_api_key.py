"""A service with API keys: the panel asks for one on 401, uses it, and remembers it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button, screenshot
from tests.support.server import ServerProcess, huajia_command, start_huajia

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def keyed_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[ServerProcess, str]]:  # fmt: skip
    """A server with one editor key: from then on every API call needs a key."""
    data_dir = tmp_path_factory.mktemp("huajia-keyed")
    created = huajia_command(["keys", "create", "browser-test"], data_dir)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    server = start_huajia(data_dir, tiny_model_dir)
    yield server, secret
    server.stop()


def test_asks_for_the_key_then_generates_and_remembers_it(
    keyed_server: tuple[ServerProcess, str], open_page: Any
) -> None:
    server, secret = keyed_server
    page = open_page(server.url + "/")
    key_field = page.get_by_label("API key")
    expect(key_field).to_be_visible()
    expect(key_field).to_be_focused()
    expect(page.locator("huajia-panel").get_by_role("alert")).to_have_text(
        "This Huajia service needs an API key."
    )
    screenshot(page, "13-app-asks-for-api-key")

    key_field.fill(secret)
    page.get_by_role("button", name="Save").click()
    expect(key_field).to_be_hidden()
    page.get_by_label("Prompt", exact=True).fill("A paper boat on a puddle")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(page, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("huajia-gallery").get_by_role("img", name="A paper boat")).to_have_count(1)

    page.reload()
    expect(page.get_by_label("Size")).not_to_have_value("")
    expect(page.get_by_label("API key")).to_be_hidden()
