"""GPU-only checks: the engine on CUDA (bf16, offload modes, NVML). Skipped without a GPU.

Run them on a GPU machine with `pytest -m gpu`; they use the tiny model, so any GPU will do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def load(model: Path, offload: str) -> object:
    from huajia.engine.models import spec_for_folder
    from huajia.engine.zimage import EngineOptions, ZImageEngine

    spec = spec_for_folder(model).model_copy(update={"dtype": "auto"})
    return ZImageEngine.load(spec, EngineOptions(offload=offload, local_files_only=True))


def pixels(engine: object, seed: int = 3) -> np.ndarray:
    from huajia.engine.types import GenerationRequest

    request = GenerationRequest("a lighthouse", seed=seed, steps=4, width=256, height=256)
    result = engine.generate(request)  # type: ignore[attr-defined]
    return np.asarray(result.images[0].image).astype(int)


def test_cuda_engine_runs_in_bf16_and_reports_vram(tiny_model_dir: Path) -> None:
    engine = load(tiny_model_dir, "none")
    info = engine.describe()  # type: ignore[attr-defined]
    assert info["device"] == "cuda"
    assert info["dtype"] == "bfloat16"
    assert info["vram_total_bytes"] and info["vram_used_bytes"]
    image = pixels(engine)
    assert image.std() > 0, "not a blank (black) image"


def test_offload_modes_give_the_same_image(tiny_model_dir: Path) -> None:
    on_gpu = pixels(load(tiny_model_dir, "none"))
    for mode in ("model", "sequential"):
        offloaded = load(tiny_model_dir, mode)
        assert offloaded.describe()["offload"] == mode  # type: ignore[attr-defined]
        assert np.abs(pixels(offloaded) - on_gpu).max() <= 2, mode


def test_allocator_setting_is_in_place_before_cuda_starts(tiny_model_dir: Path) -> None:
    import os

    load(tiny_model_dir, "none")
    assert os.environ.get("PYTORCH_CUDA_ALLOC_CONF")
