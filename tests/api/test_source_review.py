"""Review cannot be bypassed by reusing an image: through the HTTP routes, on SQLite and
PostgreSQL. A rejected image is no source for anything (its owner: 404, as on every read;
an admin who can still see it: 409 image_rejected), and whatever is made from an image still
waiting for review waits too, whatever the new request's own review setting."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr
from starlette.testclient import TestClient

from huajia.api.app import create_app
from huajia.api.deps import Services
from huajia.auth.keys import generate_key, hash_key
from huajia.composition import build_services
from huajia.jobs.model import GalleryItem, NewImage, Role
from huajia.settings import Settings
from huajia.storage.base import held_key, new_image_key, thumbnail_key
from tests.jobs.helpers import LEASE, a_task

AI_EDITS = [
    {"operation": "image_to_image", "strength": 0.01},
    {"operation": "upscale"},
    {"operation": "outpaint", "width": 128, "height": 128},
]


@dataclass
class Site:
    services: Services
    http: TestClient
    keys: dict[str, str]  # role name -> secret
    owners: dict[str, str]  # role name -> key id

    def as_(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}


@pytest.fixture
def site(tiny_model_dir: Path, tmp_path: Path, store_url: str) -> Iterator[Site]:
    """Review is not required anywhere: only what a request itself asks decides."""
    settings = Settings(data_dir=tmp_path, model=str(tiny_model_dir),
                        store_url=SecretStr(store_url), review_required=False)  # fmt: skip
    services = build_services(settings)
    keys, owners = {}, {}
    for name, role in (("editor", Role.EDITOR), ("other", Role.EDITOR),
                       ("reviewer", Role.REVIEWER), ("admin", Role.ADMIN)):  # fmt: skip
        secret, prefix = generate_key()
        keys[name] = secret
        owners[name] = services.store.keys.create(name, role, hash_key(secret), prefix).id
    try:
        yield Site(services, TestClient(create_app(services), base_url="http://localhost"),
                   keys, owners)  # fmt: skip
    finally:
        services.store.close()


def png(colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, "PNG")
    return out.getvalue()


def held_result(site: Site, owner: str = "editor") -> GalleryItem:
    """A generated image waiting for review, stored as the worker stores one."""
    store, blobs = site.services.store, site.services.blobs
    created = store.create(a_task(owner=site.owners[owner]))
    claimed = store.claim("worker-1", LEASE)
    assert claimed is not None and claimed.id == created.id
    key = held_key(new_image_key(created.id, 0, "png", datetime.now(UTC)))
    thumb = held_key(thumbnail_key(key))
    blobs.put(key, png(), "image/png")
    blobs.put(thumb, png(), "image/webp")
    record = NewImage(index=0, key=key, thumbnail_key=thumb, format="png",
                      content_type="image/png", width=64, height=64, seed=7, size_bytes=1,
                      review_state="pending_review")  # fmt: skip
    task = store.complete(created.id, "worker-1", claimed.attempts, [record])
    return store.get_image(task.images[0].id)


def decide(site: Site, image_id: str, decision: str) -> None:
    body = {"decision": decision, "reason": "the logo is wrong"}
    answer = site.http.post(f"/api/v1/images/{image_id}/review", json=body,
                            headers=site.as_("reviewer"))  # fmt: skip
    assert answer.status_code == 200, answer.text


def gallery(site: Site, who: str = "editor") -> list[str]:
    answer = site.http.get("/api/v1/images", headers=site.as_(who))
    return [image["id"] for image in answer.json()["images"]]


def ai_edit(site: Site, who: str, source: str, **fields: Any) -> Any:
    body = {"prompt": "the same, brighter", "source_image_id": source, **fields}
    return site.http.post("/api/v1/generate", json=body, headers=site.as_(who))


def rotate(site: Site, who: str, image_id: str) -> Any:
    body = {"edits": [{"kind": "rotate", "angle": 0}]}
    return site.http.post(f"/api/v1/images/{image_id}/edits", json=body, headers=site.as_(who))


def test_a_rejected_image_is_no_source_for_any_edit(site: Site) -> None:
    rejected = held_result(site).image.id
    decide(site, rejected, "reject")
    upload = site.http.post("/api/v1/uploads", files={"file": ("a.png", png(), "image/png")},
                            headers=site.as_("editor")).json()  # fmt: skip
    before = gallery(site)

    assert site.http.get(f"/api/v1/images/{rejected}/file",
                         headers=site.as_("editor")).status_code == 404  # fmt: skip
    answers = [rotate(site, "editor", rejected)]
    answers += [ai_edit(site, "editor", rejected, **fields) for fields in AI_EDITS]
    answers.append(ai_edit(site, "editor", upload["id"], operation="inpaint",
                           mask_image_id=rejected))  # fmt: skip
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"

    assert gallery(site) == before
    assert site.services.store.pending_count() == 0


def test_an_admin_who_still_sees_a_rejected_image_cannot_reuse_it_either(site: Site) -> None:
    rejected = held_result(site, owner="admin").image.id
    decide(site, rejected, "reject")

    assert site.http.get(f"/api/v1/images/{rejected}/file",
                         headers=site.as_("admin")).status_code == 200  # fmt: skip
    for answer in (rotate(site, "admin", rejected),
                   ai_edit(site, "admin", rejected, operation="upscale")):  # fmt: skip
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "image_rejected"
    assert site.services.store.pending_count() == 0


@pytest.mark.parametrize("fields", AI_EDITS, ids=[f["operation"] for f in AI_EDITS])
def test_an_ai_edit_of_an_image_waiting_for_review_waits_too(
    site: Site, fields: dict[str, Any]
) -> None:
    pending = held_result(site).image.id

    answer = ai_edit(site, "editor", pending, **fields)

    assert answer.status_code == 202, answer.text
    # What the worker reads to hold its results under a held key, unpublished.
    task = site.services.store.get(answer.json()["task_id"])
    assert task.request.review is True


def test_a_plain_edit_of_an_image_waiting_for_review_waits_too(site: Site) -> None:
    pending = held_result(site).image.id

    answer = rotate(site, "editor", pending)

    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["review"]["state"] == "pending_review"
    assert made["url"] is None and made["thumbnail_url"] is None


def test_once_approved_its_edits_need_no_review_of_their_own(site: Site) -> None:
    approved = held_result(site).image.id
    decide(site, approved, "approve")

    plain = rotate(site, "editor", approved)
    ai = ai_edit(site, "editor", approved, operation="image_to_image")

    assert plain.status_code == 201 and plain.json()["review"]["state"] == "none"
    assert plain.json()["url"] is not None
    assert ai.status_code == 202, ai.text
    assert site.services.store.get(ai.json()["task_id"]).request.review is False


def test_deleting_another_editors_image_is_not_found_like_reading_it(site: Site) -> None:
    image = held_result(site).image.id
    decide(site, image, "approve")

    read = site.http.get(f"/api/v1/images/{image}", headers=site.as_("other"))
    deleted = site.http.delete(f"/api/v1/images/{image}", headers=site.as_("other"))

    assert (read.status_code, deleted.status_code) == (404, 404)
    assert deleted.json()["error"]["code"] == read.json()["error"]["code"] == "not_found"
    assert image in gallery(site)  # still there for its owner
