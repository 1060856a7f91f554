"""Limits come before the work they protect, through the HTTP routes on SQLite and PostgreSQL:
a refused request leaves nothing stored, decodes no upload and resolves no webhook host."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PIL import Image
from pydantic import SecretStr
from starlette.testclient import TestClient

from huajia.api.app import create_app
from huajia.api.deps import Services
from huajia.auth.keys import generate_key, hash_key
from huajia.composition import build_services
from huajia.jobs.model import Role
from huajia.policy import PolicyRules
from huajia.settings import Settings


@dataclass
class Site:
    services: Services
    http: TestClient
    headers: dict[str, str]
    key_id: str

    def limit(self, **rules: int) -> None:
        self.services.store.policy.put(PolicyRules(**rules), "admin", self.key_id)  # type: ignore[arg-type]

    def gallery(self) -> list[str]:
        answer = self.http.get("/api/v1/images", headers=self.headers)
        return [image["id"] for image in answer.json()["images"]]

    def stored_files(self) -> set[Path]:
        root = self.services.settings.data_dir / "images"
        return {path for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def site(tiny_model_dir: Path, tmp_path: Path, store_url: str) -> Iterator[Site]:
    settings = Settings(data_dir=tmp_path, model=str(tiny_model_dir),
                        store_url=SecretStr(store_url),
                        webhook_secret=SecretStr("a-webhook-secret-long-enough-1234"))  # fmt: skip
    services = build_services(settings)
    secret, prefix = generate_key()
    key = services.store.keys.create("cms", Role.EDITOR, hash_key(secret), prefix)
    try:
        yield Site(services, TestClient(create_app(services), base_url="http://localhost"),
                   {"X-API-Key": secret}, key.id)  # fmt: skip
    finally:
        services.store.close()


def png(colour: tuple[int, ...] = (0, 128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA" if len(colour) == 4 else "RGB", (64, 64), colour).save(out, "PNG")
    return out.getvalue()


def openai_edit(site: Site, mask: bool = False) -> object:
    files = {"image": ("photo.png", png(), "image/png")}
    if mask:
        files["mask"] = ("mask.png", png((0, 0, 0, 0)), "image/png")  # transparent: repaint all
    return site.http.post("/v1/images/edits", data={"prompt": "a brighter sky"}, files=files,
                          headers=site.headers)  # fmt: skip


def test_openai_edits_over_the_quota_store_nothing(site: Site) -> None:
    site.limit(daily_image_quota=1)
    queued = site.http.post("/api/v1/generate", json={"prompt": "a lantern"},
                            headers=site.headers)  # fmt: skip
    assert queued.status_code == 202, queued.text
    gallery, files = site.gallery(), site.stored_files()

    answers = [openai_edit(site, mask=index % 2 == 1) for index in range(5)]

    assert [answer.status_code for answer in answers] == [429] * 5  # type: ignore[attr-defined]
    assert {answer.json()["error"]["code"] for answer in answers} == {"quota_exceeded"}  # type: ignore[attr-defined]
    assert site.gallery() == gallery
    assert site.stored_files() == files


def test_uploads_of_an_edit_refused_as_it_is_queued_are_removed(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quota filled between the look ahead and the insert (as by a parallel request)."""
    site.limit(daily_image_quota=1)
    site.http.post("/api/v1/generate", json={"prompt": "a lantern"}, headers=site.headers)
    monkeypatch.setattr(site.services.store, "check_admission", lambda *args: None)
    gallery, files = site.gallery(), site.stored_files()

    answer = openai_edit(site, mask=True)

    assert answer.status_code == 429  # type: ignore[attr-defined]
    assert site.gallery() == gallery
    assert site.stored_files() == files


def test_an_upload_over_the_rate_is_refused_before_it_is_decoded(site: Site) -> None:
    site.limit(rate_per_minute=1)
    first = site.http.post("/api/v1/uploads", files={"file": ("a.png", png(), "image/png")},
                           headers=site.headers)  # fmt: skip
    gallery, files = site.gallery(), site.stored_files()

    # Not an image at all: refused for the rate (429), not for its bytes (422).
    again = site.http.post("/api/v1/uploads", files={"file": ("b.png", b"junk", "image/png")},
                           headers=site.headers)  # fmt: skip
    by_url = site.http.post("/api/v1/uploads/from-url",
                            json={"url": "https://images.example/a.png"},
                            headers=site.headers)  # fmt: skip

    assert first.status_code == 201, first.text
    for answer in (again, by_url):
        assert answer.status_code == 429, answer.text
        assert answer.json()["error"]["code"] == "rate_limited"
    assert site.gallery() == gallery
    assert site.stored_files() == files


def test_a_rate_limited_request_never_resolves_its_webhook_host(site: Site) -> None:
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["93.184.216.34"]

    generation = site.services.generation
    assert generation.webhooks is not None
    generation.webhooks = replace(generation.webhooks, resolver=resolver)
    site.limit(rate_per_minute=1)
    body = {"prompt": "a lantern", "webhook_url": "https://slow-dns.example/hook"}
    lines = {"lines": "a lantern\na kite", "webhook_url": body["webhook_url"]}

    first = site.http.post("/api/v1/generate", json=body, headers=site.headers)
    resolved_once = list(looked_up)
    again = site.http.post("/api/v1/generate", json=body, headers=site.headers)
    batch = site.http.post("/api/v1/batches", json=lines, headers=site.headers)

    assert first.status_code == 202, first.text
    assert resolved_once == ["slow-dns.example"]
    for answer in (again, batch):
        assert answer.status_code == 429, answer.text
        assert answer.json()["error"]["code"] == "rate_limited"
    assert looked_up == resolved_once
