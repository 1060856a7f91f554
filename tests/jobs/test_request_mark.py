"""The visible mark decided at submit travels in the stored request, through the codec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from huajia.images.mark import VisibleMark
from huajia.jobs.requests import GenerationCommand, TaskRequest, decode_request, encode_request


def test_the_mark_survives_the_codec_and_old_rows_have_none() -> None:
    mark = VisibleMark(text="AI generated", corner="top-left")
    request = TaskRequest(asked=GenerationCommand(prompt="x"), model="m", mark=mark)
    assert decode_request(encode_request(request)).mark == mark
    stored = encode_request(TaskRequest(asked=GenerationCommand(prompt="x"), model="m"))
    del stored["mark"]  # written before marks existed
    assert decode_request(stored).mark is None


def test_a_mark_needs_a_known_corner_and_some_text() -> None:
    with pytest.raises(ValidationError):
        VisibleMark(corner="middle")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        VisibleMark(text="")
