"""Every error leaves the API as {"error": {"code", "message"}} with one status per code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from huajia.api.schemas import ErrorBody
from huajia.errors import HuajiaError, LimitReached

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
    if isinstance(error, LimitReached):
        headers["Retry-After"] = str(error.retry_after)
    if error.status >= 500:
        log.error("%s: %s", error.code, error.message)
    return error_response(error.status, error.code, error.message, **headers)


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


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "No or invalid API key",
        403: "Not allowed for this key",
        404: "No such task or image",
        409: "Not possible in the task's current state",
        422: "Invalid input",
        429: "Queue full (see Retry-After)",
    }.items()
}
