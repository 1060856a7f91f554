"""Images that need no GPU: uploads (sources to edit) and plain edits (crop, colour, text).

Both answer at once. Each is recorded as a task born completed with one image record, like
a result from the cache, so every image has an owner, a history and (for an edit) the
image it came from; bytes go to the blob store and the record is written after them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image

from huajia.auth.keys import Principal
from huajia.edits import EditOperation, FontLibrary, apply_edit, describe_edits, resolve_edit
from huajia.edits.operation import TextOverlay
from huajia.generation.operations import as_ref, usable_source
from huajia.generation.policy import KeyPolicies
from huajia.generation.review import review_wanted
from huajia.images.encode import EncodedImage, make_thumbnail
from huajia.images.labeler import Labeler
from huajia.images.mark import VisibleMark
from huajia.images.sources import SourceImage, SourceLimits
from huajia.jobs.model import ImageRecord, NewImage, NewTask, Task
from huajia.jobs.requests import (
    GenerationCommand,
    ImageOrigin,
    OutputFormat,
    Retouch,
    TaskRequest,
    Upload,
    result_origin,
)
from huajia.jobs.rows import new_id
from huajia.jobs.store import TaskStore
from huajia.policy import EffectivePolicy
from huajia.storage.base import BlobStore, held_key, new_image_key, thumbnail_key


@dataclass(frozen=True)
class Stored:
    """Bytes to keep for a new image, with what its record needs."""

    data: bytes
    content_type: str
    extension: str
    format: str
    image: Image.Image
    thumbnail: EncodedImage
    id: str | None = None  # the id the file's label names


class EditingService:
    """Uploads and plain edits, owned by the caller like generated images."""

    def __init__(self, store: TaskStore, blobs: BlobStore, model: str, fonts: FontLibrary,
                 limits: SourceLimits, labeler: Labeler | None = None,
                 mark: VisibleMark | None = None, policies: KeyPolicies | None = None,
                 review_required: bool = False) -> None:  # fmt: skip
        self.store = store
        self.blobs = blobs
        self.model = model
        self.fonts = fonts
        self.limits = limits
        self.policies = policies or KeyPolicies(store, None)
        self.labeler = labeler or Labeler.ephemeral()
        self.mark = mark  # the visible AI mark for retouched AI images (None: none)
        self.review_required = review_required

    def admit(self, who: Principal) -> None:
        """Count an upload against the key's rate (RateLimited), before it is decoded."""
        self.policies.admit(who)

    def upload(self, who: Principal, source: SourceImage, filename: str | None,
               metered: bool = True) -> ImageRecord:  # fmt: skip
        """Keep a checked upload as an image the caller may edit (no AI label: a photo);
        `metered` False for an upload counted already (`admit`, or the request it is part of)."""
        if metered:
            self.policies.admit(who)
        request = TaskRequest(
            asked=GenerationCommand(prompt=""), model=self.model,
            operation=Upload(filename=filename, sha256=source.sha256),
        )  # fmt: skip
        # The editor's own bytes, untouched: no model made them, so no AI label either.
        thumb = make_thumbnail(source.image, origin="original")
        stored = Stored(source.data, source.content_type, "png", "png", source.image, thumb)
        return self._record(who, request, stored, "original", parent=None)

    def retouch(self, who: Principal, image_id: str, edits: list[EditOperation],
                output_format: OutputFormat = "png") -> ImageRecord:  # fmt: skip
        """Apply plain edits to one of the caller's images; the result is a new image."""
        texts = (edit.text for edit in edits if isinstance(edit, TextOverlay))
        policy = self.policies.admit(who, *texts)
        parent = usable_source(self.store, who, image_id, "image_id")
        source = as_ref(parent)
        with Image.open(io.BytesIO(self.blobs.get(source.key))) as opened:
            pixels = opened.convert("RGBA" if opened.mode in ("RGBA", "LA") else "RGB")
        settled, result = _settle(pixels, edits, self.fonts)
        operation = Retouch(source=source, edits=settled)
        origin = result_origin(operation)
        request = TaskRequest(
            asked=parent.task.request.asked.model_copy(update={"output_format": output_format}),
            model=parent.task.request.model, operation=operation,
            mark=self.mark if origin != "original" else None,
            review=self._needs_review(parent.image, origin, policy),
        )  # fmt: skip
        parameters = {
            "prompt": parent.task.request.prompt, "parent_id": image_id, "origin": origin,
            **describe_edits(list(settled)),
        }  # fmt: skip
        new = new_id()
        labelled = self.labeler.label(result, output_format, parameters, new, request.mark)
        encoded = labelled.file
        stored = Stored(encoded.data, encoded.content_type, encoded.extension, output_format,
                        result, labelled.thumbnail, new)  # fmt: skip
        return self._record(who, request, stored, origin, parent=image_id)

    def _record(self, who: Principal, request: TaskRequest, stored: Stored,
                origin: ImageOrigin, parent: str | None) -> ImageRecord:  # fmt: skip
        now = datetime.now(UTC)
        key = new_image_key(request.operation.kind, 0, stored.extension, now)
        thumb_at = thumbnail_key(key)
        if request.review:  # held until a reviewer approves it
            key, thumb_at = held_key(key), held_key(thumb_at)
        thumb = stored.thumbnail
        written = []
        try:
            self.blobs.put(key, stored.data, stored.content_type)
            written.append(key)
            self.blobs.put(thumb_at, thumb.data, thumb.content_type)
            written.append(thumb_at)
            image = NewImage(
                index=0, key=key, thumbnail_key=thumb_at, format=stored.format,
                content_type=stored.content_type, width=stored.image.width,
                height=stored.image.height, seed=0, size_bytes=len(stored.data),
                parent_id=parent, origin=origin, id=stored.id,
                review_state="pending_review" if request.review else "none",
            )  # fmt: skip
            task = self.store.create_completed(
                NewTask(owner=who.key_id, request=request, image_count=1), [image]
            )
        except BaseException:
            for written_key in written:  # no orphan bytes without a record
                self.blobs.delete(written_key)
            raise
        self._audit(who, task)
        return task.images[0]

    def _needs_review(self, parent: ImageRecord, origin: ImageOrigin,
                      policy: EffectivePolicy) -> bool:  # fmt: skip
        """An edit of an image editors may not use yet waits too, whatever else says; else an
        AI image's edit is reviewed as generating is (an editor's own photo: never)."""
        if not parent.publishable:
            return True
        if origin == "original":
            return False
        return review_wanted(policy.review_required, None, self.review_required)

    def _audit(self, who: Principal, task: Task) -> None:
        action = f"image.{task.request.operation.kind}"
        self.store.audit(who.key_id, who.name, action, task.id, {"num_images": 1})


def _settle(image: Image.Image, edits: list[EditOperation], fonts: FontLibrary
            ) -> tuple[tuple[EditOperation, ...], Image.Image]:  # fmt: skip
    """The edits applied in order, each with its defaults decided on the image it met (the
    focus a crop found), so the record replays exactly; and the result."""
    settled = []
    for edit in edits:
        decided = resolve_edit(image, edit)
        image = apply_edit(image, decided, fonts=fonts)
        settled.append(decided)
    return tuple(settled), image
