"""`huajia edit` and `huajia retouch` in real processes, on the tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from huajia.images.encode import read_parameters
from tests.cli.test_cli import huajia


def write_source(folder: Path) -> tuple[Path, Path]:
    source, mask = folder / "photo.png", folder / "mask.png"
    Image.new("RGB", (128, 96), (200, 30, 30)).save(source)
    repaint = Image.new("L", (128, 96), 0)
    repaint.paste(255, (48, 32, 80, 64))
    repaint.save(mask)
    return source, mask


def test_edit_inpaints_and_outpaints(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Two runs of the command (each loads the model); the engine tests cover every size."""
    source, mask = write_source(tmp_path)
    common = ["--prompt", "a red box", "--model", str(tiny_model_dir), "--steps", "2"]
    sizes = {}
    for flag in (["--mask", str(mask)], ["--outpaint", "160x128"]):
        out = tmp_path / flag[0].strip("-")
        result = huajia("edit", str(source), *common, *flag, "-o", str(out))
        assert result.returncode == 0, result.stderr
        written = Path(result.stdout.split()[0])
        with Image.open(written) as image:
            sizes[flag[0]] = image.size
            if flag[0] == "--mask":
                corner = np.asarray(image.convert("RGB"))[:8, :8]
                assert (corner == (200, 30, 30)).all(), "outside the mask: the source's pixels"
        assert read_parameters(written.read_bytes())["operation"]["kind"]
    assert sizes == {"--mask": (128, 96), "--outpaint": (160, 128)}


def test_retouch_crops_to_a_slot_and_refuses_nonsense(tmp_path: Path) -> None:
    source, _ = write_source(tmp_path)
    out = tmp_path / "card.png"
    done = huajia("retouch", str(source), "--crop-to-slot", "64x32", "--saturation", "0",
                  "--text", "新品 New", "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(out) as card:
        assert card.size == (64, 32)
    nothing = huajia("retouch", str(source), "-o", str(out))
    assert nothing.returncode == 2 and "nothing to do" in nothing.stderr
    bad = huajia("retouch", str(source), "--flip", "sideways", "-o", str(out))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    two = huajia("edit", str(source), "-p", "x", "--upscale", "2", "--outpaint", "256x256",
                 "-o", str(out))  # fmt: skip
    assert two.returncode == 2 and "choose one" in two.stderr
