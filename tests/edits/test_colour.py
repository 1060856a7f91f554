"""Brightness, contrast, saturation and warmth do what their names promise."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from huajia.edits import Adjust, apply_edit
from tests.edits.pictures import array, gradient, noisy


def test_neutral_adjustments_keep_every_pixel() -> None:
    for image in (noisy(64, 48), noisy(64, 48).convert("RGBA")):
        result = apply_edit(image, Adjust())
        assert result is not image
        assert result.mode == image.mode
        assert np.array_equal(array(result), array(image))


def test_brightness_above_one_raises_the_mean_luminance() -> None:
    image = gradient(120, 80)
    brighter = apply_edit(image, Adjust(brightness=1.5)).convert("L")
    darker = apply_edit(image, Adjust(brightness=0.5)).convert("L")
    before = array(image.convert("L")).mean()
    assert array(brighter).mean() > before + 20
    assert array(darker).mean() < before - 20


def test_contrast_above_one_spreads_the_values() -> None:
    image = gradient(120, 80)
    assert array(apply_edit(image, Adjust(contrast=2.0))).std() > array(image).std() * 1.5


def test_saturation_zero_gives_grey() -> None:
    result = array(apply_edit(noisy(64, 48), Adjust(saturation=0.0)))
    assert np.array_equal(result[..., 0], result[..., 1])
    assert np.array_equal(result[..., 1], result[..., 2])


@pytest.mark.parametrize("warmth", [0.5, 1.0])
def test_warmth_shifts_red_against_blue(warmth: float) -> None:
    image = Image.new("RGB", (16, 16), (128, 128, 128))
    warmer = array(apply_edit(image, Adjust(warmth=warmth)))
    cooler = array(apply_edit(image, Adjust(warmth=-warmth)))
    assert (warmer[..., 0] > warmer[..., 2]).all()
    assert (cooler[..., 0] < cooler[..., 2]).all()
    assert (warmer[..., 1] == 128).all()


def test_adjustments_leave_transparency_alone() -> None:
    image = noisy(32, 32).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((32, 32)))
    result = apply_edit(image, Adjust(brightness=2.0, saturation=0.3, warmth=0.5))
    assert result.mode == "RGBA"
    assert np.array_equal(array(result)[..., 3], array(image)[..., 3])


@pytest.mark.parametrize(
    "fields", [{"brightness": 3.5}, {"contrast": -0.1}, {"warmth": 1.5}, {"gamma": 1.0}]
)
def test_adjustments_beyond_their_range_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Adjust.model_validate(fields)
