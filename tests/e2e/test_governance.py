"""Review before use and deletion for good, through a real server and its worker.

With `review_required` an editor's image is not published until a reviewer approves it: the
result says so, the public URL does not exist, a rejected image is never served to the editor,
and the decision reaches the editor's open event stream. Deleting a task leaves no bytes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.flows import SMALL, wait_for
from tests.e2e.test_auth import create_key
from tests.support.server import ServerProcess, start_huajia

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def governed(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[ServerProcess, dict[str, str]]]:  # fmt: skip
    data = tmp_path_factory.mktemp("governed")
    keys = {role: create_key(data, f"{role}-key", role) for role in ("editor", "reviewer")}
    keys["other"] = create_key(data, "other-editor", "editor")
    server = start_huajia(data, tiny_model_dir, {"HUAJIA_REVIEW_REQUIRED": "1"})
    yield server, keys
    server.stop()


def as_key(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers={"X-API-Key": key})


@pytest.fixture
def clients(governed: tuple[ServerProcess, dict[str, str]]) -> Iterator[dict[str, httpx.Client]]:
    server, keys = governed
    opened = {role: as_key(server, key) for role, key in keys.items()}
    opened["anonymous"] = httpx.Client(base_url=server.url, timeout=30)
    yield opened
    for client in opened.values():
        client.close()


def generated(editor: httpx.Client, count: int = 2) -> dict[str, Any]:
    body = {"prompt": "a teapot on a desk", "num_images": count, **SMALL}
    response = editor.post("/api/v1/generate", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    wait_for(editor, task_id, {"completed"})
    return dict(editor.get(f"/api/v1/tasks/{task_id}/result").json())


def follow_reviews(editor: httpx.Client, task_id: str, into: list[tuple[str, Any]]) -> None:
    """The editor's event stream, read until the server ends it."""
    with editor.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=60) as stream:
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name:
                into.append((name, json.loads(line.removeprefix("data: "))))


def test_an_image_is_published_only_after_a_reviewer_approves_it(
    clients: dict[str, httpx.Client],
) -> None:
    editor, reviewer, anonymous = clients["editor"], clients["reviewer"], clients["anonymous"]
    result = generated(editor)
    first, second = result["images"]
    assert result["image_urls"] == []
    assert first["url"] is None and first["review"]["state"] == "pending_review"
    assert editor.get(first["preview_url"]).status_code == 200  # the owner may look
    assert clients["other"].get(first["preview_url"]).status_code == 404
    events: list[tuple[str, Any]] = []
    follower = threading.Thread(target=follow_reviews, args=(editor, result["task_id"], events))
    follower.start()

    queue = reviewer.get("/api/v1/review").json()
    assert {first["id"], second["id"]} <= {image["id"] for image in queue["images"]}
    assert editor.get("/api/v1/review").status_code == 403
    assert editor.post(f"/api/v1/images/{first['id']}/review",
                       json={"decision": "approve"}).status_code == 403  # fmt: skip
    approved = reviewer.post(f"/api/v1/images/{first['id']}/review", json={"decision": "approve"})
    again = reviewer.post(f"/api/v1/images/{first['id']}/review", json={"decision": "approve"})
    unknown = reviewer.post(f"/api/v1/images/{second['id']}/review", json={"decision": "maybe"})
    no_reason = reviewer.post(f"/api/v1/images/{second['id']}/review",
                              json={"decision": "reject"})  # fmt: skip
    rejected = reviewer.post(
        f"/api/v1/images/{second['id']}/review",
        json={"decision": "reject", "reason": "the logo is wrong"},
    )
    follower.join(timeout=30)

    assert approved.status_code == 200, approved.text
    assert again.json()["review"] == approved.json()["review"]  # approving twice: no change
    assert (unknown.status_code, no_reason.status_code) == (422, 422)
    assert no_reason.json()["error"]["code"] == "invalid_request"
    assert rejected.status_code == 200, rejected.text
    after = editor.get(f"/api/v1/tasks/{result['task_id']}/result").json()
    published, refused = after["images"]
    assert published["review"]["state"] == "approved"
    assert anonymous.get(published["url"]).status_code == 200  # now public like any result
    assert after["image_urls"] == [published["url"]]
    assert refused["url"] is None
    assert refused["review"] == {**refused["review"], "state": "rejected",
                                 "reason": "the logo is wrong"}  # fmt: skip
    assert editor.get(first["preview_url"].replace(first["id"], second["id"])).status_code == 404
    assert reviewer.get(refused["preview_url"]).status_code == 200  # reviewers still see it
    decisions = [(e["image"]["id"], e["image"]["review"]["state"]) for n, e in events
                 if n == "review"]  # fmt: skip
    assert decisions == [(first["id"], "approved"), (second["id"], "rejected")]
    assert not follower.is_alive()  # the stream ended once nothing waited any more


def test_the_public_address_of_a_held_image_does_not_exist(
    clients: dict[str, httpx.Client], governed: tuple[ServerProcess, dict[str, str]]
) -> None:
    server, _ = governed
    result = generated(clients["editor"], count=1)
    image = result["images"][0]
    held = list((server.data_dir / "images").rglob("*held-*"))
    assert held  # the bytes exist, under a held name

    for path in held:
        key = f"{path.parent.name}/{path.name}"
        assert clients["anonymous"].get(f"/generated-images/{key}").status_code == 404
        assert clients["editor"].get(f"/generated-images/{key}").status_code == 404
    assert image["thumbnail_url"] is None


def test_deleting_a_task_removes_its_images_for_good(
    clients: dict[str, httpx.Client], governed: tuple[ServerProcess, dict[str, str]]
) -> None:
    server, _ = governed
    editor, reviewer = clients["editor"], clients["reviewer"]
    result = generated(editor, count=1)
    image = result["images"][0]
    reviewer.post(f"/api/v1/images/{image['id']}/review", json={"decision": "approve"})
    url = editor.get(f"/api/v1/tasks/{result['task_id']}/result").json()["images"][0]["url"]
    assert clients["anonymous"].get(url).status_code == 200
    files_before = set((server.data_dir / "images").rglob("*.*"))

    refused = clients["other"].delete(f"/api/v1/tasks/{result['task_id']}")
    deleted = editor.delete(f"/api/v1/tasks/{result['task_id']}")
    twice = editor.delete(f"/api/v1/tasks/{result['task_id']}")

    assert refused.status_code == 403
    assert deleted.status_code == 204
    assert twice.status_code == 404
    assert editor.get(f"/api/v1/tasks/{result['task_id']}").status_code == 404
    assert clients["anonymous"].get(url).status_code == 404
    assert editor.get(f"/api/v1/images/{image['id']}/file").status_code == 404
    gone = files_before - set((server.data_dir / "images").rglob("*.*"))
    name = url.rsplit("/", 1)[1]
    assert {path.name for path in gone} == {name, name.replace(".png", ".thumb.webp")}
