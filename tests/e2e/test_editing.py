"""Editing through real HTTP: uploads, plain edits, and the model's edits as queued tasks.

The tiny model draws noise, so these tests check what does not depend on the picture:
pixels that must come back untouched, sizes, lineage, provenance and refusals.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from huajia.images.encode import is_ai_generated
from tests.e2e.flows import wait_for
from tests.images.pictures import png_claiming
from tests.support.server import ServerProcess, StartServer, huajia_command

pytestmark = pytest.mark.e2e

SIZE = (192, 128)
# The inpaint feather is a Gaussian of 8 px (sigma): it fades out within about 3 sigma.
FEATHER_MARGIN = 26


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    """A server of its own: the last test creates a key, which ends open mode for good."""
    return start_server()


def picture(size: tuple[int, int] = SIZE) -> Image.Image:
    """Four flat quadrants: any change shows, and a resize would blur their edges."""
    width, height = size
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[: height // 2, : width // 2] = (200, 30, 30)
    pixels[: height // 2, width // 2 :] = (30, 200, 30)
    pixels[height // 2 :, : width // 2] = (30, 30, 200)
    pixels[height // 2 :, width // 2 :] = (220, 220, 40)
    return Image.fromarray(pixels)


def centre_mask(size: tuple[int, int] = SIZE) -> Image.Image:
    mask = Image.new("L", size, 0)
    width, height = size
    mask.paste(255, (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    return mask


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pixels_of(client: httpx.Client, url: str) -> np.ndarray[Any, Any]:
    response = client.get(url)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("RGB"))


def upload(client: httpx.Client, image: Image.Image) -> dict[str, Any]:
    files = {"file": ("photo.png", png(image), "image/png")}
    response = client.post("/api/v1/uploads", files=files)
    assert response.status_code == 201, response.text
    return dict(response.json())


def run_edit(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "a product shot", "steps": 2, "seed": 3, **fields}
    accepted = client.post("/api/v1/generate", json=body)
    assert accepted.status_code == 202, accepted.text
    task_id = accepted.json()["task_id"]
    status = wait_for(client, task_id, {"completed", "failed"})
    assert status["status"] == "completed", status
    images: list[dict[str, Any]] = client.get(f"/api/v1/tasks/{task_id}/result").json()["images"]
    return images[0]


def test_an_upload_is_kept_as_sent_and_carries_no_ai_label(client: httpx.Client) -> None:
    record = upload(client, picture())
    assert (record["width"], record["height"], record["origin"]) == (*SIZE, "original")
    assert np.array_equal(pixels_of(client, record["url"]), np.asarray(picture()))
    assert not is_ai_generated(client.get(record["url"]).content)


def test_inpainting_keeps_every_pixel_outside_the_mask(client: httpx.Client) -> None:
    source = upload(client, picture())
    mask = upload(client, centre_mask().convert("RGB"))
    result = run_edit(client, operation="inpaint", source_image_id=source["id"],
                      mask_image_id=mask["id"])  # fmt: skip
    assert (result["width"], result["height"]) == SIZE
    assert (result["parent_id"], result["origin"]) == (source["id"], "composite")
    after, before = pixels_of(client, result["url"]), np.asarray(picture())
    far = np.asarray(centre_mask().filter(_grow(FEATHER_MARGIN))) == 0
    assert np.array_equal(after[far], before[far]), "untouched pixels come back exactly"
    inside = np.asarray(centre_mask()) == 255
    assert not np.array_equal(after[inside], before[inside]), "the masked area was repainted"
    data = client.get(result["url"]).content
    assert b"compositeWithTrainedAlgorithmicMedia" in data


def test_outpainting_keeps_the_source_in_its_place(client: httpx.Client) -> None:
    source = upload(client, picture())
    result = run_edit(client, operation="outpaint", source_image_id=source["id"],
                      width=256, height=160, left=32, top=16)  # fmt: skip
    assert (result["width"], result["height"]) == (256, 160)
    after = pixels_of(client, result["url"])
    assert np.array_equal(after[16 : 16 + 128, 32 : 32 + 192], np.asarray(picture()))


def test_upscale_doubles_and_a_variation_keeps_the_size(client: httpx.Client) -> None:
    source = upload(client, picture())
    bigger = run_edit(client, operation="upscale", source_image_id=source["id"])
    assert (bigger["width"], bigger["height"]) == (384, 256)
    varied = run_edit(client, operation="image_to_image", source_image_id=source["id"],
                      strength=0.5)  # fmt: skip
    assert (varied["width"], varied["height"], varied["parent_id"]) == (*SIZE, source["id"])


def test_a_generated_image_stays_fully_ai_through_edits(client: httpx.Client) -> None:
    generated = run_edit(client, width=192, height=128)
    assert generated["origin"] == "generated"
    varied = run_edit(client, operation="image_to_image", source_image_id=generated["id"])
    assert varied["origin"] == "generated"
    cropped = client.post(
        f"/api/v1/images/{varied['id']}/edits",
        json={"edits": [{"kind": "crop_to_slot", "width": 64, "height": 32}]},
    )
    assert cropped.status_code == 201, cropped.text
    assert (cropped.json()["width"], cropped.json()["height"]) == (64, 32)
    assert cropped.json()["origin"] == "generated"
    assert is_ai_generated(client.get(cropped.json()["url"]).content)


def test_plain_edits_answer_at_once_with_lineage(client: httpx.Client) -> None:
    source = upload(client, picture())
    edits = [{"kind": "crop_to_slot", "width": 100, "height": 50},
             {"kind": "adjust", "brightness": 1.2},
             {"kind": "text", "text": "新品上市 New", "anchor": "bottom-right"}]  # fmt: skip
    answer = client.post(f"/api/v1/images/{source['id']}/edits", json={"edits": edits})
    assert answer.status_code == 201, answer.text
    edited = answer.json()
    assert (edited["width"], edited["height"], edited["parent_id"]) == (100, 50, source["id"])
    assert edited["origin"] == "original", "no model touched it"


def test_bad_edits_are_refused_and_queue_nothing(client: httpx.Client, server: ServerProcess
                                                ) -> None:  # fmt: skip
    source = upload(client, picture())
    small_mask = upload(client, centre_mask((96, 64)).convert("RGB"))
    before = client.get("/api/v1/tasks").json()["total"]
    cases = [
        ({"operation": "inpaint", "source_image_id": source["id"],
          "mask_image_id": small_mask["id"]}, "invalid_mask"),
        ({"operation": "inpaint", "source_image_id": source["id"]}, "invalid_request"),
        ({"operation": "image_to_image", "source_image_id": source["id"], "strength": 1.5},
         "invalid_request"),
        ({"operation": "outpaint", "source_image_id": source["id"], "width": 64, "height": 64},
         "invalid_request"),
        ({"operation": "upscale", "source_image_id": "0" * 32}, "not_found"),
        ({"operation": "upscale"}, "invalid_request"),
    ]  # fmt: skip
    for fields, code in cases:
        answer = client.post("/api/v1/generate", json={"prompt": "x", **fields})
        assert answer.status_code in (404, 422), (fields, answer.text)
        assert answer.json()["error"]["code"] == code, (fields, answer.text)
    for name, content, code in [
        ("a.gif", _gif(), "unsupported_image"),
        ("a.png", png(picture())[:200], "unsupported_image"),
        ("a.txt", b"hello", "unsupported_image"),
        ("bomb.png", png_claiming(50_000, 50_000), "image_too_large"),
    ]:  # fmt: skip
        refused = client.post("/api/v1/uploads", files={"file": (name, content)})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == code
    for url in ("https://images.example.com/a.png", f"{server.url}/api/v1/health",
                "http://169.254.169.254/latest/meta-data"):  # fmt: skip
        fetched = client.post("/api/v1/uploads/from-url", json={"url": url})
        assert fetched.status_code == 422, fetched.text
        assert fetched.json()["error"]["code"] == "url_refused"
    assert client.get("/api/v1/tasks").json()["total"] == before, "nothing was recorded"


def test_openai_sdk_edits_repaint_only_the_transparent_part_of_the_mask(
    server: ServerProcess,
) -> None:
    openai = pytest.importorskip("openai")
    mask = Image.new("RGBA", SIZE, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (48, 32, 144, 96))  # transparent: repaint this
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused-on-localhost") as sdk:
        answer = sdk.images.edit(
            image=("shot.png", png(picture()), "image/png"),
            mask=("mask.png", png(mask), "image/png"),
            prompt="a lantern in the middle",
            n=1,
            response_format="b64_json",
        )
    with Image.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json or ""))) as image:
        after = np.asarray(image.convert("RGB"))
    repaint = mask.getchannel("A").point(lambda alpha: 255 if alpha == 0 else 0)
    keep = np.asarray(repaint.filter(_grow(FEATHER_MARGIN))) == 0
    before = np.asarray(picture())
    assert after.shape == before.shape
    assert np.array_equal(after[keep], before[keep]), "opaque mask pixels are kept exactly"
    assert not np.array_equal(after[~keep], before[~keep])


def test_another_editors_image_cannot_be_used(client: httpx.Client, server: ServerProcess
                                             ) -> None:  # fmt: skip
    mine = upload(client, picture())
    created = huajia_command(["keys", "create", "other-editor"], server.data_dir)
    secret = created.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": secret}) as other:
        answer = other.post("/api/v1/generate", json={
            "prompt": "x", "operation": "upscale", "source_image_id": mine["id"]})  # fmt: skip
        assert answer.status_code == 404
        edit = other.post(
            f"/api/v1/images/{mine['id']}/edits",
            json={"edits": [{"kind": "flip", "direction": "horizontal"}]},
        )
        assert edit.status_code == 404


def _grow(pixels: int) -> Any:
    from PIL import ImageFilter

    return ImageFilter.MaxFilter(2 * pixels + 1)


def _gif() -> bytes:
    buffer = io.BytesIO()
    picture().save(buffer, "GIF")
    return buffer.getvalue()
