"""The HTTP API's request and response models (field names kept from the seed service)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from huajia.edits import MAX_EDITS, EditOperation
from huajia.jobs.requests import GenerationCommand, LoraUse, OperationKind
from huajia.text import Text, no_control_characters

__all__ = ["Text", "no_control_characters"]  # the API's names for them, used by the routes
RecordId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


TaskStatusName = Literal["pending", "processing", "completed", "failed", "canceled"]
PriorityName = Literal["high", "normal", "low"]
OutputFormat = Literal["png", "webp", "jpeg"]


class LoraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    weight: float = Field(1.0, ge=-4.0, le=4.0)


class GenerateRequest(BaseModel):
    """POST /api/v1/generate: the seed's fields plus model, priority and output format."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"prompt": "a lighthouse at dusk", "num_images": 4}]},
    )

    prompt: Text = Field(min_length=1, max_length=4000, description="What to draw.")
    negative_prompt: Text | None = Field(None, max_length=4000)
    num_images: int = Field(1, ge=1, le=9, description="How many images (1-9).")
    steps: int | None = Field(None, ge=1, le=200, description="Denoising steps; model default.")
    cfg_scale: float | None = Field(None, ge=0.0, le=30.0, description="Guidance scale.")
    width: int | None = Field(None, ge=16, le=4096, description="Multiple of 16.")
    height: int | None = Field(None, ge=16, le=4096, description="Multiple of 16.")
    seed: int | None = Field(None, ge=0, le=2**53 - 1, description="Seed of image 1; +1 each.")
    style_preset: Text | None = Field(None, max_length=100)
    model: Text | None = Field(None, max_length=200, description="A configured model name.")
    priority: PriorityName = "normal"
    output_format: OutputFormat = "png"
    loras: list[LoraIn] = Field(default_factory=list, max_length=8)
    operation: OperationKind = Field(
        "text_to_image",
        description="text_to_image, or an edit of source_image_id: image_to_image (a "
        "variation), inpaint (with mask_image_id), outpaint (to width x height) or upscale (x2).",
    )
    source_image_id: RecordId | None = Field(None, description="The image to edit.")
    mask_image_id: RecordId | None = Field(
        None, description="inpaint: an image the size of the source; white marks what to redo."
    )
    strength: float | None = Field(
        None, gt=0.0, le=1.0, description="How far an edit may move from the source (0-1]."
    )
    left: int | None = Field(None, ge=0, le=8192, description="outpaint: where the source goes.")
    top: int | None = Field(None, ge=0, le=8192)
    webhook_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)] | None = Field(
        None,
        description="Gets a signed POST when the task ends (see the README): https, and not "
        "a loopback, private or link-local address unless the operator allows it.",
    )

    def to_command(self) -> GenerationCommand:
        """The service's command: the same fields, typed below the HTTP layer."""
        fields = self.model_dump(exclude={"loras", "webhook_url"})
        loras = tuple(LoraUse(name=lora.name, weight=lora.weight) for lora in self.loras)
        webhook = str(self.webhook_url) if self.webhook_url is not None else None
        return GenerationCommand(**fields, loras=loras, webhook_url=webhook)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, "
                      "permission_error, rate_limit_error or server_error")  # fmt: skip
    param: str | None = Field(description="The request field at fault, when one is")
    code: str = Field(description="Huajia's stable error code")


class OpenAIErrorBody(BaseModel):
    """How the OpenAI-compatible routes (/v1) answer an error: OpenAI's own shape."""

    error: OpenAIErrorDetail


class TaskAccepted(BaseModel):
    task_id: str
    status: TaskStatusName
    message: str
    check_status_url: str
    queue_position: int | None


class TaskStatus(BaseModel):
    task_id: str
    status: TaskStatusName
    progress: float = Field(description="0.0 to 1.0")
    current_step: int
    total_steps: int
    queue_position: int | None
    message: str
    error: ErrorDetail | None = None
    created_at: datetime
    updated_at: datetime


class ReviewOut(BaseModel):
    state: Literal["none", "pending_review", "approved", "rejected"] = Field(
        "none",
        description="none: no review needed; pending_review: waits for a reviewer (not to be "
        "published); approved; rejected (never served to editors).",
    )
    reason: str | None = None
    reviewed_at: datetime | None = None


class ImageOut(BaseModel):
    id: str
    url: str | None = Field(
        description="Where to fetch (and publish) the image; null until a reviewer approves it."
    )
    thumbnail_url: str | None
    preview_url: str | None = Field(
        None,
        description="For an image waiting for review: its bytes for its owner and reviewers "
        "(needs the API key; not for publishing).",
    )
    review: ReviewOut = Field(default_factory=ReviewOut)
    width: int
    height: int
    seed: int
    format: str
    parent_id: str | None = Field(None, description="The image this one was edited from.")
    origin: Literal["generated", "composite", "original"] = Field(
        "generated",
        description="generated: every pixel by the model; composite: the model edited a "
        "photo; original: an upload (or a plain edit of one).",
    )


class EditsIn(BaseModel):
    """POST /api/v1/images/{id}/edits: plain edits applied in order (no GPU, no queue)."""

    model_config = ConfigDict(extra="forbid")

    edits: list[EditOperation] = Field(min_length=1, max_length=MAX_EDITS)
    output_format: OutputFormat = "png"


class UploadFromUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)] = Field(
        description="An image on a host the operator allows (source_hosts)."
    )


class TaskResult(BaseModel):
    task_id: str
    status: TaskStatusName
    image_urls: list[str]
    count: int
    images: list[ImageOut]
    parameters: dict[str, Any]


class TaskRecord(BaseModel):
    """GET /api/v1/tasks/{id}: the whole record."""

    task_id: str
    owner: str
    status: TaskStatusName
    priority: PriorityName
    request: dict[str, Any]
    progress: float
    current_step: int
    total_steps: int
    queue_position: int | None
    attempts: int
    error: ErrorDetail | None
    cached: bool
    webhook: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    images: list[ImageOut]


class TaskPage(BaseModel):
    tasks: list[TaskRecord]
    total: int
    limit: int
    offset: int


class GalleryImage(ImageOut):
    task_id: str
    prompt: str
    style_preset: str | None
    created_at: datetime
    favourite: bool


class ReviewIn(BaseModel):
    """POST /api/v1/images/{id}/review: a reviewer's decision."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: Text | None = Field(
        None, max_length=2000, description="Why (required to reject): the editor sees it."
    )


class ReviewPage(BaseModel):
    images: list[GalleryImage]
    total: int


class GalleryPage(BaseModel):
    images: list[GalleryImage]
    total: int


class FavouriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    favourite: bool


class Readiness(BaseModel):
    """GET /api/v1/ready: 200 once a worker has loaded the model, 503 with the same body before."""

    ready: bool
    model: str
    draining: bool = False


class ModelState(BaseModel):
    """One served model in health: who holds it, who has it loaded, what waits for it."""

    name: str
    default: bool = Field(description="Requests that name no model get this one.")
    held: bool = Field(description="A live worker holds it (requests for it are accepted).")
    workers: int = Field(description="Live workers holding it.")
    loaded_on: int = Field(description="Ready workers with it loaded on their device now.")
    pending: int = Field(description="Tasks waiting for it.")
    revision: dict[str, Any] | None = Field(
        None, description="The revision new work for it is served with (a reload changes it)."
    )
    reload_error: str | None = Field(
        None, description="Why its newest reload could not be loaded (the old one serves)."
    )


class Health(BaseModel):
    """GET /api/v1/health: the seed's fields, plus what an operator needs."""

    status: Literal["ok", "degraded", "draining"]
    draining: bool = Field(False, description="Stopping: takes no new work; go elsewhere.")
    model_loaded: bool
    model: str
    device: str | None
    vram_used_bytes: int | None
    vram_total_bytes: int | None
    queue_depth: int
    active_tasks: int
    workers: list[dict[str, Any]]
    auth_required: bool
    version: str
    c2pa: Literal["signing", "not configured"] = Field(
        "not configured", description="Whether stored images get signed C2PA credentials."
    )
    model_revision: dict[str, Any] | None = Field(
        None, description="What new work is served with (`huajia reload` changes it)."
    )
    reload_error: str | None = Field(
        None, description="Why the newest reload could not be loaded (the old one serves)."
    )
    models: list[ModelState] = Field(
        default_factory=list, description="Every served model, the default (`model`) first."
    )
