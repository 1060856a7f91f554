"""The image-editing jobs: what an edit asks for, as neutral types (PIL images, no torch).

Every job carries a `ResolvedRequest` (prompt, seeds, steps, LoRAs) whose width and height are
the size of the image it returns: the request size for image-to-image and inpaint, the new
canvas for outpaint, twice the source (see `edit_plan.upscaled_size`) for upscale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from huajia.engine.types import BatchItem, CancelToken, ProgressCallback, ResolvedRequest

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True)
class ImageToImageJob:
    """Redraw `source` after the prompt; `strength` 0–1 is how far it may move from it."""

    kind: ClassVar[str] = "image_to_image"
    request: ResolvedRequest
    source: Image
    strength: float = 0.6

    def batch_key(self) -> tuple[Any, ...]:
        """Jobs with equal keys can share one pipeline call."""
        return (self.kind, self.strength, *self.request.batch_key())

    def parameters(self) -> dict[str, object]:
        """What to embed in the result beside the request's parameters."""
        return {"kind": self.kind, "strength": self.strength, **_source_size(self.source)}


@dataclass(frozen=True)
class InpaintJob:
    """Repaint where `mask` (L mode, same size as `source`) is white; keep the rest exactly."""

    kind: ClassVar[str] = "inpaint"
    request: ResolvedRequest
    source: Image
    mask: Image
    strength: float = 1.0
    feather: int = 8

    def batch_key(self) -> tuple[Any, ...]:
        return (self.kind, self.strength, *self.request.batch_key())

    def parameters(self) -> dict[str, object]:
        sizes = _source_size(self.source)
        return {"kind": self.kind, "strength": self.strength, "feather": self.feather, **sizes}


@dataclass(frozen=True)
class OutpaintJob:
    """Extend `source`, placed at (left, top), to the request's larger canvas."""

    kind: ClassVar[str] = "outpaint"
    request: ResolvedRequest
    source: Image
    left: int
    top: int
    feather: int = 16
    strength: float = 1.0

    def batch_key(self) -> tuple[Any, ...]:
        return (self.kind, self.strength, *self.request.batch_key())

    def parameters(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "strength": self.strength,
            "left": self.left,
            "top": self.top,
            "feather": self.feather,
            **_source_size(self.source),
        }


@dataclass(frozen=True)
class UpscaleJob:
    """Twice the size: a LANCZOS resize, then a low-strength redraw that adds detail."""

    kind: ClassVar[str] = "upscale"
    request: ResolvedRequest
    source: Image
    strength: float = 0.3

    def batch_key(self) -> tuple[Any, ...]:
        return (self.kind, self.strength, *self.request.batch_key())

    def parameters(self) -> dict[str, object]:
        sizes = _source_size(self.source)
        return {"kind": self.kind, "scale": 2, "strength": self.strength, **sizes}


EditJob = ImageToImageJob | InpaintJob | OutpaintJob | UpscaleJob


@dataclass
class EditItem:
    """One edit job inside a shared pipeline call, with its own progress and cancel."""

    job: EditJob
    on_progress: ProgressCallback | None = None
    cancel: CancelToken | None = None

    @property
    def canceled(self) -> bool:
        return self.cancel is not None and self.cancel.canceled

    def as_batch_item(self) -> BatchItem:
        """The engine's batch item for the job's request, sharing progress and cancel."""
        return BatchItem(self.job.request, self.on_progress, self.cancel)


def _source_size(source: Image) -> dict[str, object]:
    return {"source_width": source.width, "source_height": source.height}
