"""A task's request as the API accepts it, the store keeps it and the worker runs it.

One typed, versioned value crosses every joint: the service builds a `TaskRequest` from a
`GenerationCommand` (what the caller asked, in the seed API's names) and the settled
`Sampling` (what will run), plus one `Operation` saying what kind of work it is. The codec
below is the only place it becomes JSON and back; rows written before the typed request
(version 1: the caller's fields plus a "resolved" dict) are read through the same codec.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huajia.edits import EditOperation
from huajia.engine.types import LoraRef, ResolvedRequest
from huajia.errors import InvalidRequest
from huajia.images.mark import VisibleMark

REQUEST_VERSION = 2
OutputFormat = Literal["png", "webp", "jpeg"]
PriorityName = Literal["high", "normal", "low"]
OperationKind = Literal["text_to_image", "image_to_image", "inpaint", "outpaint", "upscale"]
# generated: every pixel from the model; composite: the model over a photo; original: a photo.
ImageOrigin = Literal["generated", "composite", "original"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LoraUse(_Value):
    name: str
    weight: float = 1.0


class GenerationCommand(_Value):
    """What a caller asks the service for (already checked for shape by the API)."""

    prompt: str
    negative_prompt: str | None = None
    num_images: int = 1
    steps: int | None = None
    cfg_scale: float | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    style_preset: str | None = None
    model: str | None = None
    priority: PriorityName = "normal"
    output_format: OutputFormat = "png"
    loras: tuple[LoraUse, ...] = ()
    webhook_url: str | None = None
    # Editing an image: which operation, on which image (ids of image records).
    operation: OperationKind = "text_to_image"
    source_image_id: str | None = None
    mask_image_id: str | None = None
    strength: float | None = None
    left: int | None = None
    top: int | None = None


class Sampling(_Value):
    """Every parameter decided: what the pipeline runs, seeds fixed per image."""

    prompt: str
    negative_prompt: str
    n: int
    steps: int
    guidance: float
    width: int
    height: int
    seeds: tuple[int, ...]
    loras: tuple[LoraUse, ...] = ()

    @classmethod
    def of(cls, resolved: ResolvedRequest) -> Sampling:
        loras = tuple(LoraUse(name=ref.name, weight=ref.weight) for ref in resolved.loras)
        return cls(
            prompt=resolved.prompt, negative_prompt=resolved.negative_prompt, n=resolved.n,
            steps=resolved.steps, guidance=resolved.guidance, width=resolved.width,
            height=resolved.height, seeds=resolved.seeds, loras=loras,
        )  # fmt: skip

    def to_engine(self) -> ResolvedRequest:
        return ResolvedRequest(
            prompt=self.prompt, negative_prompt=self.negative_prompt, n=self.n,
            steps=self.steps, guidance=self.guidance, width=self.width, height=self.height,
            seeds=self.seeds, loras=tuple(LoraRef(lora.name, lora.weight) for lora in self.loras),
        )  # fmt: skip


class SourceRef(_Value):
    """An image record an operation starts from, and where its bytes are."""

    image_id: str
    key: str
    width: int
    height: int
    origin: ImageOrigin = "generated"


class TextToImage(_Value):
    kind: Literal["text_to_image"] = "text_to_image"


class ImageToImage(_Value):
    """A variation: redraw the source after the prompt, `strength` 0-1 away from it."""

    kind: Literal["image_to_image"] = "image_to_image"
    source: SourceRef
    strength: float


class Inpaint(_Value):
    """Repaint where the mask is white; every other pixel comes back as in the source."""

    kind: Literal["inpaint"] = "inpaint"
    source: SourceRef
    mask: SourceRef
    strength: float = 1.0
    feather: int = 8


class Outpaint(_Value):
    """Extend the source, placed at (left, top), to the sampling's larger canvas."""

    kind: Literal["outpaint"] = "outpaint"
    source: SourceRef
    left: int
    top: int
    feather: int = 16


class Upscale(_Value):
    """Twice the size: a resize, then a low-strength redraw that adds detail."""

    kind: Literal["upscale"] = "upscale"
    source: SourceRef
    strength: float = 0.3


class Upload(_Value):
    """A file an editor brought (born completed; no GPU work)."""

    kind: Literal["upload"] = "upload"
    filename: str | None = None
    sha256: str


class Retouch(_Value):
    """Plain edits (crop, colour, text) of one image: synchronous, no GPU."""

    kind: Literal["retouch"] = "retouch"
    source: SourceRef
    edits: tuple[EditOperation, ...]


Operation = Annotated[
    TextToImage | ImageToImage | Inpaint | Outpaint | Upscale | Upload | Retouch,
    Field(discriminator="kind"),
]
AiEdit = ImageToImage | Inpaint | Outpaint | Upscale


def result_origin(operation: TextToImage | ImageToImage | Inpaint | Outpaint | Upscale
                  | Upload | Retouch) -> ImageOrigin:  # fmt: skip
    """What made an operation's pixels: the model alone, the model over a photo, or no model.

    It decides the IPTC digital source type embedded in the file.
    """
    if isinstance(operation, TextToImage):
        return "generated"
    if isinstance(operation, Upload):
        return "original"
    if isinstance(operation, Retouch):
        return operation.source.origin
    return "generated" if operation.source.origin == "generated" else "composite"


class TaskRequest(_Value):
    """The stored request: the caller's words, the model, and the settled work.

    `sampling` is None for work without the model (uploads, plain edits). `mark` is the
    visible AI mark decided at submit (None: none), so the worker draws exactly that.
    """

    version: Literal[2] = 2
    asked: GenerationCommand
    model: str
    operation: Operation = TextToImage()
    sampling: Sampling | None = None
    # Decided at submit: its images wait for a reviewer before editors may use them.
    review: bool = False
    mark: VisibleMark | None = None
    # The version of `asked.style_preset` that was expanded (presets are edited at run time).
    preset_version: int | None = None
    # The X-Request-ID of the HTTP request that created the task: the worker's log lines
    # about the task carry it.
    request_id: str | None = None

    @property
    def sampled(self) -> Sampling:
        """The sampling of work that runs the model (queued work always does)."""
        if self.sampling is None:
            raise ValueError(f"a {self.operation.kind} request runs no model")
        return self.sampling

    @property
    def prompt(self) -> str:
        return self.asked.prompt

    @property
    def style_preset(self) -> str | None:
        return self.asked.style_preset

    @property
    def output_format(self) -> OutputFormat:
        return self.asked.output_format

    def parameters(self) -> dict[str, Any]:
        """What a caller reads back: their own fields, the model, and what actually ran."""
        return {
            **self.asked.model_dump(mode="json", exclude={"webhook_url"}),
            "model": self.model,
            "operation": self.operation.kind,
            "preset_version": self.preset_version,
            "resolved": self.sampling.model_dump(mode="json") if self.sampling else None,
        }


def encode_request(request: TaskRequest) -> dict[str, Any]:
    """The JSON the store keeps. `model`, `prompt` and `style_preset` stay at the top level
    (the store filters and searches on them) in every version."""
    return {
        **request.model_dump(mode="json"),
        "prompt": request.prompt,
        "style_preset": request.style_preset,
    }


def decode_request(data: dict[str, Any]) -> TaskRequest:
    """A stored request of any version; InvalidRequest if it is not one."""
    try:
        if "version" not in data:
            return _from_version_1(data)
        fields = {key: value for key, value in data.items() if key not in _DERIVED}
        return TaskRequest.model_validate(fields)
    except (ValidationError, KeyError, TypeError) as error:
        raise InvalidRequest(f"not a stored task request: {error}") from None


_DERIVED = frozenset({"prompt", "style_preset"})


def _from_version_1(data: dict[str, Any]) -> TaskRequest:
    """Rows written before the typed request: the caller's body plus model and `resolved`."""
    asked = {key: value for key, value in data.items() if key not in {"resolved"}}
    asked["loras"] = tuple(asked.get("loras") or ())
    return TaskRequest(
        asked=GenerationCommand.model_validate(asked),
        model=str(data["model"]),
        sampling=Sampling.model_validate(data["resolved"]),
    )
