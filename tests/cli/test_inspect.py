"""`huajia inspect FILE`, run as an operator runs it (a real process, no model loaded)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image, PngImagePlugin

from huajia.images.labeler import Labeler, ensure_label_secret
from tests.images.pictures import noise
from tests.support.server import huajia_command, server_env


def labelled_png(data_dir: Path) -> bytes:
    labeler = Labeler(ensure_label_secret(None, data_dir), producer="Studio 9")
    parameters: dict[str, object] = {"prompt": "灯塔", "seed": 9, "origin": "generated"}
    return labeler.label(noise(80, 60), "png", parameters, "cafe01").file.data


def with_pixels_changed(data: bytes) -> bytes:
    """Re-saved losslessly with every text chunk (parameters, XMP label) kept."""
    with Image.open(io.BytesIO(data)) as image:
        chunks = PngImagePlugin.PngInfo()
        for key, value in image.text.items():
            chunks.add_itxt(key, value)
        changed = image.convert("RGB")
    for x in range(3):
        changed.putpixel((x, 0), (255, 0, 255))
    buffer = io.BytesIO()
    changed.save(buffer, "PNG", pnginfo=chunks)
    return buffer.getvalue()


def test_a_labelled_file_passes_and_a_changed_one_fails(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    good = tmp_path / "good.png"
    good.write_bytes(labelled_png(data_dir))
    passed = huajia_command(["inspect", str(good)], data_dir)
    assert passed.returncode == 0, passed.stderr
    assert "ProduceID=cafe01" in passed.stdout and "ContentProducer=Studio 9" in passed.stdout
    assert "label integrity: valid" in passed.stdout
    assert "trainedAlgorithmicMedia" in passed.stdout and "灯塔" in passed.stdout
    assert "C2PA: none" in passed.stdout

    bad = tmp_path / "bad.png"
    bad.write_bytes(with_pixels_changed(good.read_bytes()))
    failed = huajia_command(["inspect", "--json", str(bad)], data_dir)
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["label"]["ProduceID"] == "cafe01"
    assert report["integrity"] == "invalid" and report["failed"] is True


def test_without_the_secret_it_says_it_cannot_check(tmp_path: Path) -> None:
    file = tmp_path / "image.png"
    file.write_bytes(labelled_png(tmp_path / "elsewhere"))
    result = huajia_command(["inspect", str(file)], tmp_path / "empty-data")
    assert result.returncode == 0, result.stderr
    assert "cannot check: no secret" in result.stdout
    assert not (tmp_path / "empty-data" / "label-secret").exists(), "inspect makes no secret"


def test_inspect_needs_neither_torch_nor_the_model(tmp_path: Path) -> None:
    file = tmp_path / "image.png"
    file.write_bytes(labelled_png(tmp_path))
    probe = (
        "import sys; from typer.testing import CliRunner; from huajia.cli.main import app; "
        f"result = CliRunner().invoke(app, ['inspect', {str(file)!r}]); "
        "print(result.exit_code, 'torch' in sys.modules, 'diffusers' in sys.modules)"
    )
    env = server_env({"HUAJIA_DATA_DIR": str(tmp_path)})
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert ran.stdout.split() == ["0", "False", "False"]
