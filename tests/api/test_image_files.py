"""Image bytes under /generated-images/: a file of usual size is read in one go, a large one
streamed; either way the client gets the same bytes, type and caching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from huajia.api.app import create_app
from huajia.api.routes import images
from huajia.composition import build_services
from huajia.settings import Settings
from huajia.storage.base import new_image_key


@pytest.fixture
def served(tiny_model_dir: Path, tmp_path: Path) -> Iterator[tuple[TestClient, str, bytes]]:
    services = build_services(Settings(data_dir=tmp_path / "data", model=str(tiny_model_dir)))
    data = bytes(range(256)) * 400  # 100 KiB
    key = new_image_key("task", 0, "png", datetime.now(UTC))
    services.blobs.put(key, data, "image/png")
    try:
        yield TestClient(create_app(services), base_url="http://localhost"), key, data
    finally:
        services.store.close()


@pytest.mark.parametrize("small_file", [images.SMALL_FILE, 1024], ids=["whole", "streamed"])
def test_an_image_file_comes_whole_or_streamed_with_the_same_answer(
    served: tuple[TestClient, str, bytes], small_file: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, data = served
    monkeypatch.setattr(images, "SMALL_FILE", small_file)

    response = client.get(f"/generated-images/{key}")

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(data))
    assert "immutable" in response.headers["cache-control"]
    download = client.get(f"/generated-images/{key}", params={"download": "1"})
    assert download.headers["content-disposition"].startswith('attachment; filename="huajia-')


def test_a_missing_file_or_a_folder_is_not_found(served: tuple[TestClient, str, bytes]) -> None:
    client, key, _ = served
    folder = key.split("/", 1)[0]
    for path in (f"{folder}/nothing-here.png", f"{folder}.png", folder + "/"):
        response = client.get(f"/generated-images/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
