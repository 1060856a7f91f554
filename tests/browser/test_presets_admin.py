"""The preset admin page: an admin creates a style and editors see it in the panel at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import saved_key, screenshot
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


def test_a_preset_made_on_the_admin_page_appears_in_the_panel(
    huajia: ServerProcess, open_page: Any
) -> None:
    admin = open_page(huajia.url + "/admin/presets")
    expect(admin.get_by_role("cell", name="photorealistic", exact=True)).to_be_visible()
    admin.get_by_label("Name (a-z, 0-9, - and _)").fill("ink_wash")
    admin.get_by_label("Chinese name").fill("水墨")
    admin.get_by_label("English name").fill("Ink wash")
    admin.get_by_label("Prompt template").fill("{prompt}, in ink wash on rice paper")
    admin.get_by_label("Review before publishing").select_option("true")
    screenshot(admin, "20-presets-admin-form")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_have_text("Preset “ink_wash” created (version 1).")
    expect(admin.get_by_role("cell", name="Ink wash", exact=True)).to_be_visible()

    panel = open_page(huajia.url + "/")
    expect(
        panel.get_by_label("Style", exact=True).locator("option", has_text="Ink wash")
    ).to_have_count(1)

    admin.get_by_role("button", name="Edit ink_wash").click()
    admin.get_by_label("English name").fill("Ink and wash")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_have_text("Preset “ink_wash” saved as version 2.")
    panel.reload()
    expect(
        panel.get_by_label("Style", exact=True).locator("option", has_text="Ink and wash")
    ).to_have_count(1)

    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Retire ink_wash").click()
    expect(admin.get_by_role("status")).to_have_text("Preset “ink_wash” retired.")
    panel.reload()
    expect(
        panel.get_by_label("Style", exact=True).locator("option", has_text="Ink and wash")
    ).to_have_count(0)


def test_a_bad_template_is_refused_with_the_reason_in_chinese_too(
    huajia: ServerProcess, open_page: Any
) -> None:
    admin = open_page(huajia.url + "/admin/presets", locale="zh-CN")
    expect(admin.get_by_role("heading", name="风格预设", exact=True)).to_be_visible()
    admin.get_by_label("名称（a-z、0-9、- 和 _）").fill("no_slot")
    admin.get_by_label("中文名称").fill("无")
    admin.get_by_label("英文名称").fill("None")
    admin.get_by_label("提示词模板").fill("a template without the slot")
    admin.get_by_role("button", name="保存").click()
    expect(admin.get_by_role("alert")).to_contain_text("未保存")
    expect(admin.get_by_role("alert")).to_contain_text("{prompt}")
    expect(admin.get_by_role("cell", name="no_slot", exact=True)).to_have_count(0)


def test_editing_a_name_keeps_everything_the_form_does_not_show(
    huajia: ServerProcess, open_page: Any
) -> None:
    preset = {
        "name": "sumi_e",
        "labels": {"zh-CN": "水墨", "en": "Sumi-e", "ja": "墨絵"},
        "prompt_template": "{prompt}, sumi-e brush painting",
        "defaults": {"steps": 12, "cfg_scale": 3.5, "width": 768, "height": 512},
        "shared_cache": True,
    }
    httpx.post(huajia.url + "/api/v1/presets", json=preset, timeout=10).raise_for_status()

    admin = open_page(huajia.url + "/admin/presets")
    admin.get_by_role("button", name="Edit sumi_e").click()
    admin.get_by_label("English name").fill("Sumi ink")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_have_text("Preset “sumi_e” saved as version 2.")

    saved = httpx.get(huajia.url + "/api/v1/presets/sumi_e", timeout=10).json()
    assert saved["labels"] == {"zh-CN": "水墨", "en": "Sumi ink", "ja": "墨絵"}
    assert saved["defaults"] == {"steps": 12, "cfg_scale": 3.5, "width": 768, "height": 512}
    assert saved["shared_cache"] is True
    assert saved["prompt_template"] == preset["prompt_template"]


def test_an_admin_signs_in_where_the_browser_holds_an_editor_key(
    keyed_server: tuple[ServerProcess, str, str], open_page: Any
) -> None:
    server, editor_key, admin_key = keyed_server
    admin = open_page(server.url + "/admin/presets")
    field = admin.get_by_label("API key")
    expect(field).to_be_visible()  # no key at all: 401, and the page asks for one
    admin.evaluate(
        "([name, key]) => localStorage.setItem(name, key)",
        [f"huajia.apiKey:{server.url}", editor_key],
    )
    admin.reload()
    expect(admin.get_by_role("cell", name="photorealistic", exact=True)).to_be_visible()
    admin.get_by_label("Name (a-z, 0-9, - and _)").fill("woodcut")
    admin.get_by_label("Chinese name").fill("木刻")
    admin.get_by_label("English name").fill("Woodcut")
    admin.get_by_label("Prompt template").fill("{prompt}, woodcut print")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("alert")).to_have_text(
        "This API key may not manage presets: enter an admin key."
    )
    expect(field).to_be_visible()

    field.fill("hj_not_a_key")
    admin.get_by_role("button", name="Use key").click()
    expect(admin.get_by_role("alert")).to_contain_text("needs an API key")
    assert saved_key(admin, server) == editor_key, "a refused key is never saved"

    field.fill(admin_key)
    admin.get_by_role("button", name="Use key").click()
    expect(admin.get_by_role("status")).to_have_text("Preset “woodcut” created (version 1).")
    expect(field).to_be_hidden()
    expect(admin.get_by_role("cell", name="Woodcut", exact=True)).to_be_visible()
    assert saved_key(admin, server) == admin_key
