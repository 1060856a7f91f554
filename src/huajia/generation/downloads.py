"""One image seen in full (its task, parent and children), converted downloads, and zips.

Who may see an image is the same everywhere: its owner (admins: anyone's) while it waits for
review or once published, but not once rejected; reviewers and admins always. An image the
caller may not see does not exist for them (NotFound), so ids of others' work reveal nothing.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from huajia.auth.keys import Principal
from huajia.auth.policy import can_review, can_view
from huajia.errors import InvalidRequest, NotFound
from huajia.images.convert import Slot, convert_image
from huajia.images.encode import EncodedImage, ImageFormat
from huajia.images.labeler import Labeler
from huajia.jobs.model import GalleryItem, is_record_id
from huajia.jobs.store import TaskStore
from huajia.presets.model import SizePreset
from huajia.storage.base import BlobStore

ZIP_MAX_IMAGES = 100


@dataclass(frozen=True)
class ImageDetail:
    """An image with the task that made it, the image it came from and those made from it."""

    item: GalleryItem
    parent: GalleryItem | None
    children: list[GalleryItem]


@dataclass(frozen=True)
class Download:
    """A file to send and the name to save it under."""

    file: EncodedImage
    filename: str


def may_see(who: Principal, item: GalleryItem) -> bool:
    """Reviewers and admins see every image; its owner every one not rejected."""
    if can_review(who):
        return True
    return can_view(who, item.task.owner) and item.image.review_state != "rejected"


class ImageDownloads:
    """Reads images for the people allowed to see them, in the format and size they ask."""

    def __init__(self, store: TaskStore, blobs: BlobStore, labeler: Labeler,
                 sizes: Callable[[str], SizePreset]) -> None:  # fmt: skip
        self.store = store
        self.blobs = blobs
        self.labeler = labeler
        self.sizes = sizes

    def visible(self, who: Principal, image_id: str) -> GalleryItem:
        """The image and its task, or NotFound when there is none `who` may see."""
        if not is_record_id(image_id):
            raise NotFound(f"no image {image_id!r}")
        item = self.store.get_image(image_id)
        if not may_see(who, item):
            raise NotFound(f"no image {image_id}")
        return item

    def detail(self, who: Principal, image_id: str) -> ImageDetail:
        item = self.visible(who, image_id)
        parent = self._seen(who, item.image.parent_id)
        children = [c for c in self.store.image_children(image_id) if may_see(who, c)]
        return ImageDetail(item, parent, children)

    def download(self, who: Principal, image_id: str, fmt: ImageFormat | None,
                 size: str | None) -> Download:  # fmt: skip
        """The file as stored, or converted to `fmt` and fitted to the size preset `size`."""
        item = self.visible(who, image_id)
        image = item.image
        slot_name = None
        slot = None
        if size:
            preset = self.sizes(size)
            slot, slot_name = Slot(preset.width, preset.height), preset.name
        data = self.blobs.get(image.key)
        if slot is None and (fmt is None or fmt == image.format):
            file = EncodedImage(data, image.content_type, image.key.rsplit(".", 1)[-1],
                                image.width, image.height)  # fmt: skip
        else:
            target: ImageFormat = fmt or _stored_format(image.format)
            file = convert_image(data, target, image.id, self.labeler, slot)
        suffix = f"-{slot_name}" if slot_name else ""
        return Download(file, f"huajia-{image.seed}-{image.id[:8]}{suffix}.{file.extension}")

    def zip(self, who: Principal, image_ids: list[str]) -> Iterator[bytes]:
        """A zip of the stored files, every id checked before the first byte is sent."""
        unique = list(dict.fromkeys(image_ids))
        if not unique or len(unique) > ZIP_MAX_IMAGES:
            raise InvalidRequest(f"a zip holds 1 to {ZIP_MAX_IMAGES} images, not {len(unique)}")
        items = [self.visible(who, image_id) for image_id in unique]
        return _zip_stream(self._files(items))

    def _files(self, items: list[GalleryItem]) -> Iterator[tuple[str, bytes]]:
        for item in items:
            image = item.image
            name = f"huajia-{image.seed}-{image.id[:8]}.{image.key.rsplit('.', 1)[-1]}"
            yield name, self.blobs.get(image.key)

    def _seen(self, who: Principal, image_id: str | None) -> GalleryItem | None:
        if image_id is None:
            return None
        try:
            return self.visible(who, image_id)
        except NotFound:  # deleted, or someone else's: the lineage stops here
            return None


def _stored_format(name: str) -> ImageFormat:
    return "webp" if name == "webp" else "jpeg" if name in ("jpeg", "jpg") else "png"


class _Sink:
    """Write-only (no tell or seek, so zipfile streams): the response drains what it holds."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def _zip_stream(files: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files:
            archive.writestr(name, data)  # images are compressed already
            yield sink.drain()
    yield sink.drain()
