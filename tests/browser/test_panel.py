"""The embeddable <huajia-panel> in /demo/panel: the insert event, cancel, server errors."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    RESULT_TIMEOUT_MS,
    expect_a_step_done,
    generate_requests,
    result_button,
    screenshot,
    slow_generate_requests,
    slow_task,
    task_id,
    wait_for_state,
)
from tests.support.server import ServerProcess, start_huajia

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

LONG_PROMPT = ", ".join(["a quiet harbour with fishing boats at sunrise"] * 120)


def test_insert_emits_a_composed_event_with_the_chosen_images(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/demo/panel")
    prompt = "Paper cut style panda eating bamboo"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("radio", name="2", exact=True).check()
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(page, 2)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    result_button(page, 1).click()
    result_button(page, 2).click()
    page.get_by_role("button", name="Insert", exact=True).click()

    # The demo page listens on document: the event crossed the shadow root and bubbled up.
    expect(page.locator("#detail")).not_to_be_empty()
    detail = json.loads(page.locator("#detail").text_content() or "{}")
    screenshot(page, "09-panel-insert-event")
    assert detail["prompt"] == prompt
    assert len(detail["images"]) == 2
    for image in detail["images"]:
        assert set(image) == {"id", "url", "width", "height", "alt", "seed"}
        assert re.fullmatch(r"[0-9a-f]{32}", image["id"])  # the Huajia image id, for later edits
        assert image["url"].startswith(huajia.url + "/generated-images/")
        assert image["alt"] == prompt
        assert isinstance(image["seed"], int)
        assert httpx.get(image["url"], timeout=10).status_code == 200
    assert detail["images"][0]["seed"] != detail["images"][1]["seed"]
    expect(page.locator("#inserted img")).to_have_count(2)


def test_cancel_stops_the_running_task(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/demo/panel")
    page.get_by_label("Prompt", exact=True).fill("A slow, very detailed city map")
    slow_task(page, width="Width", height="Height", steps="Steps", advanced="Advanced")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect_a_step_done(page)
    running = task_id(page)
    assert running is not None

    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_focused()  # focus followed the run from Generate to Cancel
    cancel.click()
    expect(page.get_by_role("status").first).to_have_text("Canceled", timeout=20_000)
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_enabled()
    # Cancel is hidden now: focus is back on Generate, not lost to <body>.
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_focused()
    screenshot(page, "10-panel-canceled")
    assert wait_for_state(huajia, running) == "canceled"


def test_invalid_request_shows_the_service_message(huajia: ServerProcess, open_page: Any) -> None:
    refused = httpx.post(
        f"{huajia.url}/api/v1/generate", json={"prompt": LONG_PROMPT, "num_images": 1}, timeout=10
    )
    assert refused.status_code == 422
    error = refused.json()["error"]

    page = open_page(huajia.url + "/demo/panel")
    page.get_by_label("Prompt", exact=True).fill(LONG_PROMPT)
    page.get_by_role("button", name="Generate", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(error["message"])
    expect(alert).to_contain_text(f"({error['code']})")
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_enabled()
    screenshot(page, "11-panel-error-422")


@pytest.fixture(scope="module")
def full_queue_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[ServerProcess]:  # fmt: skip
    """A server whose queue holds one pending task, filled by slow tasks."""
    server = start_huajia(
        tmp_path_factory.mktemp("huajia-full"), tiny_model_dir, {"HUAJIA_QUEUE_MAX": "1"}
    )
    yield server
    server.stop()


def fill_queue(server: ServerProcess) -> tuple[httpx.Response, list[str]]:
    """One slow task running and one waiting: the next submission must answer 429."""
    slow = {"prompt": "filler", "num_images": 4, "width": 1024, "height": 1024, "steps": 50}
    running = httpx.post(f"{server.url}/api/v1/generate", json=slow, timeout=10).json()["task_id"]
    deadline = time.monotonic() + 30
    status_url = f"{server.url}/api/v1/tasks/{running}/status"
    while httpx.get(status_url, timeout=10).json()["status"] == "pending":
        assert time.monotonic() < deadline, "the worker never picked up the first task"
        time.sleep(0.1)
    waiting = httpx.post(f"{server.url}/api/v1/generate", json=slow, timeout=10)
    assert waiting.status_code == 202, waiting.text
    refused = httpx.post(f"{server.url}/api/v1/generate", json=slow, timeout=10)
    assert refused.status_code == 429, "HUAJIA_QUEUE_MAX=1 was not honoured"
    return refused, [running, waiting.json()["task_id"]]


def test_full_queue_shows_when_to_retry(full_queue_server: ServerProcess, open_page: Any) -> None:
    page = open_page(full_queue_server.url + "/demo/panel", locale="zh-CN")
    expect(page.get_by_label("画面描述")).to_be_visible()
    refused, fillers = fill_queue(full_queue_server)
    try:
        assert refused.json()["error"]["code"] == "queue_full"
        retry_after = refused.headers["Retry-After"]
        page.get_by_label("画面描述").fill("一只在雪地里的红狐狸")
        page.get_by_role("button", name="生成", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text(f"队列已满，请 {retry_after} 秒后重试。")
        screenshot(page, "12-panel-error-429-zh")
    finally:
        for task in fillers:
            httpx.post(f"{full_queue_server.url}/api/v1/tasks/{task}/cancel", timeout=10)


def test_a_request_in_flight_is_sent_once_and_cancel_works_while_sending(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/demo/panel")
    slow_generate_requests(page)
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("A slow night train crossing a bridge")
    slow_task(page, width="Width", height="Height", steps="Steps", advanced="Advanced")
    generate = page.get_by_role("button", name="Generate", exact=True)
    generate.click()
    status = page.get_by_role("status").first
    expect(status).to_have_text("Sending…")
    expect(generate).to_be_disabled()
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_focused()
    assert page.evaluate("document.querySelector('huajia-panel').busy") is True

    # Ctrl+Enter again while the first request is on its way: nothing is sent twice.
    prompt.focus()
    page.keyboard.press("Control+Enter")
    # Closing while sending offers to cancel, as it does while the task runs.
    page.evaluate("document.querySelector('huajia-panel').requestClose()")
    offer = page.get_by_role("button", name="Cancel generation and close")
    expect(offer).to_be_focused()
    page.get_by_role("button", name="Keep generating").click()
    expect(offer).to_be_hidden()

    cancel.click()  # still "Sending…" (or just accepted): canceled as soon as it is accepted
    expect(status).to_have_text("Canceled", timeout=20_000)
    expect(generate).to_be_enabled()
    expect(generate).to_be_focused()
    sent = generate_requests(page)
    assert len(sent) == 1, sent
    assert sent[0]["key"], "POST /generate must carry an Idempotency-Key"
    assert sent[0]["taskId"]
    assert wait_for_state(huajia, sent[0]["taskId"]) == "canceled"


def test_focus_follows_generate_and_more_like_this(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/demo/panel")
    slow_generate_requests(page, delay_ms=800)
    page.get_by_label("Prompt", exact=True).fill("A small red kite over green hills")
    page.get_by_role("button", name="Generate", exact=True).click()
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_focused()
    first = result_button(page, 1)
    expect(first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(first).to_be_focused()  # the run ended: focus lands on the first result

    more = page.get_by_role("button", name=re.compile(r"^More like this: Image 1"))
    more.click()
    expect(more).to_be_disabled()  # no second run from the grid while one is under way
    expect(page.get_by_role("button", name="Regenerate")).to_be_disabled()
    expect(cancel).to_be_focused()
    expect(page.get_by_role("status").first).to_have_text(
        "Done: 1 image(s)", timeout=RESULT_TIMEOUT_MS
    )
    expect(more).to_be_enabled()
    expect(result_button(page, 1)).to_be_focused()
    sent = generate_requests(page)
    assert len(sent) == 2, sent
    assert sent[0]["key"] and sent[1]["key"] and sent[0]["key"] != sent[1]["key"]


def test_errors_and_status_follow_the_language(huajia: ServerProcess, open_page: Any) -> None:
    page = open_page(huajia.url + "/demo/panel", locale="zh-CN")
    panel = page.locator("huajia-panel")
    status = panel.get_by_role("status")
    bar = panel.get_by_role("progressbar")
    page.get_by_label("画面描述").fill("水墨风格的远山")
    page.get_by_role("button", name="生成", exact=True).click()
    expect(status).to_have_text("完成：共 1 张", timeout=RESULT_TIMEOUT_MS)
    page.get_by_label("语言").select_option("en")
    expect(status).to_have_text("Done: 1 image(s)")
    expect(bar).to_have_attribute("aria-valuetext", "Done: 1 image(s)")
    page.get_by_label("Language").select_option("zh-CN")
    expect(bar).to_have_attribute("aria-valuetext", "完成：共 1 张")

    refused = httpx.post(
        f"{huajia.url}/api/v1/generate", json={"prompt": LONG_PROMPT, "num_images": 1}, timeout=10
    )
    server_message = refused.json()["error"]["message"]
    page.get_by_label("画面描述").fill(LONG_PROMPT)
    page.get_by_role("button", name="生成", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("服务不接受这些参数。")
    expect(alert).to_contain_text(server_message)  # the service's own words as the detail
    screenshot(page, "14-panel-error-422-zh")
    page.get_by_label("语言").select_option("en")
    expect(alert).to_contain_text("The service did not accept these settings.")
    expect(alert).not_to_contain_text("服务")
    expect(alert).to_contain_text(server_message)
