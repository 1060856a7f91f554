"""Out-of-memory handling: retry with smaller batches, then a clear error; the engine survives.

No GPU here, so the pipeline is wrapped to raise torch's real OutOfMemoryError for batches
above a size, exactly where CUDA would; the generation underneath is the real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from huajia.engine.models import spec_for_folder
from huajia.engine.types import GenerationRequest
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.errors import OutOfMemory


class GpuThatFits:
    """The real pipeline, behind a memory limit of `max_images` images per call."""

    def __init__(self, pipe: Any, max_images: int) -> None:
        self._pipe = pipe
        self.max_images = max_images
        self.batch_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def __call__(self, **kwargs: Any) -> Any:
        size = len(kwargs["prompt"])
        self.batch_sizes.append(size)
        if size > self.max_images:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self._pipe(**kwargs)


@pytest.fixture
def engine(tiny_model_dir: Path) -> ZImageEngine:
    return ZImageEngine.load(spec_for_folder(tiny_model_dir), EngineOptions(local_files_only=True))


def test_out_of_memory_retries_with_smaller_batches(engine: ZImageEngine) -> None:
    request = GenerationRequest("a harbour", n=4, seed=10, steps=2, width=64, height=64)
    expected = engine.generate(request)
    gpu = GpuThatFits(engine.pipe, max_images=1)
    engine.pipe = gpu
    result = engine.generate(request)
    assert gpu.batch_sizes == [4, 2, 1, 1, 1, 1]
    assert [image.seed for image in result.images] == [10, 11, 12, 13]
    for got, want in zip(result.images, expected.images, strict=True):
        diff = np.abs(np.asarray(got.image).astype(int) - np.asarray(want.image)).max()
        assert diff <= 1


def test_out_of_memory_for_one_image_is_a_clear_error_and_the_engine_stays_usable(
    engine: ZImageEngine,
) -> None:
    real = engine.pipe
    engine.pipe = GpuThatFits(real, max_images=0)
    with pytest.raises(OutOfMemory, match="not enough GPU memory"):
        engine.generate(GenerationRequest("a harbour", n=2, steps=2, width=64, height=64))
    engine.pipe = real
    after = engine.generate(GenerationRequest("a harbour", steps=2, width=64, height=64))
    assert len(after.images) == 1
