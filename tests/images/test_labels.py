"""The TC260 (GB 45438) implicit label: what readers see, and that its integrity value holds."""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from pydantic import SecretStr

from huajia.images.encode import read_xmp
from huajia.images.labeler import Labeler, ensure_label_secret, find_label_secret
from huajia.images.labels import label_checks, read_label
from tests.images.pictures import noise

SECRET = b"a-test-secret"
EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool is not installed (Debian: libimage-exiftool-perl)"
)
FORMATS = ["png", "jpeg", "webp"]


def labelled(fmt: str, origin: str = "generated", image_id: str = "0123abcd") -> bytes:
    parameters: dict[str, object] = {"prompt": "一只猫", "seed": 3, "origin": origin}
    return Labeler(SECRET).label(noise(96, 64), fmt, parameters, image_id).file.data  # type: ignore[arg-type]


def exiftool_json(data: bytes, tmp_path: Path, suffix: str) -> dict[str, object]:
    path = tmp_path / f"image.{suffix}"
    path.write_bytes(data)
    out = subprocess.run(
        [str(EXIFTOOL), "-json", "-XMP:all", str(path)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout)[0])


@needs_exiftool
@pytest.mark.parametrize("fmt", FORMATS)
def test_exiftool_reads_the_label_and_the_iptc_source_type(fmt: str, tmp_path: Path) -> None:
    found = exiftool_json(labelled(fmt, image_id="feedface42"), tmp_path, fmt)
    aigc = json.loads(str(found["Aigc"]))
    assert aigc["Label"] == "1"
    assert aigc["ProduceID"] == "feedface42"
    assert aigc["ContentProducer"] == "Huajia"
    assert len(aigc["ReservedCode1"]) == 64
    assert {"ContentPropagator", "PropagateID", "ReservedCode2"} <= set(aigc)
    # One packet holds both: the IPTC type survives beside the TC260 label.
    assert str(found["DigitalSourceType"]).endswith("/trainedAlgorithmicMedia")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_integrity_value_checks_the_decoded_pixels(fmt: str) -> None:
    data = labelled(fmt)
    label = read_label(read_xmp(data) or "")
    assert label is not None
    assert label_checks(label, data, SECRET)
    assert not label_checks(label, data, b"another-secret")


def test_changed_pixels_fail_the_check() -> None:
    data = labelled("png")
    with Image.open(io.BytesIO(data)) as image:
        chunks = PngImagePlugin.PngInfo()
        for key, value in image.text.items():
            chunks.add_itxt(key, value)
        changed = image.convert("RGB")
    changed.putpixel((5, 5), (0, 255, 0))
    buffer = io.BytesIO()
    changed.save(buffer, "PNG", pnginfo=chunks)
    label = read_label(read_xmp(buffer.getvalue()) or "")
    assert label is not None, "the metadata was kept"
    assert not label_checks(label, buffer.getvalue(), SECRET)


def test_the_thumbnail_keeps_a_label_of_its_own() -> None:
    labelled_image = Labeler(SECRET).label(noise(400, 300), "png", {}, "abc")
    thumb = labelled_image.thumbnail.data
    label = read_label(read_xmp(thumb) or "")
    assert label is not None and label.ProduceID == "abc" and label.Label == "1"
    assert label_checks(label, thumb, SECRET)


def test_an_original_carries_no_label() -> None:
    data = labelled("png", origin="original")
    assert read_label(read_xmp(data) or "") is None


def test_a_composite_is_labelled_too() -> None:
    label = read_label(read_xmp(labelled("webp", origin="composite")) or "")
    assert label is not None and label.Label == "1"


def test_the_secret_is_made_once_private_and_reused(tmp_path: Path) -> None:
    assert find_label_secret(None, tmp_path) is None
    first = ensure_label_secret(None, tmp_path)
    assert stat.S_IMODE((tmp_path / "label-secret").stat().st_mode) == 0o600
    assert ensure_label_secret(None, tmp_path) == first == find_label_secret(None, tmp_path)
    assert find_label_secret(SecretStr("configured"), tmp_path) == b"configured"


def test_the_secret_never_shows_in_repr() -> None:
    assert "a-test-secret" not in repr(Labeler(SECRET))


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_png_sealed_from_its_own_pixels_checks_as_a_reader_decodes_it(mode: str) -> None:
    # A PNG's digest is taken from the pixels it was encoded from (no second decode): it
    # must be the digest a reader computes from the decoded file.
    image = noise(40, 30).convert(mode)
    if mode == "RGBA":
        image.putalpha(128)
    parameters: dict[str, object] = {"prompt": "a lantern", "origin": "generated"}
    data = Labeler(SECRET).label(image, "png", parameters, "0123abcd").file.data
    label = read_label(read_xmp(data) or "")
    assert label is not None
    assert label_checks(label, data, SECRET)
