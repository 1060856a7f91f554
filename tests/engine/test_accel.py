"""Optional accelerations on the tiny model: each one's image stays within a tolerance of the
plain pipeline's, and each really changes how the transformer runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from huajia.engine.accel import Accelerations
from huajia.engine.models import spec_for_folder
from huajia.engine.types import GenerationRequest
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.errors import ModelLoadError

STEPS = 8


def pixels(engine: ZImageEngine) -> np.ndarray:
    request = GenerationRequest("a fox", n=1, seed=1, steps=STEPS, width=64, height=64)
    return np.asarray(engine.generate(request).images[0].image).astype(np.int16)


def loaded(model: Path, **accel: object) -> ZImageEngine:
    options = EngineOptions(local_files_only=True, accel=Accelerations(**accel))  # type: ignore[arg-type]
    return ZImageEngine.load(spec_for_folder(model), options)


@pytest.fixture(scope="module")
def plain(tiny_engine: ZImageEngine) -> np.ndarray:
    return pixels(tiny_engine)


def block_calls(engine: ZImageEngine) -> list[int]:
    """Counts calls of the last transformer block (the one a step cache skips)."""
    calls: list[int] = []
    engine.pipe.transformer.layers[-1].register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_an_attention_backend_gives_the_same_image(tiny_model_dir: Path, plain: np.ndarray
                                                   ) -> None:  # fmt: skip
    engine = loaded(tiny_model_dir, attention_backend="_native_math")
    assert engine.pipe.transformer.layers[0].attention.processor._attention_backend is not None
    assert np.abs(pixels(engine) - plain).max() <= 2
    assert engine.describe()["accelerations"] == ["attention:_native_math"]


def test_an_unknown_or_unusable_attention_backend_is_refused_at_load(tiny_model_dir: Path
                                                                     ) -> None:  # fmt: skip
    with pytest.raises(ModelLoadError, match="unknown attention backend 'warp'"):
        loaded(tiny_model_dir, attention_backend="warp")
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        with pytest.raises(ModelLoadError, match="'flash' cannot run here"):
            loaded(tiny_model_dir, attention_backend="flash")


def test_the_step_cache_skips_blocks_and_stays_close(tiny_model_dir: Path, plain: np.ndarray
                                                     ) -> None:  # fmt: skip
    pytest.importorskip("cache_dit", reason="step_cache needs cache-dit (huajia[accel])")
    # Random weights change a lot between steps: a high threshold makes the cache hit.
    engine = loaded(tiny_model_dir, step_cache=True, step_cache_threshold=1.0,
                    step_cache_warmup_steps=2)  # fmt: skip
    calls = block_calls(engine)
    cached = pixels(engine)
    assert 0 < len(calls) < STEPS, "some steps reused the cache instead of running the block"
    difference = np.abs(cached - plain)
    assert difference.mean() <= 6 and difference.max() <= 64, "close to the plain image"


def test_the_plain_pipeline_runs_every_block(tiny_model_dir: Path) -> None:
    """The counter the step-cache test relies on does count every step."""
    engine = loaded(tiny_model_dir)
    calls = block_calls(engine)
    pixels(engine)
    assert len(calls) == STEPS


def test_compiled_blocks_give_the_same_image(tiny_model_dir: Path, plain: np.ndarray) -> None:
    """Slow on a CPU (inductor writes and builds C++ once): about a minute."""
    engine = loaded(tiny_model_dir, compile_blocks=True)
    try:
        compiled = pixels(engine)
    except Exception as error:  # no C++ compiler, an unsupported platform ...
        if "inductor" not in type(error).__module__ and "Inductor" not in type(error).__name__:
            raise
        pytest.skip(f"torch.compile cannot build kernels on this machine: {error}")
    assert np.abs(compiled - plain).max() <= 2


def test_accelerations_are_off_by_default() -> None:
    assert Accelerations().names() == []
    assert dataclasses.replace(Accelerations(), step_cache=True).names() == ["step_cache:0.08"]
