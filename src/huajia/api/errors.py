"""Every error leaves the API as {"error": {"code", "message"}} with one status per code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from huajia.api.schemas import ErrorBody
from huajia.errors import Draining, HuajiaError, LoraMisfit

log = logging.getLogger(__name__)

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


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HuajiaError, _huajia_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _huajia_error(_request: Request, error: HuajiaError) -> JSONResponse:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.status >= 500 and not isinstance(error, Draining):  # draining is no fault
        log.error("%s: %s", error.code, error.message)
    response = error_response(error.status, error.code, error.message, **headers)
    if isinstance(error, LoraMisfit):  # the fit report tells the admin what to fix
        body = {"error": {"code": error.code, "message": error.message, "report": error.report}}
        response = JSONResponse(body, status_code=error.status, headers=headers or None)
    return response


async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [_describe(item) for item in error.errors()]
    return error_response(422, "invalid_request", "; ".join(problems) or "invalid request")


async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(error.status_code, "http_error")
    return error_response(error.status_code, code, str(error.detail), **(error.headers or {}))


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    # Logged with its traceback for the operator; the caller gets no internals.
    log.exception("unexpected error", exc_info=error)
    return error_response(500, "internal_error", "internal error; the server log has details")


def _describe(item: dict[str, object]) -> str:
    loc = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")]  # type: ignore[attr-defined]
    where = ".".join(loc) or "request"
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
    503: "No worker can serve the request (none running, or the model failed to load)",
    507: "The GPU ran out of memory even for one image",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries for these statuses, each answering ErrorBody."""
    declared: dict[int | str, dict[str, object]] = {}
    for status in statuses:
        response: dict[str, object] = {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        if status == 429:
            response["headers"] = _RETRY_AFTER
        declared[status] = response
    return declared


# Answers any route may give before it runs: the Host check and the request body limits.
PUBLIC_RESPONSES = error_responses(400, 408, 413)
# Answers every route behind an API key may give, on top of its own.
ERROR_RESPONSES = error_responses(400, 401, 403, 404, 408, 409, 413, 422, 429)
