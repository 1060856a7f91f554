"""An image in full, converted downloads and zips, through a real server with review on.

The same rules as an image's bytes: its owner sees it while it waits (never once rejected),
reviewers see everything, other editors nothing; a converted file keeps the AI labels.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from huajia.images.encode import is_ai_generated, read_parameters, read_xmp
from huajia.images.labels import read_label
from tests.e2e.test_auth import create_key
from tests.e2e.test_governance import as_key, generated
from tests.support.server import ServerProcess, start_huajia

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clients(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, httpx.Client]]:  # fmt: skip
    data = tmp_path_factory.mktemp("detail")
    keys = {role: create_key(data, f"{role}-key", role) for role in ("editor", "reviewer")}
    keys["other"] = create_key(data, "other-editor", "editor")
    server: ServerProcess = start_huajia(data, tiny_model_dir, {"HUAJIA_REVIEW_REQUIRED": "1"})
    opened = {role: as_key(server, key) for role, key in keys.items()}
    opened["anonymous"] = httpx.Client(base_url=server.url, timeout=30)
    yield opened
    for client in opened.values():
        client.close()
    server.stop()


def test_the_detail_shows_parameters_seed_preset_and_lineage(
    clients: dict[str, httpx.Client],
) -> None:
    editor = clients["editor"]
    source = generated(editor, count=1)["images"][0]
    flip = {"edits": [{"kind": "flip", "direction": "horizontal"}]}
    flipped = editor.post(f"/api/v1/images/{source['id']}/edits", json=flip)
    assert flipped.status_code == 201, flipped.text

    detail = editor.get(f"/api/v1/images/{source['id']}")
    child = editor.get(f"/api/v1/images/{flipped.json()['id']}")

    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["prompt"] == "a teapot on a desk" and body["seed"] == source["seed"]
    assert body["parameters"]["prompt"] == "a teapot on a desk"
    assert body["parameters"]["width"] == 64 and body["parameters"]["steps"] == 2
    assert "preset_version" in body and body["url"] is None  # waiting: no public address
    assert body["parent"] is None
    assert [c["id"] for c in body["children"]] == [flipped.json()["id"]]
    assert child.json()["parent"]["id"] == source["id"]
    assert clients["other"].get(f"/api/v1/images/{source['id']}").status_code == 404
    assert clients["anonymous"].get(f"/api/v1/images/{source['id']}").status_code == 401
    assert clients["reviewer"].get(f"/api/v1/images/{source['id']}").status_code == 200
    missing = editor.get("/api/v1/images/" + "0" * 32)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_downloads_convert_and_fit_a_slot_keeping_the_labels(
    clients: dict[str, httpx.Client],
) -> None:
    editor = clients["editor"]
    image = generated(editor, count=1)["images"][0]
    route = f"/api/v1/images/{image['id']}/download"

    webp = editor.get(route, params={"format": "webp"})
    cover = editor.get(route, params={"format": "jpeg", "size": "cover"})
    stored = editor.get(route)

    assert webp.status_code == 200, webp.text
    assert webp.headers["content-type"] == "image/webp"
    assert "attachment" in webp.headers["content-disposition"]
    assert Image.open(io.BytesIO(webp.content)).format == "WEBP"
    assert read_parameters(webp.content)["prompt"] == "a teapot on a desk"
    assert is_ai_generated(webp.content)
    assert read_label(read_xmp(webp.content) or "") is not None
    assert cover.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(cover.content)).size == (64, 36)  # 16:9, never enlarged
    assert is_ai_generated(cover.content)
    assert stored.content == editor.get(image["preview_url"]).content
    unknown = editor.get(route, params={"size": "billboard"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_preset")
    assert editor.get(route, params={"format": "gif"}).status_code == 422
    assert clients["other"].get(route, params={"format": "webp"}).status_code == 404


def test_a_zip_holds_the_chosen_images_and_rejected_ones_are_not_served(
    clients: dict[str, httpx.Client],
) -> None:
    editor, reviewer = clients["editor"], clients["reviewer"]
    first, second = generated(editor, count=2)["images"]

    packed = editor.post("/api/v1/images/zip", json={"ids": [first["id"], second["id"]]})

    assert packed.status_code == 200, packed.text
    assert packed.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(packed.content))
    assert len(archive.namelist()) == 2
    assert {archive.read(name) for name in archive.namelist()} == {
        editor.get(first["preview_url"]).content,
        editor.get(second["preview_url"]).content,
    }

    reviewer.post(f"/api/v1/images/{second['id']}/review",
                  json={"decision": "reject", "reason": "off brand"})  # fmt: skip
    refused = editor.post("/api/v1/images/zip", json={"ids": [first["id"], second["id"]]})
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found")
    assert editor.get(f"/api/v1/images/{second['id']}").status_code == 404
    assert editor.get(f"/api/v1/images/{second['id']}/download").status_code == 404
    assert reviewer.get(f"/api/v1/images/{second['id']}/download").status_code == 200
    empty = editor.post("/api/v1/images/zip", json={"ids": []})
    assert empty.status_code == 422
