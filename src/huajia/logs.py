"""Log lines for operators: one JSON object per line (plain text on a terminal), each naming
the request and the task it is about, and never a secret.

The request and task ids live in context variables: the API sets the request id for the
duration of one HTTP request (threads started by `run_in_threadpool` inherit it), and the
worker sets the task id and the request id that created the task while it works on it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["auto", "json", "text"]

_request_id: ContextVar[str | None] = ContextVar("huajia_request_id", default=None)
_task_id: ContextVar[str | None] = ContextVar("huajia_task_id", default=None)

# 1 to 128 visible ASCII characters: what a client's X-Request-ID may be.
_REQUEST_ID_SHAPE = re.compile(r"[!-~]{1,128}", re.ASCII)
# A Huajia key keeps its displayable prefix (hj_ and 8 characters); the rest is cut.
_API_KEY = re.compile(r"(?<![A-Za-z0-9_-])(hj_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]{24,120}")
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s\"',]+", re.IGNORECASE)
# Secrets shorter than this are not searched for (they would blank ordinary words).
_MIN_SECRET_LENGTH = 8

# What every LogRecord carries; anything else was passed in `extra` and is written out.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_IGNORED_EXTRAS = frozenset({"color_message"})  # uvicorn's coloured copy of the message


def current_request_id() -> str | None:
    """The id of the HTTP request being served on this thread or task, if any."""
    return _request_id.get()


def accepted_request_id(sent: str | None) -> str | None:
    """A client's X-Request-ID when it is 1-128 visible ASCII characters, else None."""
    if sent is not None and _REQUEST_ID_SHAPE.fullmatch(sent):
        return sent
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def bind_request(request_id: str) -> None:
    """Every line logged from now on in this context (one request's task) names the request."""
    _request_id.set(request_id)


@contextmanager
def about_task(task_id: str, request_id: str | None) -> Iterator[None]:
    """Every line logged inside names this task and the request that created it."""
    task_token, request_token = _task_id.set(task_id), _request_id.set(request_id)
    try:
        yield
    finally:
        _task_id.reset(task_token)
        _request_id.reset(request_token)


class Redactor:
    """Cuts API keys, bearer tokens, URL passwords and the configured secrets out of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted(
            {secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH}, key=len,
            reverse=True,
        )  # fmt: skip

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _API_KEY.sub(r"\1…", text)
        text = _URL_PASSWORD.sub(r"\1***@", text)
        return _BEARER.sub(r"\1***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the request and
    task ids when known, fields passed in `extra`, and the exception text when there is one."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        entry.update(_ids())
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in _IGNORED_EXTRAS and name not in entry:
                entry[name] = self.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [request_id=… task_id=…]` for a person at a terminal."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{name}={value}" for name, value in _ids().items())
        if ids:
            first, newline, rest = line.partition("\n")
            line = f"{first} [{ids}]{newline}{rest}"
        return self.redact(line)


def _ids() -> dict[str, str]:
    ids = {"request_id": _request_id.get(), "task_id": _task_id.get()}
    return {name: value for name, value in ids.items() if value is not None}


def chosen_format(wanted: LogFormat, stream: Any = None) -> Literal["json", "text"]:
    """`auto`: text for a person at a terminal, JSON for everything else."""
    if wanted != "auto":
        return wanted
    stream = stream or sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


def configure(level: int, wanted: LogFormat = "text", secrets: Iterable[str] = ()) -> None:
    """Root logging to stderr in the chosen format (a no-op where a handler is already set,
    as under pytest); warnings and uncaught thread exceptions become log lines too."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    if chosen_format(wanted) == "json":
        handler.setFormatter(JsonFormatter(redact))
    else:
        handler.setFormatter(TextFormatter(redact))
    logging.basicConfig(level=level, handlers=[handler])
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_exception


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    error = (args.exc_type, args.exc_value, args.exc_traceback)
    logging.getLogger("huajia").error("uncaught exception in thread %s", name, exc_info=error)
