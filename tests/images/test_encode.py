"""Image files keep their generation parameters and say they are AI-generated."""

from __future__ import annotations

import io
from pathlib import Path
from typing import get_args

import pytest
from PIL import Image

from huajia import __version__
from huajia.errors import InvalidRequest
from huajia.images.encode import (
    ImageFormat,
    encode_image,
    is_ai_generated,
    make_thumbnail,
    read_parameters,
)
from tests.images import pictures

FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _parameters() -> dict[str, object]:
    return {
        "prompt": "一只橘猫坐在雨后的窗台上, soft morning light",
        "negative_prompt": "模糊, 低质量",
        "seed": 2**63 - 1,
        "index": 2,
        "steps": 8,
        "guidance": 1.5,
        "width": 96,
        "height": 64,
        "model": "z-image-turbo",
        "weights": None,
        "loras": [{"name": "品牌风格", "weight": 0.75}],
    }


@pytest.fixture
def picture() -> Image.Image:
    image = Image.new("RGB", (96, 64), (200, 120, 40))
    image.paste((20, 40, 200), (0, 0, 48, 64))
    return image


@pytest.mark.parametrize("fmt", FORMATS)
def test_parameters_round_trip_exactly(picture: Image.Image, fmt: ImageFormat) -> None:
    encoded = encode_image(picture, fmt, _parameters())
    assert read_parameters(encoded.data) == _parameters()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_labelled_ai_generated(picture: Image.Image, fmt: ImageFormat) -> None:
    encoded = encode_image(picture, fmt, _parameters())
    assert is_ai_generated(encoded.data)
    with Image.open(io.BytesIO(encoded.data)) as opened:
        xmp = opened.info.get("xmp") or opened.info.get("XML:com.adobe.xmp")
    text = xmp.decode() if isinstance(xmp, bytes) else str(xmp)
    assert AI_SOURCE in text
    assert "一只橘猫" in text  # the readable description keeps Chinese intact


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension", "pillow_format"),
    [
        ("png", "image/png", "png", "PNG"),
        ("webp", "image/webp", "webp", "WEBP"),
        ("jpeg", "image/jpeg", "jpg", "JPEG"),
    ],
)
def test_content_type_matches_the_bytes(
    picture: Image.Image, fmt: ImageFormat, content_type: str, extension: str, pillow_format: str
) -> None:
    encoded = encode_image(picture, fmt, _parameters())
    assert (encoded.content_type, encoded.extension) == (content_type, extension)
    assert (encoded.width, encoded.height) == (96, 64)
    with Image.open(io.BytesIO(encoded.data)) as opened:
        assert opened.format == pillow_format
        assert opened.size == (96, 64)


def test_png_has_readable_chunks_per_field(picture: Image.Image) -> None:
    encoded = encode_image(picture, "png", _parameters())
    with Image.open(io.BytesIO(encoded.data)) as opened:
        chunks = opened.info
    assert chunks["prompt"] == "一只橘猫坐在雨后的窗台上, soft morning light"
    assert chunks["seed"] == str(2**63 - 1)
    assert chunks["steps"] == "8"
    assert chunks["model"] == "z-image-turbo"
    assert "品牌风格" in chunks["loras"]
    assert chunks["AI-Generated"] == "true"
    assert chunks["Software"] == f"Huajia {__version__}"
    assert "Prompt: 一只橘猫" in chunks["Description"]
    assert "Seed: 9223372036854775807" in chunks["Description"]


@pytest.mark.parametrize("fmt", ["webp", "jpeg"])
def test_exif_names_the_software(picture: Image.Image, fmt: ImageFormat) -> None:
    encoded = encode_image(picture, fmt, _parameters())
    with Image.open(io.BytesIO(encoded.data)) as opened:
        exif = opened.getexif()
    assert exif[0x0131] == f"Huajia {__version__}"
    assert "\\u4e00\\u53ea" in exif[0x010E]  # ImageDescription: the JSON, ASCII-escaped


def test_jpeg_of_a_transparent_image_is_flattened(picture: Image.Image) -> None:
    encoded = encode_image(picture.convert("RGBA"), "jpeg", _parameters())
    assert read_parameters(encoded.data) == _parameters()


def test_webp_quality_is_high_by_default() -> None:
    noise = Image.effect_noise((128, 128), 60).convert("RGB")
    default = encode_image(noise, "webp", {}).data
    low = io.BytesIO()
    noise.save(low, "WEBP", quality=50)
    assert len(default) > len(low.getvalue())


def test_plain_image_has_no_parameters_and_no_label(picture: Image.Image) -> None:
    for pillow_format in ("PNG", "WEBP", "JPEG"):
        plain = io.BytesIO()
        picture.save(plain, pillow_format)
        assert not is_ai_generated(plain.getvalue())
        with pytest.raises(InvalidRequest, match="no Huajia generation parameters"):
            read_parameters(plain.getvalue())


def test_not_an_image_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="not a PNG, WebP or JPEG"):
        read_parameters(b"<html>definitely not an image</html>")
    with pytest.raises(InvalidRequest):
        is_ai_generated(b"")


def test_composite_ai_source_type_counts_as_ai(picture: Image.Image) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
        b"<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/"
        b"compositeWithTrainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    camera = xmp.replace(b"compositeWithTrainedAlgorithmicMedia", b"digitalCapture")
    for packet, expected in ((xmp, True), (camera, False)):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", xmp=packet)
        assert is_ai_generated(buffer.getvalue()) is expected


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [((1024, 576), 256, (256, 144)), ((576, 1024), 256, (144, 256)), ((100, 50), 256, (100, 50))],
)
def test_thumbnail_fits_and_keeps_aspect(
    size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    thumbnail = make_thumbnail(Image.new("RGB", size, "white"), max_side=max_side)
    assert (thumbnail.width, thumbnail.height) == expected
    assert (thumbnail.content_type, thumbnail.extension) == ("image/webp", "webp")
    with Image.open(io.BytesIO(thumbnail.data)) as opened:
        assert opened.format == "WEBP"
        assert opened.size == expected
    assert is_ai_generated(thumbnail.data)


def test_thumbnail_leaves_the_original_alone(picture: Image.Image) -> None:
    make_thumbnail(picture, max_side=16)
    assert picture.size == (96, 64)


def test_encoded_image_repr_hides_the_bytes(picture: Image.Image) -> None:
    assert "data" not in repr(encode_image(picture, "png", {}))


def _zlib_level_class(png: bytes) -> int:
    """zlib's FLEVEL of the first IDAT chunk: 0 fastest (level 0-1), 1 fast (2-5), 2 default
    (6), 3 maximum (7-9)."""
    at = png.index(b"IDAT") + 4
    return png[at + 1] >> 6


def test_png_files_are_compressed_at_the_configured_level_and_stay_lossless(
    tmp_path: Path,
) -> None:
    from huajia.images.labeler import Labeler
    from huajia.settings import Settings

    picture = pictures.noise(96, 64)
    default = Labeler.from_settings(Settings(data_dir=tmp_path))
    fastest = Labeler.from_settings(Settings(data_dir=tmp_path, png_compress_level=1))
    smallest = Labeler.from_settings(Settings(data_dir=tmp_path, png_compress_level=9))
    files = {
        labeler.png_level: labeler.label(picture, "png", {"prompt": "p"}, "id").file.data
        for labeler in (default, fastest, smallest)
    }
    assert {level: _zlib_level_class(data) for level, data in files.items()} == {4: 1, 1: 0, 9: 3}
    for data in files.values():
        with Image.open(io.BytesIO(data)) as decoded:
            assert decoded.convert("RGB").tobytes() == picture.tobytes()
