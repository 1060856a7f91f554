"""Live previews through a real server: `?previews=true` on the event stream brings small
images of the task as it forms, before `completed`; a stream that did not ask gets none."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
from PIL import Image

from tests.e2e.flows import follow_while_held, read_events, submit
from tests.support.server import ServerProcess

# Many steps, so the task runs over many of the watcher's ticks (previews every 2 steps).
LONG = {"width": 128, "height": 128, "steps": 16, "num_images": 2}
STREAM_S = 120  # seconds one event stream may last: these tasks run long on the CPU


def decoded(data_url: str) -> Image.Image:
    head, _, body = data_url.partition(",")
    assert head == "data:image/webp;base64", head
    image = Image.open(io.BytesIO(base64.b64decode(body)))
    image.load()
    return image


def test_previews_come_as_decodable_small_images_before_completed(
    client: httpx.Client, server: ServerProcess
) -> None:
    accepted, (events,), _ = follow_while_held(
        client, server.workers(), previews=[True], timeout=STREAM_S, **LONG
    )
    task_id = accepted["task_id"]

    names = [name for name, _ in events]
    assert names[-1] == "completed", names
    previews = [data for name, data in events if name == "preview"]
    assert previews, f"no preview before the task ended: {names}"
    for preview in previews:
        image = decoded(preview["image"])
        assert image.size == (preview["width"], preview["height"]) == (16, 16)  # 128 / 8
        assert len(preview["image"]) < 8000, "a few KB"
        assert preview["task_id"] == task_id
        assert preview["index"] in (0, 1)
        assert preview["step"] % 2 == 0 and 0 < preview["step"] < preview["total_steps"] == 16
        assert np.asarray(image).std() > 0, "a picture, not a flat square"
    first_preview = names.index("preview")
    assert "progress" in names[:first_preview], "previews follow steps already taken"


def test_a_stream_that_did_not_ask_gets_no_previews(client: httpx.Client) -> None:
    accepted = submit(client, **LONG)

    events = read_events(client, accepted["task_id"], STREAM_S)

    names = [name for name, _ in events]
    assert names[-1] == "completed"
    assert "progress" in names
    assert "preview" not in names


def test_a_stream_that_did_not_ask_gets_none_while_another_does(
    client: httpx.Client, server: ServerProcess
) -> None:
    _, (asked, plain), _ = follow_while_held(
        client, server.workers(), previews=[True, False], timeout=STREAM_S, **LONG
    )

    asked_names = [name for name, _ in asked]
    plain_names = [name for name, _ in plain]
    assert "preview" in asked_names, asked_names
    assert plain_names[-1] == "completed" and "preview" not in plain_names


def test_the_parameter_is_documented_and_checked(client: httpx.Client) -> None:
    accepted = submit(client)
    spec = client.get("/openapi.json").json()
    parameters = spec["paths"]["/api/v1/tasks/{task_id}/events"]["get"]["parameters"]
    documented = {p["name"]: p for p in parameters}

    refused = client.get(f"/api/v1/tasks/{accepted['task_id']}/events?previews=maybe")

    assert "preview" in documented["previews"]["description"]
    assert refused.status_code == 422, refused.text
