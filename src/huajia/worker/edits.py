"""A stored editing request → the engine's edit job, with its source pixels read back.

Sources are image records in the blob store (results, uploads, earlier edits): the worker
reads them by key, never by path, so the same code runs on a local folder and on S3.
"""

from __future__ import annotations

import io

from PIL import Image

from huajia.engine.edit_types import (
    EditJob,
    ImageToImageJob,
    InpaintJob,
    OutpaintJob,
    UpscaleJob,
)
from huajia.errors import NotFound
from huajia.images.masks import native_mask
from huajia.jobs.requests import ImageToImage, Inpaint, Outpaint, TaskRequest, Upscale
from huajia.storage.base import BlobStore, held_key, is_held, public_key


def edit_job(request: TaskRequest, blobs: BlobStore) -> EditJob:
    """The engine job for an editing request (NotFound when a source's bytes are gone)."""
    sampling = request.sampled.to_engine()
    operation = request.operation
    if isinstance(operation, ImageToImage):
        source = read_image(blobs, operation.source.key)
        return ImageToImageJob(sampling, source, operation.strength)
    if isinstance(operation, Inpaint):
        source = read_image(blobs, operation.source.key)
        mask = read_mask(blobs, operation.mask.key)
        return InpaintJob(sampling, source, mask, operation.strength, operation.feather)
    if isinstance(operation, Outpaint):
        source = read_image(blobs, operation.source.key)
        return OutpaintJob(sampling, source, operation.left, operation.top, operation.feather)
    if isinstance(operation, Upscale):
        source = read_image(blobs, operation.source.key)
        return UpscaleJob(sampling, source, operation.strength)
    raise ValueError(f"{operation.kind} is not an editing operation")


def read_image(blobs: BlobStore, key: str) -> Image.Image:
    with Image.open(io.BytesIO(source_bytes(blobs, key))) as opened:
        return opened.convert("RGB")


def read_mask(blobs: BlobStore, key: str) -> Image.Image:
    """A stored mask in the native convention: white marks what to repaint."""
    with Image.open(io.BytesIO(source_bytes(blobs, key))) as opened:
        return native_mask(opened)


def source_bytes(blobs: BlobStore, key: str) -> bytes:
    """A source's bytes; a review decision made after the task was queued moves them between
    the held and the public name of the same key, so the other name is tried too."""
    try:
        return blobs.get(key)
    except NotFound:
        moved = public_key(key) if is_held(key) else held_key(key)
        return blobs.get(moved)
