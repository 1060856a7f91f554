"""`huajia generate --weights FILE --lora FILE:WEIGHT`, as scripts call it, in a real process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from huajia.images.encode import read_parameters


def generate(model: Path, out: Path, *extra: str) -> tuple[np.ndarray, dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "huajia", "generate", "a lighthouse", "--model", str(model),
         "--seed", "9", "--steps", "2", "--size", "64x64", "-o", str(out), *extra],
        capture_output=True, text=True, timeout=180, check=False, env={"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    with Image.open(path) as image:
        pixels = np.asarray(image).astype(int)
    return pixels, read_parameters(path.read_bytes())


def test_weights_and_lora_flags_change_the_image_and_are_recorded(
    tiny_model_dir: Path,
    tmp_path: Path,
    weights_file: Callable[[str], Path],
    lora_file: Callable[..., Path],
) -> None:
    base, _ = generate(tiny_model_dir, tmp_path / "base")
    weights = weights_file("original+prefix")
    tuned, tuned_parameters = generate(
        tiny_model_dir, tmp_path / "tuned", "--weights", str(weights)
    )
    assert np.abs(tuned - base).mean() > 1, "the fine-tuned weights change the output"
    assert tuned_parameters["weights"] == weights.name
    lora = lora_file("kohya")
    styled, styled_parameters = generate(
        tiny_model_dir, tmp_path / "styled", "--lora", f"{lora}:0.8"
    )
    assert np.abs(styled - base).mean() > 1, "the LoRA changes the output"
    assert styled_parameters["loras"] == [{"name": lora.stem, "weight": 0.8}]
    off, _ = generate(tiny_model_dir, tmp_path / "off", "--lora", f"{lora}:0")
    assert np.array_equal(off, base), "weight 0 gives the base model's image"
