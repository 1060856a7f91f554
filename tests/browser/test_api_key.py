"""A service with API keys: the panel asks for one on 401, uses it, and remembers it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import RESULT_TIMEOUT_MS, result_button, screenshot, task_id
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
    # The service's own reason is shown next to the key prompt.
    expect(page.locator("huajia-panel").get_by_text("an API key is required")).to_be_visible()
    screenshot(page, "13-app-asks-for-api-key")

    # A wrong key is not kept: the prompt stays, with the service's reason, and nothing is saved.
    key_field.fill("hj_not_a_real_key")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("huajia-panel").get_by_text("this API key is not valid")).to_be_visible()
    expect(key_field).to_be_visible()
    assert (
        page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('huajia.apiKey'))")
        == []
    )

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


UNAUTHORIZED = json.dumps(
    {
        "error": {
            "code": "unauthorized",
            "message": "this API key is not valid (revoked or mistyped)",
        }
    }
)


def enter_key(page: Any, secret: str) -> None:
    """Type the key into the panel's prompt for one and see the prompt go away."""
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("API key")).to_be_hidden()


def test_a_401_while_following_pauses_the_task_and_a_new_key_resumes_it(
    keyed_server: tuple[ServerProcess, str], open_page: Any
) -> None:
    server, secret = keyed_server
    page = open_page(server.url + "/demo/panel")
    enter_key(page, secret)

    # The key stops working while the task runs (say it was rotated): following answers 401.
    def refuse(route: Any) -> None:
        route.fulfill(status=401, content_type="application/json", body=UNAUTHORIZED)

    page.route(re.compile(r".*/api/v1/tasks/[^/]+/(events|status)(\?.*)?$"), refuse)
    page.get_by_label("Prompt", exact=True).fill("A lantern festival by the river")
    page.get_by_role("button", name="Generate", exact=True).click()
    key_field = page.get_by_label("API key")
    expect(key_field).to_be_visible()
    expect(key_field).to_be_focused()
    status = page.get_by_role("status").first
    expect(status).to_have_text("Paused: enter an API key to keep following this task")
    expect(page.get_by_text("this API key is not valid")).to_be_visible()
    running = task_id(page)
    assert running is not None, "the task must be kept, not abandoned"
    screenshot(page, "15-panel-401-while-following")

    page.unroute(re.compile(r".*/api/v1/tasks/[^/]+/(events|status)(\?.*)?$"))
    key_field.fill(secret)
    page.get_by_role("button", name="Save").click()
    expect(result_button(page, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(status).to_have_text("Done: 1 image(s)")


def test_a_stale_configured_key_gives_way_to_the_saved_one(
    keyed_server: tuple[ServerProcess, str], open_page: Any
) -> None:
    server, secret = keyed_server
    page = open_page(server.url + "/demo/panel")
    enter_key(page, secret)

    # A CMS page that still configures an old key: the key the user saved is used instead.
    page.route(
        server.url + "/cms-with-stale-key",
        lambda route: route.fulfill(
            content_type="text/html",
            body='<!doctype html><script type="module" src="/static/panel/huajia-panel.js">'
            '</script><huajia-panel api-key="hj_revoked_long_ago"></huajia-panel>',
        ),
    )
    page.goto(server.url + "/cms-with-stale-key")
    expect(page.get_by_label("Size")).not_to_have_value("")  # the catalog arrived
    expect(page.get_by_label("API key")).to_be_hidden()
    expect(page.get_by_role("alert")).to_have_count(0)  # no error shown at all
