"""Publishing review: reviewers approve or reject images before editors may use them.

An image that needs review is stored under a held key, which /generated-images never serves;
approving it copies its bytes to the public key, rejecting an approved one copies them back.
Copies are made before the decision is recorded, and the new keys are owed a deletion in case
the process dies in between (the decision cancels that), so nothing is served that a reviewer
did not allow and no bytes are left behind for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huajia.auth.keys import Principal
from huajia.auth.policy import require_reviewer
from huajia.errors import InvalidRequest
from huajia.generation.purge import Purger
from huajia.jobs.model import DECISION_STATES, GalleryItem, ImageRecord, ReviewState, is_record_id
from huajia.jobs.notify import TASK, Notice
from huajia.jobs.review import Decision, Outgoing, ReviewOrder
from huajia.jobs.store import TaskStore
from huajia.storage.base import BlobStore, held_key, public_key

# A copy whose decision never got recorded (the process died) is deleted after this long.
UNRECORDED_COPY_SECONDS = 600.0
MAX_REASON_CHARS = 2000
IMAGE_ROUTE = "/generated-images/"


def review_wanted(policy: bool | None, preset: bool | None, default: bool) -> bool:
    """Whether new images wait for a reviewer: the key's (or global) policy when it says,
    else the style preset's flag, else the `review_required` setting."""
    if policy is not None:
        return policy
    if preset is not None:
        return preset
    return default


@dataclass(frozen=True)
class ReviewPage:
    items: list[GalleryItem]
    total: int


class ReviewService:
    def __init__(self, store: TaskStore, blobs: BlobStore, purger: Purger) -> None:
        self.store = store
        self.blobs = blobs
        self.purger = purger

    def decide(self, who: Principal, image_id: str, decision: str, reason: str | None
               ) -> list[ImageRecord]:  # fmt: skip
        """Approve or reject the image (and every copy of its bytes); the same decision twice
        changes nothing. Returns the image records as they now are."""
        require_reviewer(who)
        state = DECISION_STATES.get(decision)
        if state is None:
            raise InvalidRequest(f"unknown decision {decision!r}: use approve or reject")
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise InvalidRequest(f"a reason may be at most {MAX_REASON_CHARS} characters")
        if state == "rejected" and reason is None:
            raise InvalidRequest("a rejection needs a reason the editor can act on")
        image = self._image(image_id)
        if image.review_state == state:
            return [image]
        move = public_key if state == "approved" else held_key
        key = move(image.key)
        thumbnail = move(image.thumbnail_key) if image.thumbnail_key else None
        self._copy(image, key, thumbnail)
        decided = Decision(image.id, state, who.key_id, who.name, reason, key, thumbnail)
        changed = self.store.review.decide(decided, Outgoing(f"image.{state}", _payload))
        self.store.notifier.send({Notice(TASK, record.task_id) for record in changed})  # SSE
        self.purger.purge_due()
        return changed

    def queue(self, who: Principal, state: ReviewState, order: ReviewOrder, limit: int,
              offset: int) -> ReviewPage:  # fmt: skip
        require_reviewer(who)
        found, total = self.store.review.queue(state, order, limit, offset)
        items = [self.store.get_image(image.id) for image in found]
        return ReviewPage(items, total)

    def _image(self, image_id: str) -> ImageRecord:
        if not is_record_id(image_id):
            raise InvalidRequest(f"{image_id!r} is not an image id")
        return self.store.get_image(image_id).image

    def _copy(self, image: ImageRecord, key: str, thumbnail: str | None) -> None:
        pairs = [(image.key, key, image.content_type)]
        if image.thumbnail_key and thumbnail:
            pairs.append((image.thumbnail_key, thumbnail, "image/webp"))
        targets = [target for source, target, _ in pairs if source != target]
        if not targets:
            return
        self.store.deletions.owe(targets, after_seconds=UNRECORDED_COPY_SECONDS)
        for source, target, content_type in pairs:
            if source != target and not self.blobs.exists(target):
                self.blobs.put(target, self.blobs.get(source), content_type)


def _payload(image: ImageRecord) -> dict[str, Any]:
    """A review webhook's body; URLs are relative (the sender makes them absolute)."""
    published = image.publishable
    return {
        "event": f"image.{image.review_state}",
        "task_id": image.task_id,
        "image": {
            "id": image.id,
            "review_state": image.review_state,
            "review_reason": image.review_reason,
            "reviewed_at": image.reviewed_at.isoformat() if image.reviewed_at else None,
            "url": IMAGE_ROUTE + image.key if published else None,
            "thumbnail_url": IMAGE_ROUTE + image.thumbnail_key
            if published and image.thumbnail_key
            else None,
        },
    }
