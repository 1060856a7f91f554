"""Huajia's exceptions: one root, each error with an HTTP status and a stable code.

    HuajiaError                      500 internal_error
    ├── InvalidRequest               422 invalid_request     (bad parameters, caller can fix)
    │   ├── PromptTooLong            422 prompt_too_long
    │   ├── ModelNotAvailable        422 model_not_available (not served, or no worker holds it)
    │   ├── UnknownModel             422 unknown_model / UnknownPreset 422 unknown_preset
    │   ├── IdempotencyKeyReused     422 idempotency_key_reused
    │   ├── UrlRefused               422 url_refused         (an outbound URL that may not be used)
    │   │   └── HostNotLookedUp      422 url_refused         (its DNS did not answer in time)
    │   ├── UnsupportedImage         422 unsupported_image   (not a whole PNG, JPEG or WebP file)
    │   ├── ImageTooLarge            422 image_too_large     (more pixels than a source may have)
    │   ├── InvalidMask              422 invalid_mask        (does not fit, or marks nothing)
    │   ├── PromptBlocked            422 prompt_blocked      (a blocked term or pattern matched)
    │   ├── InvalidPolicy            422 invalid_policy      (a malformed rule; nothing saved)
    │   └── SourceFetchFailed        422 source_fetch_failed (an image URL gave no file)
    │   ├── PresetRetired            422 preset_retired      (kept for old tasks, not for new)
    │   └── PathNotAllowed           422 path_not_allowed    (a file outside the allowed folders)
    ├── ModelFileRejected            422 model_file_rejected (weights or LoRA that do not fit)
    │   └── LoraMisfit               422 lora_misfit         (carries the fit report)
    ├── NotFound                     404 not_found
    │   └── TaskNotFound             404 task_not_found
    ├── Unauthorized                 401 unauthorized
    ├── Forbidden                    403 forbidden
    ├── Conflict                     409 conflict
    │   ├── AlreadyExists            409 already_exists      (a preset or LoRA name taken)
    │   ├── TaskNotCompleted         409 task_not_completed
    │   ├── ImageRejected            409 image_rejected      (a reviewer refused it: no source)
    │   └── IllegalTransition        409 illegal_transition
    ├── LeaseLost                    409 lease_lost          (a worker no longer owns its task)
    ├── LimitReached                 429 limit_reached       (carries retry_after seconds)
    │   ├── QueueFull                429 queue_full
    │   ├── QuotaExceeded            429 quota_exceeded
    │   ├── RateLimited              429 rate_limited        (too many requests this minute)
    │   └── TooManyStreams           429 too_many_streams
    ├── PayloadTooLarge              413 payload_too_large
    ├── HostNotAllowed               400 host_not_allowed
    ├── Draining                     503 draining            (stopping; retry elsewhere)
    ├── DatabaseUnavailable          503 database_unavailable (busy or unreachable; retry)
    ├── ConfigurationError           500 configuration_error (refused at start-up)
    ├── GenerationCanceled           409 canceled
    ├── OutOfMemory                  507 out_of_memory       (the GPU could not fit even one image)
    ├── EngineUnavailable            503 engine_unavailable
    └── ModelLoadError               503 model_load_failed

The HTTP layer maps every error through `status` and `code` in one place (api/errors.py);
routers never catch `Exception`.
"""

from __future__ import annotations


class HuajiaError(Exception):
    """Root of every error Huajia raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    retry_after: int | None = None  # seconds, sent as Retry-After when set
    param: str | None = None  # the request field at fault, when one is (OpenAI's `param`)

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if param is not None:
            self.param = param


class InvalidRequest(HuajiaError):
    status = 422
    code = "invalid_request"


class PromptTooLong(InvalidRequest):
    code = "prompt_too_long"


class UnknownModel(InvalidRequest):
    code = "unknown_model"
    param = "model"


class ModelNotAvailable(InvalidRequest):
    code = "model_not_available"
    param = "model"


class UnknownPreset(InvalidRequest):
    code = "unknown_preset"


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency_key_reused"


class UrlRefused(InvalidRequest):
    code = "url_refused"


class HostNotLookedUp(UrlRefused):
    """The host's addresses did not come in time (a slow DNS server, every lookup busy): a
    request is refused as for any other unusable URL; a webhook delivery tries again later."""


class UnsupportedImage(InvalidRequest):
    code = "unsupported_image"


class ImageTooLarge(InvalidRequest):
    code = "image_too_large"


class InvalidMask(InvalidRequest):
    code = "invalid_mask"


class SourceFetchFailed(InvalidRequest):
    code = "source_fetch_failed"


class PromptBlocked(InvalidRequest):
    code = "prompt_blocked"


class InvalidPolicy(InvalidRequest):
    code = "invalid_policy"


class PresetRetired(InvalidRequest):
    code = "preset_retired"


class PathNotAllowed(InvalidRequest):
    code = "path_not_allowed"


class ModelFileRejected(HuajiaError):
    status = 422
    code = "model_file_rejected"


class NotFound(HuajiaError):
    status = 404
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"  # OpenAI's code for GET /v1/models/{id} of an unknown model


class Unauthorized(HuajiaError):
    status = 401
    code = "unauthorized"


class Forbidden(HuajiaError):
    status = 403
    code = "forbidden"


class Conflict(HuajiaError):
    status = 409
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class TaskNotCompleted(Conflict):
    code = "task_not_completed"


class ImageRejected(Conflict):
    """A rejected image asked for as a source by someone who may still see it (a reviewer);
    for its owner it does not exist (NotFound)."""

    code = "image_rejected"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class LeaseLost(HuajiaError):
    status = 409
    code = "lease_lost"


class LimitReached(HuajiaError):
    """A limit that frees up with time: the answer says when to retry (Retry-After)."""

    status = 429
    code = "limit_reached"

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueFull(LimitReached):
    code = "queue_full"


class QuotaExceeded(LimitReached):
    code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message, retry_after)


class RateLimited(LimitReached):
    code = "rate_limited"


class TooManyStreams(LimitReached):
    code = "too_many_streams"


class PayloadTooLarge(HuajiaError):
    status = 413
    code = "payload_too_large"


class HostNotAllowed(HuajiaError):
    status = 400
    code = "host_not_allowed"


class Draining(HuajiaError):
    """This process is stopping: it finishes what it has but takes nothing new."""

    status = 503
    code = "draining"
    retry_after = 5


class DatabaseUnavailable(HuajiaError):
    """The database did not answer in time: locked by a writer past the busy timeout, the pool
    had no connection to spare, or the server is unreachable. The write that failed was rolled
    back; a submit retried with its Idempotency-Key cannot make a second task."""

    status = 503
    code = "database_unavailable"
    retry_after = 2


class ConfigurationError(HuajiaError):
    """The settings cannot work (found at start-up, before anything is served)."""

    code = "configuration_error"


class GenerationCanceled(HuajiaError):
    status = 409
    code = "canceled"


class OutOfMemory(HuajiaError):
    status = 507
    code = "out_of_memory"


class EngineUnavailable(HuajiaError):
    status = 503
    code = "engine_unavailable"


class ModelLoadError(HuajiaError):
    status = 503
    code = "model_load_failed"


def error_for_code(code: str, message: str) -> HuajiaError:
    """The error class that owns `code` (for errors stored by code, such as a failed task's)."""
    pending: list[type[HuajiaError]] = [HuajiaError]
    while pending:
        kind = pending.pop()
        if kind.code == code:
            return kind(message)
        pending.extend(kind.__subclasses__())
    error = HuajiaError(message)
    error.code = code
    return error


class LoraMisfit(ModelFileRejected):
    """A LoRA that does not (wholly) fit the model; `report` says how much did."""

    code = "lora_misfit"

    def __init__(self, message: str, report: dict[str, object]) -> None:
        super().__init__(message)
        self.report = report
