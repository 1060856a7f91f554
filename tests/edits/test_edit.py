"""Sequences of edits, their JSON description, and the API process's import rule."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from huajia.edits import (
    EDITS_VERSION,
    MAX_EDITS,
    Adjust,
    Crop,
    CropToSlot,
    EditOperation,
    Flip,
    FocusPoint,
    Resize,
    Rotate,
    TextOverlay,
    TextShadow,
    TextStroke,
    apply_edit,
    apply_edits,
    describe_edit,
    describe_edits,
    resolve_edit,
)
from huajia.errors import InvalidRequest
from tests.edits.pictures import array, gradient, noisy, red_pixels, with_disc

EDITS = TypeAdapter(EditOperation)
EVERY_KIND: list[EditOperation] = [
    Crop(left=1, top=2, width=3, height=4),
    CropToSlot(width=1200, height=630, focus=FocusPoint(x=0.2, y=0.8)),
    CropToSlot(width=1920, height=1080),
    Resize(width=800),
    Rotate(angle=12.5, expand=False, fill="#ffffff80"),
    Flip(direction="vertical"),
    Adjust(brightness=1.1, warmth=-0.3),
    TextOverlay(
        text="新品上市\nNew in", anchor="top-right", shadow=TextShadow(), stroke=TextStroke()
    ),
]


@pytest.mark.parametrize("op", EVERY_KIND, ids=lambda op: op.kind)
def test_every_operation_survives_its_json_description(op: EditOperation) -> None:
    described = describe_edit(op)
    assert described["kind"] == op.kind
    assert EDITS.validate_json(json.dumps(described)) == op


def test_a_sequence_is_described_with_a_version() -> None:
    record = describe_edits(EVERY_KIND[:2])
    assert record["version"] == EDITS_VERSION
    assert record["edits"] == [describe_edit(op) for op in EVERY_KIND[:2]]


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        EDITS.validate_python({"kind": "blur", "radius": 3})


def test_edits_apply_in_order() -> None:
    image = noisy(400, 300)
    ops: list[EditOperation] = [
        Crop(left=0, top=0, width=200, height=300),
        Rotate(angle=90),
        Resize(width=150),
        Adjust(saturation=0.0),
    ]
    result = apply_edits(image, ops)
    assert result.size == (150, 100)
    pixels = array(result)
    assert np.array_equal(pixels[..., 0], pixels[..., 2])


def test_no_edits_give_a_copy() -> None:
    image = noisy(20, 10)
    result = apply_edits(image, [])
    assert result is not image
    assert np.array_equal(array(result), array(image))


def test_too_many_edits_at_once_are_refused() -> None:
    with pytest.raises(InvalidRequest, match=f"at most {MAX_EDITS}"):
        apply_edits(noisy(8, 8), [Flip(direction="horizontal")] * (MAX_EDITS + 1))


def test_resolving_pins_the_focus_that_was_found_so_a_replay_matches() -> None:
    image = with_disc(gradient(1600, 900), (1400, 450), 120)
    op = CropToSlot(width=600, height=600)
    resolved = resolve_edit(image, op)
    assert isinstance(resolved, CropToSlot) and resolved.focus is not None
    assert resolved.focus.x > 0.8
    assert np.array_equal(array(apply_edit(image, resolved)), array(apply_edit(image, op)))
    assert red_pixels(apply_edit(image, resolved)) > 0
    assert resolve_edit(image, EVERY_KIND[0]) is EVERY_KIND[0]


def test_the_edits_never_import_torch() -> None:
    # The API process imports this package; torch there would cost seconds and gigabytes.
    code = (
        "import sys, huajia.edits\n"
        "from PIL import Image\n"
        "huajia.edits.apply_edit(Image.new('RGB', (64, 64)),"
        " huajia.edits.CropToSlot(width=32, height=16))\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
