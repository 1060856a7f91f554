"""Every error leaves the API as {"error": {"code", "message"}} with one status per code.

Under /v1, the OpenAI-compatible routes, the same error takes OpenAI's shape instead,
{"error": {"message", "type", "param", "code"}} (code: the same stable code), so that an
OpenAI client reads it as it reads OpenAI's own. /api/v1 is Huajia's and keeps its shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from huajia.api.schemas import ErrorBody, OpenAIErrorBody
from huajia.errors import DatabaseUnavailable, Draining, HuajiaError, LoraMisfit

log = logging.getLogger(__name__)

OPENAI_PREFIX = "/v1"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
# OpenAI's error types by status; every other 4xx is an invalid_request_error.
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def speaks_openai(path: str) -> bool:
    """Whether the route at `path` answers in OpenAI's shape."""
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def openai_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return _OPENAI_TYPES.get(status, "invalid_request_error")


def error_body(path: str, status: int, code: str, message: str,
               param: str | None = None) -> dict[str, dict[str, object]]:  # fmt: skip
    """The error as the route at `path` words it (`param`: the field at fault, for OpenAI's)."""
    if speaks_openai(path):
        kind = openai_type(status)
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return {"error": {"code": code, "message": message}}


def error_response(path: str, status: int, code: str, message: str, param: str | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:  # fmt: skip
    body = error_body(path, status, code, message, param)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}) or None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HuajiaError, _huajia_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeout, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _huajia_error(request: Request, error: HuajiaError) -> JSONResponse:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.status >= 500 and not isinstance(error, Draining | DatabaseUnavailable):  # no fault
        log.error("%s: %s", error.code, error.message)
    body = error_body(request.scope["path"], error.status, error.code, error.message, error.param)
    if isinstance(error, LoraMisfit):  # the fit report tells the admin what to fix
        body["error"]["report"] = error.report
    return JSONResponse(body, status_code=error.status, headers=headers or None)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    message = "; ".join(_describe(item) for item in problems) or "invalid request"
    param = _field(problems[0]) if problems else None
    return error_response(request.scope["path"], 422, "invalid_request", message, param)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(error.status_code, "http_error")
    return error_response(
        request.scope["path"], error.status_code, code, str(error.detail), headers=error.headers
    )


async def _database_unavailable(request: Request, error: OperationalError | PoolTimeout
                                ) -> JSONResponse:  # fmt: skip
    """A locked, saturated or unreachable database is a moment's outage, not a bug: 503 with
    Retry-After. The log gets the driver's one line (never the statement or its values)."""
    cause = error.orig if isinstance(error, OperationalError) else error
    said = str(cause).strip()
    first_line = said.splitlines()[0] if said else type(cause).__name__
    log.error("database unavailable on %s %s: %s", request.method, request.scope["path"],
              first_line)  # fmt: skip
    unavailable = DatabaseUnavailable("the database is busy or unreachable; retry in a moment")
    return await _huajia_error(request, unavailable)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # Logged with its traceback for the operator; the caller gets no internals.
    log.exception("unexpected error", exc_info=error)
    message = "internal error; the server log has details"
    return error_response(request.scope["path"], 500, "internal_error", message)


def _field(item: Mapping[str, object]) -> str | None:
    """The request field a validation problem is about (`a.b` when nested), if any."""
    loc = item.get("loc", ())
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]  # type: ignore[attr-defined]
    return ".".join(parts) or None


def _describe(item: Mapping[str, object]) -> str:
    where = _field(item) or "request"
    message = str(item.get("msg", "invalid"))
    if item.get("type") == "extra_forbidden":
        message = "unknown field (check the spelling against /docs)"
    return f"{where}: {message}"


_DESCRIPTIONS = {
    400: "Malformed request: a Host header this server does not answer, unreadable credentials "
    "or an undecodable body",
    401: "No or invalid API key",
    403: "Not allowed for this key",
    404: "No such task or image",
    408: "The request body stopped arriving",
    409: "Not possible in the task's current state",
    413: "Request body too large",
    422: "Invalid input",
    429: "A limit was reached: queue, quota or open streams (see Retry-After)",
    503: "Not now: no worker can serve the request (none running, or the model failed to "
    "load), the server is draining, or the database is busy (see Retry-After when given)",
    507: "The GPU ran out of memory even for one image",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def error_responses(*statuses: int, body: type[BaseModel] = ErrorBody
                    ) -> dict[int | str, dict[str, object]]:  # fmt: skip
    """OpenAPI `responses=` entries for these statuses, each answering `body`."""
    declared: dict[int | str, dict[str, object]] = {}
    for status in statuses:
        response: dict[str, object] = {"model": body, "description": _DESCRIPTIONS[status]}
        if status == 429:
            response["headers"] = _RETRY_AFTER
        declared[status] = response
    return declared


# Answers any route may give before it runs: the Host check and the request body limits.
PUBLIC_RESPONSES = error_responses(400, 408, 413)
# Answers every route behind an API key may give, on top of its own.
ERROR_RESPONSES = error_responses(400, 401, 403, 404, 408, 409, 413, 422, 429)


def openai_error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """`error_responses` for the /v1 routes, which answer errors in OpenAI's shape."""
    return error_responses(*statuses, body=OpenAIErrorBody)


OPENAI_ERROR_RESPONSES = openai_error_responses(400, 401, 403, 404, 408, 409, 413, 422, 429)
