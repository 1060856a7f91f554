"""Browser fixtures: Debian's Chromium driven by Playwright against a real `huajia serve`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess, huajia_command, start_huajia

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Generous: the first task also waits for the worker's first pipeline call on 2 CPU cores.
RESULT_TIMEOUT_MS = 60_000

if not CHROMIUM.exists():
    pytest.skip(
        "Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


# Package scope: Playwright's sync API keeps an event loop running on the main thread, and
# the tests after this package (asyncio.run) need it gone.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def huajia(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One real server for the browser suite (tests run one after another on its queue)."""
    server = start_huajia(tmp_path_factory.mktemp("huajia-browser"), tiny_model_dir)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def keyed_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str, str]]:
    """A server that needs API keys, with an editor's and an admin's (in that order)."""
    data_dir = tmp_path_factory.mktemp("huajia-keys")
    editor = create_key(data_dir, "editor-browser", "editor")
    admin = create_key(data_dir, "admin-browser", "admin")
    server = start_huajia(data_dir, tiny_model_dir)
    yield server, editor, admin
    server.stop()


def create_key(data_dir: Path, name: str, role: str) -> str:
    created = huajia_command(["keys", "create", name, "--role", role], data_dir)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def saved_key(page: Any, server: ServerProcess) -> str | None:
    """The API key the page's origin keeps in localStorage for `server`, if any."""
    value = page.evaluate("(name) => localStorage.getItem(name)", f"huajia.apiKey:{server.url}")
    return None if value is None else str(value)


@pytest.fixture(autouse=True)
def forget_server_prefs(request: pytest.FixtureRequest) -> None:
    """Panel preferences live on the server now (they follow the editor): each test on the
    shared server starts from none, as a fresh browser profile used to."""
    if "huajia" in request.fixturenames:
        server: ServerProcess = request.getfixturevalue("huajia")
        httpx.put(server.url + "/api/v1/me/prefs", json={}, timeout=10).raise_for_status()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh context (own localStorage) with the browser language given.

    Uncaught script errors on any page fail the test: a user would see a broken panel. So does
    anything the page's Content-Security-Policy refuses (a script, style or image not loaded).
    """
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(url: str, locale: str = "en-US", **options: Any) -> Any:
        """`options` go to the browser context (for example has_touch=True, or a viewport)."""
        settings = {"viewport": {"width": 1280, "height": 900}, **options}
        context = browser.new_context(locale=locale, accept_downloads=True, **settings)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: _note_csp_refusal(message, errors))
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught script errors: {errors}"


def _note_csp_refusal(message: Any, errors: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        errors.append(message.text)


def screenshot(page: Any, name: str, part: Any = None) -> None:
    """Keep a picture of this state for people to look at (test-artifacts is git-ignored).

    The whole page, or only `part` (a locator) where the page is too large to read.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if part is None:
        page.screenshot(path=path, full_page=True)
    else:
        part.screenshot(path=path)


def record_progress(page: Any) -> None:
    """Collect every step the panel's progress bar shows (it may pass faster than polling)."""
    page.evaluate(
        """() => {
          window.__steps = [];
          const bar = document.querySelector('huajia-panel').shadowRoot
            .querySelector('[role=progressbar]');
          new MutationObserver(() => {
            const now = bar.getAttribute('aria-valuenow');
            const max = bar.getAttribute('aria-valuemax');
            if (now !== null && max !== '1') window.__steps.push([Number(now), Number(max)]);
          }).observe(bar, {attributes: true});
        }"""
    )


def result_button(page: Any, index: int) -> Any:
    return page.get_by_role("button", name=re.compile(rf"^(Image {index}, seed|第 {index} 张)"))


def task_id(page: Any) -> str | None:
    value = page.evaluate("() => document.querySelector('huajia-panel').taskId")
    return str(value) if value else None


def slow_task(scope: Any, width: str, height: str, steps: str, advanced: str) -> None:
    """Ask for a task that runs for seconds on the tiny model, so a test can act meanwhile."""
    scope.locator("select[name=size]").select_option("custom")
    scope.get_by_label(width).fill("1024")
    scope.get_by_label(height).fill("1024")
    scope.get_by_text(advanced).click()
    scope.get_by_label(steps).fill("50")


def wait_for_state(server: ServerProcess, task: str, timeout_s: float = 30.0) -> str:
    """The task's state once it is final, as the API reports it (or the last one seen)."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        reply = httpx.get(f"{server.url}/api/v1/tasks/{task}/status", timeout=10)
        state = str(reply.json()["status"])
        if state in ("completed", "failed", "canceled"):
            break
        time.sleep(0.2)
    return state


def expect_a_step_done(scope: Any) -> None:
    """Wait until the progress bar shows a finished denoising step (1 or more)."""
    bar = scope.get_by_role("progressbar")
    sync_api.expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-9]"), timeout=30_000)


# Holds POST /generate for a while (as a slow network would) and records each one's
# Idempotency-Key and the task it created, so a test can act while the request is in flight.
SLOW_GENERATE_SCRIPT = """
(() => {
  const original = window.fetch;
  window.__generate = [];
  window.fetch = async function (input, init = {}) {
    const url = String(input instanceof Request ? input.url : input);
    if (!url.endsWith('/api/v1/generate') || (init.method || 'GET') !== 'POST') {
      return original.call(this, input, init);
    }
    const record = { key: new Headers(init.headers).get('Idempotency-Key'), taskId: null };
    window.__generate.push(record);
    await new Promise((resolve) => setTimeout(resolve, %d));
    const response = await original.call(this, input, init);
    response.clone().json().then((body) => { record.taskId = body.task_id ?? null; }, () => {});
    return response;
  };
})();
"""


def slow_generate_requests(page: Any, delay_ms: int = 1500) -> None:
    """From the next page load on, every POST /generate is held `delay_ms` before it is sent."""
    page.add_init_script(SLOW_GENERATE_SCRIPT % delay_ms)
    page.reload()


def generate_requests(page: Any) -> list[dict[str, Any]]:
    """[{key, taskId}] for each POST /generate the page sent (see slow_generate_requests)."""
    return list(page.evaluate("window.__generate"))
