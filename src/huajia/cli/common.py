"""What every command shares: settings built once, errors printed as one line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar
from urllib.parse import unquote, urlsplit

import typer
from pydantic import SecretStr, ValidationError

from huajia import logs
from huajia.errors import HuajiaError
from huajia.settings import Settings

T = TypeVar("T")


def load_settings() -> Settings:
    """The process's settings; a bad value is a one-line error, not a traceback."""
    try:
        return Settings()
    except ValidationError as error:
        fail(f"bad setting: {_first_error(error)}")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"huajia: error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn Huajia's own errors and missing files into `huajia: error: ...` and exit 2."""
    try:
        yield
    except HuajiaError as error:
        fail(error.message)
    except FileNotFoundError as error:
        fail(f"no such file: {error.filename or error}")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


def guarded(func: Callable[[], T]) -> T:
    with one_line_errors():
        return func()
    raise AssertionError("unreachable")  # pragma: no cover


# Libraries whose INFO lines say nothing an operator needs (Alembic prints one per
# migration at every start).
QUIET_LIBRARIES = ("alembic", "httpx", "httpcore")


def configure_logging(verbose: bool, settings: Settings | None = None) -> None:
    """Text lines for one-off commands; the format the settings choose (JSON lines unless
    stderr is a terminal, by default) for `serve` and `worker`, never showing their secrets."""
    level = logging.INFO if verbose else logging.WARNING
    if settings is None:
        logs.configure(level, "text")
    else:
        logs.configure(level, settings.log_format, secret_values(settings))
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def secret_values(settings: Settings) -> list[str]:
    """Every secret setting's value (and the database URL's password) to keep out of logs."""
    values = [
        value.get_secret_value() for value in vars(settings).values()
        if isinstance(value, SecretStr)
    ]  # fmt: skip
    if settings.database_url is not None:
        password = urlsplit(settings.database_url.get_secret_value()).password
        values.append(unquote(password or ""))
    return [value for value in values if value]


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"
