"""The command line as scripts use it: `huajia generate`, `huajia model ...` in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from huajia.engine.models import spec_for_folder
from huajia.images.encode import is_ai_generated, read_parameters


def huajia(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huajia", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
        # PYTHONPATH kept: a worktree's checks run its own code, not an installed copy's.
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **_python_path()},
    )


def _python_path() -> dict[str, str]:
    given = os.environ.get("PYTHONPATH")
    if not given:
        return {}
    return {"PYTHONPATH": os.pathsep.join(str(Path(p).resolve()) for p in given.split(os.pathsep))}


def test_generate_writes_pngs_whose_text_chunks_carry_every_parameter(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = huajia(
        "generate", "春天的樱花 cherry blossoms", "--model", str(tiny_model_dir),
        "-n", "3", "--seed", "41", "--steps", "3", "--size", "128x64",
        "--guidance", "1.5", "--negative", "blurry", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "random weights" in result.stderr, "the tiny model says it draws noise"
    paths = [Path(line) for line in result.stdout.split()]
    assert len(paths) == 3
    seeds = []
    for path in paths:
        data = path.read_bytes()
        with Image.open(path) as image:
            assert image.size == (128, 64)
        parameters = read_parameters(data)
        assert parameters["prompt"] == "春天的樱花 cherry blossoms"
        assert parameters["negative_prompt"] == "blurry"
        assert (parameters["steps"], parameters["guidance"]) == (3, 1.5)
        assert (parameters["width"], parameters["height"]) == (128, 64)
        assert parameters["model"] == "tiny"
        assert is_ai_generated(data)
        seeds.append(parameters["seed"])
    assert seeds == [41, 42, 43]


def test_same_command_twice_gives_identical_pixels(tiny_model_dir: Path, tmp_path: Path) -> None:
    args = ["generate", "a kite", "--model", str(tiny_model_dir), "--seed", "5", "--steps", "2"]
    first = huajia(*args, "--size", "64x64", "-o", str(tmp_path / "a"))
    second = huajia(*args, "--size", "64x64", "-o", str(tmp_path / "b"))
    with Image.open(first.stdout.strip()) as a, Image.open(second.stdout.strip()) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--size", "100x100"], "multiple of 16"),
        (["--size", "big"], "--size must look like"),
        (["-n", "12"], "n must be between 1 and 9"),
        (["--steps", "0"], "steps must be between"),
        (["--weights", "/nonexistent.safetensors"], "no such file"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_reason(
    tiny_model_dir: Path, tmp_path: Path, extra: list[str], needle: str
) -> None:
    result = huajia("generate", "x", "--model", str(tiny_model_dir), *extra, "-o", str(tmp_path))
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_refused_weights_file_is_a_one_line_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    weights = tmp_path / "unrelated.safetensors"
    save_file({"some.other.model.weight": torch.zeros(4, 4)}, str(weights))
    result = huajia(
        "generate", "x", "--model", str(tiny_model_dir), "--weights", str(weights),
        "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "unrelated.safetensors" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    result = huajia("generate", "x", "--model", str(tmp_path / "nope"), "-o", str(tmp_path))
    assert result.returncode != 0
    assert "unknown model" in result.stderr and "Traceback" not in result.stderr


def test_model_create_tiny_and_info(tmp_path: Path) -> None:
    target = tmp_path / "tiny"
    created = huajia("model", "create-tiny", str(target))
    assert created.returncode == 0, created.stderr
    assert "noise" in created.stdout
    assert (target / "model_index.json").is_file()
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    assert size < 10 * 1024 * 1024, f"the tiny model should be a few MB, not {size} bytes"
    info = huajia("model", "info", str(target))
    assert info.returncode == 0, info.stderr
    described = json.loads(info.stdout)
    assert described["kind"] == "pipeline"
    weights = huajia(
        "model", "info", str(target / "transformer/diffusion_pytorch_model.safetensors")
    )
    assert json.loads(weights.stdout)["kind"] == "transformer weights"
    again = huajia("model", "create-tiny", str(target))
    assert again.returncode != 0 and "not empty" in again.stderr


def test_a_second_tiny_model_gets_its_own_seed_and_name(tmp_path: Path) -> None:
    first, second = tmp_path / "tiny", tmp_path / "tiny-b"
    assert huajia("model", "create-tiny", str(first)).returncode == 0
    made = huajia("model", "create-tiny", str(second), "--seed", "1", "--name", "tiny-b")
    assert made.returncode == 0, made.stderr
    assert (spec_for_folder(first).name, spec_for_folder(second).name) == ("tiny", "tiny-b")
    weights = "transformer/diffusion_pytorch_model.safetensors"
    assert (first / weights).read_bytes() != (second / weights).read_bytes(), "other weights"


def test_the_api_side_never_imports_torch(tmp_path: Path) -> None:
    """The API process stays small and quick: building the app must not load torch."""
    code = (
        "import sys; from huajia.settings import Settings; from huajia.api.app import create_app;"
        "from huajia.composition import build_services;"
        f"s = Settings(data_dir={str(tmp_path)!r}, model='z-image-turbo');"
        "create_app(build_services(s)); print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
