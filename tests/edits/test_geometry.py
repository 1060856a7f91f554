"""Crops, slots, resizes, rotations and flips, checked on real pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from huajia.edits import (
    MAX_SIDE,
    Crop,
    CropToSlot,
    EditOperation,
    Flip,
    FocusPoint,
    Resize,
    Rotate,
    apply_edit,
    apply_edits,
)
from huajia.edits.geometry import rotated_size, slot_box
from huajia.errors import InvalidRequest
from tests.edits.pictures import array, gradient, noisy, red_pixels, with_disc

SLOTS = [(1200, 630), (1920, 1080), (600, 600), (1080, 1920), (3000, 1000)]
SOURCES = [(1600, 900), (900, 1600), (1000, 1000), (300, 200), (7, 3)]


@pytest.mark.parametrize("slot", SLOTS)
@pytest.mark.parametrize("source", SOURCES)
def test_crop_to_slot_gives_exactly_the_slot_size(
    slot: tuple[int, int], source: tuple[int, int]
) -> None:
    image = noisy(*source)
    for focus in (None, FocusPoint(x=0.0, y=1.0)):
        result = apply_edit(image, CropToSlot(width=slot[0], height=slot[1], focus=focus))
        assert result.size == slot
        assert result.mode == "RGB"


@pytest.mark.parametrize(
    ("size", "centre", "slot"),
    [
        ((1600, 900), (1400, 450), (600, 600)),  # near the right edge, square slot
        ((1600, 900), (220, 300), (630, 630)),  # near the left edge
        ((900, 1600), (450, 230), (1200, 630)),  # near the top of a portrait, social card
    ],
)
def test_default_focus_keeps_an_off_centre_subject_that_a_centre_crop_cuts(
    size: tuple[int, int], centre: tuple[int, int], slot: tuple[int, int]
) -> None:
    radius = 120
    image = with_disc(gradient(*size), centre, radius)
    box = slot_box(size, slot, FocusPoint(x=0.5, y=0.5))
    scale = slot[0] / (box[2] - box[0])
    disc_in_slot = math.pi * radius**2 * scale**2

    found = apply_edit(image, CropToSlot(width=slot[0], height=slot[1]))
    centred = apply_edit(
        image, CropToSlot(width=slot[0], height=slot[1], focus=FocusPoint(x=0.5, y=0.5))
    )

    assert red_pixels(found) > 0.9 * disc_in_slot
    assert red_pixels(centred) < 0.1 * disc_in_slot


def test_an_explicit_focus_is_honoured() -> None:
    # Blue left third, green right third: a focus on either side must show that side.
    pixels = np.full((900, 2400, 3), 128, dtype=np.uint8)
    pixels[:, :800] = (0, 0, 255)
    pixels[:, 1600:] = (0, 255, 0)
    image = Image.fromarray(pixels)

    left = array(apply_edit(image, CropToSlot(width=90, height=90, focus=FocusPoint(x=0.1, y=0.5))))
    right = array(
        apply_edit(image, CropToSlot(width=90, height=90, focus=FocusPoint(x=0.9, y=0.5)))
    )

    assert (left[..., 2] > 200).mean() > 0.8
    assert (right[..., 1] > 200).mean() > 0.8
    assert slot_box((2400, 900), (90, 90), FocusPoint(x=0.3, y=0.5)) == (270.0, 0.0, 1170.0, 900.0)


@given(
    size=st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    slot=st.tuples(st.integers(1, 4096), st.integers(1, 4096)),
    x=st.floats(0, 1),
    y=st.floats(0, 1),
)
def test_the_slot_box_stays_inside_the_image_at_the_slot_aspect(
    size: tuple[int, int], slot: tuple[int, int], x: float, y: float
) -> None:
    left, top, right, bottom = slot_box(size, slot, FocusPoint(x=x, y=y))
    width, height = right - left, bottom - top
    tolerance = 1e-6 * max(size)
    assert -tolerance <= left and right <= size[0] + tolerance
    assert -tolerance <= top and bottom <= size[1] + tolerance
    assert math.isclose(width / height, slot[0] / slot[1], rel_tol=1e-9)
    # The largest such box: it spans the image one way or the other.
    assert math.isclose(width, size[0]) or math.isclose(height, size[1])


def test_a_focus_at_the_corner_puts_the_box_in_the_corner() -> None:
    assert slot_box((1600, 900), (1, 1), FocusPoint(x=1.0, y=1.0)) == (700.0, 0.0, 1600.0, 900.0)
    assert slot_box((900, 1600), (1, 1), FocusPoint(x=0.0, y=0.0)) == (0.0, 0.0, 900.0, 900.0)


def test_crop_cuts_out_exactly_the_box() -> None:
    image = noisy(200, 100)
    result = apply_edit(image, Crop(left=10, top=20, width=50, height=30))
    assert result.size == (50, 30)
    assert np.array_equal(array(result), array(image)[20:50, 10:60])


@pytest.mark.parametrize(
    "box",
    [
        {"left": 151, "top": 0, "width": 50, "height": 10},
        {"left": 0, "top": 90, "width": 10, "height": 11},
        {"left": 0, "top": 0, "width": 201, "height": 100},
    ],
)
def test_a_crop_box_outside_the_image_is_refused(box: dict[str, int]) -> None:
    with pytest.raises(InvalidRequest, match="outside the 200×100 image"):
        apply_edit(noisy(200, 100), Crop.model_validate(box))


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (CropToSlot, {"width": 4097, "height": 630}),
        (CropToSlot, {"width": 0, "height": 630}),
        (CropToSlot, {"width": 600, "height": 600, "focus": {"x": 1.5, "y": 0.5}}),
        (Crop, {"left": 0, "top": 0, "width": 5000, "height": 10}),
        (Crop, {"left": -1, "top": 0, "width": 10, "height": 10}),
        (Resize, {}),
        (Resize, {"width": 8192}),
        (Rotate, {"angle": 400}),
        (Rotate, {"angle": 10, "fill": "red"}),
        (Flip, {"direction": "diagonal"}),
        (Crop, {"left": 0, "top": 0, "width": 10, "height": 10, "unit": "px"}),
    ],
)
def test_requests_beyond_the_limits_are_refused_by_the_models(
    model: type[Crop | CropToSlot | Resize | Rotate | Flip], fields: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)


def test_resize_keeps_the_aspect_when_one_side_is_given() -> None:
    image = noisy(1600, 900)
    assert apply_edit(image, Resize(width=800)).size == (800, 450)
    assert apply_edit(image, Resize(height=300)).size == (533, 300)
    assert apply_edit(image, Resize(width=100, height=100)).size == (100, 100)


def test_a_resize_whose_other_side_would_be_too_large_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="beyond 4096 px"):
        apply_edit(noisy(10, 400), Resize(width=200))


def test_four_quarter_turns_return_the_original_pixels() -> None:
    image = noisy(64, 40)
    result = image
    for _ in range(4):
        result = apply_edit(result, Rotate(angle=90))
    assert np.array_equal(array(result), array(image))


def test_a_quarter_turn_is_clockwise_and_exact() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0))  # top-left goes to top-right when turned clockwise
    turned = apply_edit(image, Rotate(angle=90))
    assert turned.size == (20, 40)
    assert turned.getpixel((19, 0)) == (255, 0, 0)
    assert np.array_equal(array(apply_edit(image, Rotate(angle=-270))), array(turned))


def test_a_free_angle_expands_the_canvas_and_fills_the_corners() -> None:
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    expanded = apply_edit(image, Rotate(angle=30, fill="#00ff00"))
    kept = apply_edit(image, Rotate(angle=30, expand=False))
    assert expanded.width > 200 and expanded.height > 100
    assert expanded.getpixel((0, 0)) == (0, 255, 0)
    assert kept.size == (200, 100)
    assert kept.getpixel((0, 0)) == (0, 0, 0)


def test_a_free_angle_on_a_transparent_image_leaves_clear_corners() -> None:
    image = Image.new("RGBA", (100, 100), (255, 255, 255, 255))
    rotated = apply_edit(image, Rotate(angle=45))
    assert rotated.mode == "RGBA"
    assert rotated.getpixel((0, 0)) == (0, 0, 0, 0)


@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_flipping_twice_returns_the_original_pixels(direction: str) -> None:
    image = noisy(30, 20)
    op = Flip.model_validate({"direction": direction})
    once = apply_edit(image, op)
    assert not np.array_equal(array(once), array(image))
    assert np.array_equal(array(apply_edit(once, op)), array(image))


def test_modes_stay_sensible() -> None:
    grey = Image.new("L", (20, 10), 128)
    clear = Image.new("RGBA", (20, 10), (1, 2, 3, 0))
    palette = Image.new("P", (20, 10), 0)
    palette.info["transparency"] = 0
    flip = Flip(direction="horizontal")
    assert apply_edit(grey, flip).mode == "RGB"
    assert apply_edit(clear, flip).mode == "RGBA"
    assert apply_edit(palette, flip).mode == "RGBA"
    assert apply_edit(noisy(20, 10), CropToSlot(width=5, height=5)).mode == "RGB"


@pytest.mark.parametrize("size", [(200, 100), (37, 211), (64, 64)])
@pytest.mark.parametrize("angle", [45, 30.5, -17, 359.9, 1e-6])
def test_the_size_a_free_angle_grows_to_is_known_before_rotating(
    size: tuple[int, int], angle: float
) -> None:
    rotated = apply_edit(Image.new("RGB", size), Rotate(angle=angle))
    assert rotated.size == rotated_size(size, angle % 360)


def test_a_free_angle_that_would_grow_beyond_the_limit_is_refused() -> None:
    image = Image.new("RGB", (MAX_SIDE, MAX_SIDE))
    with pytest.raises(InvalidRequest, match=f"beyond {MAX_SIDE} px"):
        apply_edit(image, Rotate(angle=45))
    assert apply_edit(image, Rotate(angle=45, expand=False)).size == image.size


def test_no_chain_of_edits_grows_an_image_beyond_the_limit() -> None:
    """The audit's chain: resize to the largest side, then turn by 45° three times."""
    chain: list[EditOperation] = [Resize(width=MAX_SIDE, height=MAX_SIDE)]
    chain += [Rotate(angle=45)] * 3
    with pytest.raises(InvalidRequest, match=f"beyond {MAX_SIDE} px"):
        apply_edits(Image.new("RGB", (64, 64)), chain)
    # Smaller turns in a row stop at the step that would pass the limit.
    image = Image.new("RGB", (2000, 2000))
    twice = apply_edits(image, [Rotate(angle=45), Rotate(angle=45)])
    assert max(twice.size) <= MAX_SIDE
    with pytest.raises(InvalidRequest, match=f"beyond {MAX_SIDE} px"):
        apply_edits(image, [Rotate(angle=45)] * 3)
