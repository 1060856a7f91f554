"""What an editing command starts from and what size it makes, checked before it is queued.

A source is an image record the caller may see (a result, an upload, an earlier edit) and
that no reviewer rejected; the worker reads its bytes by blob key. What is made from a source
still waiting for review waits for review too, or its pixels would be published unreviewed.
Bad input (no source, a mask of another size, a canvas smaller than the source, an upscale
past the model's limit) is refused here, so nothing that cannot run is ever queued.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from huajia.auth.keys import Principal
from huajia.auth.policy import can_view
from huajia.engine.models import ModelLimits
from huajia.errors import ImageRejected, InvalidMask, InvalidRequest, NotFound
from huajia.generation.downloads import may_see
from huajia.jobs.model import GalleryItem, is_record_id
from huajia.jobs.requests import (
    GenerationCommand,
    ImageToImage,
    Inpaint,
    Operation,
    Outpaint,
    SourceRef,
    TextToImage,
    Upscale,
)
from huajia.jobs.store import TaskStore

DEFAULT_VARIATION_STRENGTH = 0.6
DEFAULT_UPSCALE_STRENGTH = 0.3


@dataclass(frozen=True)
class Planned:
    """The operation, the output size it fixes (None: the command's or the default), and
    whether its source waits for review (then so must its results, whatever else says)."""

    operation: Operation
    size: tuple[int, int] | None = None
    held: bool = False


def plan_operation(store: TaskStore, who: Principal, command: GenerationCommand,
                   limits: ModelLimits) -> Planned:  # fmt: skip
    """The typed operation for a command, its sources looked up and its sizes checked."""
    kind = command.operation
    if kind == "text_to_image":
        if command.source_image_id or command.mask_image_id:
            raise InvalidRequest("source_image_id and mask_image_id need an editing operation")
        return Planned(TextToImage())
    if command.source_image_id is None:
        raise InvalidRequest(f"operation {kind!r} needs source_image_id (the image to edit)")
    item = usable_source(store, who, command.source_image_id, "source_image_id")
    planned = _plan_edit(store, who, command, as_ref(item), limits)
    return replace(planned, held=not item.image.publishable)


def _plan_edit(store: TaskStore, who: Principal, command: GenerationCommand, source: SourceRef,
               limits: ModelLimits) -> Planned:  # fmt: skip
    kind = command.operation
    if kind == "image_to_image":
        strength = _strength(command, DEFAULT_VARIATION_STRENGTH)
        return Planned(ImageToImage(source=source, strength=strength), _fit(source, limits))
    if kind == "inpaint":
        return Planned(_inpaint(store, who, command, source), _fit(source, limits))
    if kind == "outpaint":
        return _outpaint(command, source, limits)
    return _upscale(command, source, limits)


def usable_source(store: TaskStore, who: Principal, image_id: str, field: str) -> GalleryItem:
    """One of the caller's images (admins: anyone's) that they may see (NotFound for anything
    else: no existence leak) and that no reviewer rejected (ImageRejected, for a reviewer or
    admin who may still see it)."""
    if not is_record_id(image_id):
        raise NotFound(f"{field}: no image {image_id!r}")
    item = store.get_image(image_id)
    if not (can_view(who, item.task.owner) and may_see(who, item)):
        raise NotFound(f"{field}: no image {image_id!r}")
    if item.image.review_state == "rejected":
        raise ImageRejected(
            f"{field}: image {image_id} was rejected in review; it cannot be edited or reused"
        )
    return item


def source_ref(store: TaskStore, who: Principal, image_id: str, field: str) -> SourceRef:
    """The usable source's reference, as the stored request holds it."""
    return as_ref(usable_source(store, who, image_id, field))


def as_ref(item: GalleryItem) -> SourceRef:
    image = item.image
    return SourceRef(image_id=image.id, key=image.key, width=image.width, height=image.height,
                     origin=image.origin)  # fmt: skip


def _inpaint(store: TaskStore, who: Principal, command: GenerationCommand,
             source: SourceRef) -> Inpaint:  # fmt: skip
    if command.mask_image_id is None:
        raise InvalidRequest("operation 'inpaint' needs mask_image_id (white marks what to redo)")
    mask = source_ref(store, who, command.mask_image_id, "mask_image_id")
    if (mask.width, mask.height) != (source.width, source.height):
        raise InvalidMask(
            f"the mask is {mask.width}x{mask.height} but the image is "
            f"{source.width}x{source.height}: they must be the same size"
        )
    return Inpaint(source=source, mask=mask, strength=_strength(command, 1.0))


def _outpaint(command: GenerationCommand, source: SourceRef, limits: ModelLimits) -> Planned:
    if command.width is None or command.height is None:
        raise InvalidRequest("operation 'outpaint' needs width and height: the new canvas")
    width, height = command.width, command.height
    if width < source.width or height < source.height or (width, height) == (
        source.width, source.height,
    ):  # fmt: skip
        raise InvalidRequest(
            f"outpaint extends an image: {width}x{height} must be larger than the "
            f"{source.width}x{source.height} source on at least one side and smaller on none"
        )
    left = (width - source.width) // 2 if command.left is None else command.left
    top = (height - source.height) // 2 if command.top is None else command.top
    if not (0 <= left <= width - source.width and 0 <= top <= height - source.height):
        raise InvalidRequest(
            f"the source placed at left={left}, top={top} does not fit in {width}x{height}"
        )
    _check_side(max(width, height), limits, "the outpainted canvas")
    return Planned(Outpaint(source=source, left=left, top=top), (width, height))


def _upscale(command: GenerationCommand, source: SourceRef, limits: ModelLimits) -> Planned:
    multiple = limits.size_multiple
    size = (_round(source.width * 2, multiple), _round(source.height * 2, multiple))
    _check_side(max(size), limits, "twice this image")
    strength = _strength(command, DEFAULT_UPSCALE_STRENGTH)
    return Planned(Upscale(source=source, strength=strength), size)


def _fit(source: SourceRef, limits: ModelLimits) -> tuple[int, int]:
    """The source's own size, rounded to the model's multiple (the engine fits the image)."""
    multiple = limits.size_multiple
    width, height = _round(source.width, multiple), _round(source.height, multiple)
    _check_side(max(width, height), limits, "this image")
    return max(width, limits.min_size), max(height, limits.min_size)


def _round(value: int, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def _check_side(side: int, limits: ModelLimits, what: str) -> None:
    if side > limits.max_size:
        raise InvalidRequest(
            f"{what} would be {side} pixels on its longer side; this model makes at most "
            f"{limits.max_size}"
        )


def _strength(command: GenerationCommand, default: float) -> float:
    strength = default if command.strength is None else command.strength
    if not 0.0 < strength <= 1.0:
        raise InvalidRequest(f"strength must be above 0 and at most 1, not {strength}")
    return strength
