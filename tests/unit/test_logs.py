"""Log lines: JSON fields, ids from the context, exception text, secrets cut out, ids checked."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime

import pytest

from huajia.logs import (
    JsonFormatter,
    Redactor,
    TextFormatter,
    about_task,
    accepted_request_id,
    chosen_format,
)

KEY = "hj_" + "Ab3_" * 10 + "xyz"


def record(message: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("huajia.test", logging.ERROR, __file__, 1, message, args, None)
    if exc:
        try:
            raise RuntimeError(f"boom with {KEY}")
        except RuntimeError:
            made.exc_info = sys.exc_info()
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_time_level_logger_message_ids_and_the_exception() -> None:
    formatter = JsonFormatter(Redactor())
    with about_task("task-1", "req-1"):
        line = formatter.format(record("stored %d images", 3, exc=True, status=202))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "ERROR" and entry["logger"] == "huajia.test"
    assert entry["message"] == "stored 3 images" and entry["status"] == 202
    assert (entry["request_id"], entry["task_id"]) == ("req-1", "task-1")
    assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert "RuntimeError: boom" in entry["exception"] and KEY not in entry["exception"]
    assert "task_id" not in json.loads(formatter.format(record("outside any task")))


def test_secrets_are_cut_from_messages_and_extras() -> None:
    redact = Redactor(["s3-secret-value-123", "short"])
    line = JsonFormatter(redact).format(
        record("key %s url %s auth %s s3 %s word short", KEY,
               "postgresql://huajia:pa55w0rd@db:5432/huajia", f"Bearer {KEY}",
               "s3-secret-value-123", path=f"/x?{KEY}"),
    )  # fmt: skip
    entry = json.loads(line)
    for secret in (KEY[11:], "pa55w0rd", "s3-secret-value-123"):
        assert secret not in line
    assert KEY[:11] in entry["message"], "the displayable prefix still tells keys apart"
    assert "postgresql://huajia:***@db:5432/huajia" in entry["message"]
    assert entry["message"].endswith("word short"), "short values are not searched for"
    assert KEY[11:] not in entry["path"]


def test_a_text_line_names_its_ids_and_hides_keys() -> None:
    formatter = TextFormatter(Redactor())
    with about_task("task-2", None):
        line = formatter.format(record("used %s", KEY))
    assert line.endswith("[task_id=task-2]") and KEY not in line


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("cms-7f3a:req/0001", True), ("x" * 128, True), ("x" * 129, False), ("", False),
     ("a b", False), ("a\nb", False), ("é", False), (None, False)],
)  # fmt: skip
def test_a_client_request_id_is_kept_only_when_printable_and_short(
    sent: str | None, kept: bool
) -> None:
    assert accepted_request_id(sent) == (sent if kept else None)


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert chosen_format("auto", Terminal()) == "text"
    assert chosen_format("auto", io.StringIO()) == "json"
    assert chosen_format("text", io.StringIO()) == "text"
