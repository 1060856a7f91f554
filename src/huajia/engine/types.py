"""The engine's neutral types: what is asked, what comes back. No torch here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class LoraRef:
    """A loaded LoRA by name, with its strength for one request."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class GenerationRequest:
    """What a caller asks for; a parameter left as None takes the model's default."""

    prompt: str
    negative_prompt: str | None = None
    n: int = 1
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    loras: tuple[LoraRef, ...] = ()


@dataclass(frozen=True)
class ResolvedRequest:
    """A request with every parameter decided and checked; seeds fixed per image."""

    prompt: str
    negative_prompt: str
    n: int
    steps: int
    guidance: float
    width: int
    height: int
    seeds: tuple[int, ...]
    loras: tuple[LoraRef, ...]

    def batch_key(self) -> tuple[Any, ...]:
        """Requests with equal keys can share one pipeline call."""
        return (self.steps, self.guidance, self.width, self.height, self.loras)

    def for_image(self, index: int) -> ResolvedRequest:
        """The request that regenerates image `index` alone."""
        seed = self.seeds[index]
        return ResolvedRequest(
            self.prompt, self.negative_prompt, 1, self.steps, self.guidance,
            self.width, self.height, (seed,), self.loras,
        )  # fmt: skip


@dataclass(frozen=True)
class GeneratedImage:
    """One image with the seed that reproduces it."""

    image: Image
    seed: int
    index: int


@dataclass(frozen=True)
class GenerationResult:
    """The images of one request and the parameters that made them."""

    request: ResolvedRequest
    images: tuple[GeneratedImage, ...]
    model: str
    weights: str | None
    seconds: float
    operation: dict[str, object] | None = None
    """For an edit, its kind and parameters (strength, feather...); None for text-to-image."""

    def parameters_for(self, image: GeneratedImage) -> dict[str, object]:
        """What to embed in an image file so it can be reproduced."""
        request = self.request
        parameters: dict[str, object] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": image.seed,
            "index": image.index,
            "steps": request.steps,
            "guidance": request.guidance,
            "width": request.width,
            "height": request.height,
            "model": self.model,
            "weights": self.weights,
            "loras": [{"name": ref.name, "weight": ref.weight} for ref in request.loras],
        }
        if self.operation is not None:
            parameters["operation"] = dict(self.operation)
        return parameters


ProgressCallback = Callable[[int, int], None]
"""Called after each denoising step with (step done, total steps)."""


class CancelToken:
    """Set from any thread; the engine checks it between denoising steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def canceled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class PreviewFrame:
    """One image's state at a step: RGB pixels (row-major, 3 bytes each), small."""

    index: int  # the image's place in its request
    step: int
    total: int
    width: int
    height: int
    rgb: bytes


@dataclass(frozen=True)
class PreviewFeed:
    """A request's wish for previews: one every `every` steps while `wanted()` says someone
    watches, handed to `send` (called on the GPU's thread: keep it quick)."""

    every: int
    wanted: Callable[[], bool]
    send: Callable[[PreviewFrame], None]

    def due(self, step: int, total: int) -> bool:
        """After `step` of `total`: the last step is left out (the images follow at once)."""
        return self.every > 0 and step % self.every == 0 and step < total and self.wanted()


@dataclass
class BatchItem:
    """One request inside a shared pipeline call, with its own progress and cancel."""

    request: ResolvedRequest
    on_progress: ProgressCallback | None = None
    cancel: CancelToken | None = None
    previews: PreviewFeed | None = None

    @property
    def canceled(self) -> bool:
        return self.cancel is not None and self.cancel.canceled
