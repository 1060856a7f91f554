"""Converted downloads keep the parameters and the AI labels of the stored file."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from huajia.errors import InvalidRequest
from huajia.images.convert import Slot, convert_image
from huajia.images.encode import is_ai_generated, read_parameters, read_xmp
from huajia.images.labeler import Labeler
from huajia.images.labels import label_checks, read_label
from tests.images.pictures import noise

PARAMETERS: dict[str, object] = {"prompt": "一只猫 on a roof", "seed": 42, "style_preset": "anime"}


def stored_png(labeler: Labeler, size: tuple[int, int] = (96, 64)) -> bytes:
    return labeler.label(noise(*size), "png", PARAMETERS, "ab" * 16).file.data


@pytest.mark.parametrize("fmt", ["webp", "jpeg", "png"])
def test_a_converted_file_carries_the_parameters_and_a_sealed_label(fmt: str) -> None:
    labeler = Labeler.ephemeral()

    file = convert_image(stored_png(labeler), fmt, "ab" * 16, labeler)  # type: ignore[arg-type]

    assert Image.open(io.BytesIO(file.data)).format == {"jpeg": "JPEG"}.get(fmt, fmt.upper())
    assert read_parameters(file.data) == PARAMETERS
    assert is_ai_generated(file.data)
    label = read_label(read_xmp(file.data) or "")
    assert label is not None and label.ContentProducer == "Huajia"
    assert label_checks(label, file.data, labeler.secret)
    assert not label_checks(label, file.data, b"another secret")


def test_a_slot_crops_to_its_aspect_ratio_and_never_scales_up() -> None:
    labeler = Labeler.ephemeral()
    data = stored_png(labeler, (96, 64))

    wide = convert_image(data, "webp", "ab" * 16, labeler, Slot(1280, 720))
    small = convert_image(data, "webp", "ab" * 16, labeler, Slot(48, 48))

    assert (wide.width, wide.height) == (96, 54)  # 16:9 from the full width, not enlarged
    assert Image.open(io.BytesIO(wide.data)).size == (96, 54)
    assert (small.width, small.height) == (48, 48)


def test_a_file_without_huajia_parameters_is_refused() -> None:
    buffer = io.BytesIO()
    noise(8, 8).save(buffer, "PNG")
    with pytest.raises(InvalidRequest):
        convert_image(buffer.getvalue(), "webp", "ab" * 16, Labeler.ephemeral())
