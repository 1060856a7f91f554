"""The engine on the tiny random-weight model: determinism, seeds, cancel, input checks."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from huajia.engine.types import BatchItem, CancelToken, GenerationRequest
from huajia.engine.zimage import ZImageEngine
from huajia.errors import GenerationCanceled, InvalidRequest, PromptTooLong

SMALL = {"width": 128, "height": 128, "steps": 3}


def pixels(image: Any) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def test_same_seed_gives_identical_pixels(tiny_engine: ZImageEngine) -> None:
    first = tiny_engine.generate(GenerationRequest("a lighthouse at dusk", seed=42, **SMALL))
    again = tiny_engine.generate(GenerationRequest("a lighthouse at dusk", seed=42, **SMALL))
    assert np.array_equal(pixels(first.images[0].image), pixels(again.images[0].image))


def test_images_of_one_request_differ_and_carry_distinct_seeds(tiny_engine: ZImageEngine) -> None:
    result = tiny_engine.generate(GenerationRequest("a red fox", n=4, seed=100, **SMALL))
    assert [image.seed for image in result.images] == [100, 101, 102, 103]
    arrays = [pixels(image.image) for image in result.images]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert np.abs(arrays[i] - arrays[j]).mean() > 5, f"images {i} and {j} look alike"


def test_random_seeds_are_reported_and_distinct(tiny_engine: ZImageEngine) -> None:
    result = tiny_engine.generate(GenerationRequest("a red fox", n=3, **SMALL))
    seeds = [image.seed for image in result.images]
    assert len(set(seeds)) == 3


def test_image_i_regenerated_alone_from_its_seed_matches(tiny_engine: ZImageEngine) -> None:
    batch = tiny_engine.generate(GenerationRequest("tea on a desk", n=3, **SMALL))
    third = batch.images[2]
    alone = tiny_engine.generate(GenerationRequest("tea on a desk", seed=third.seed, **SMALL))
    # Batched and single matmuls may round differently: at most one level of 255.
    assert np.abs(pixels(alone.images[0].image) - pixels(third.image)).max() <= 1


def test_size_and_defaults_come_from_the_model(tiny_engine: ZImageEngine) -> None:
    result = tiny_engine.generate(GenerationRequest("a kite", width=192, height=64, steps=2))
    assert result.images[0].image.size == (192, 64)
    resolved = tiny_engine.resolve(GenerationRequest("a kite"))
    defaults = tiny_engine.spec.defaults
    assert (resolved.width, resolved.height, resolved.steps) == (
        defaults.width,
        defaults.height,
        defaults.steps,
    )


def test_progress_is_reported_every_step(tiny_engine: ZImageEngine) -> None:
    seen: list[tuple[int, int]] = []
    tiny_engine.generate(
        GenerationRequest("a kite", steps=5, width=64, height=64),
        on_progress=lambda step, total: seen.append((step, total)),
    )
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_cancel_mid_run_returns_within_one_step_and_engine_stays_usable(
    tiny_engine: ZImageEngine,
) -> None:
    cancel = CancelToken()
    steps_seen: list[int] = []

    def on_progress(step: int, _total: int) -> None:
        steps_seen.append(step)
        if step == 3:
            cancel.cancel()

    with pytest.raises(GenerationCanceled):
        tiny_engine.generate(
            GenerationRequest("a storm", steps=40, width=64, height=64),
            on_progress=on_progress,
            cancel=cancel,
        )
    assert steps_seen == [1, 2, 3], "the engine ran on after the cancel"
    after = tiny_engine.generate(GenerationRequest("a calm sea", seed=1, **SMALL))
    assert len(after.images) == 1


def test_cancel_from_another_thread(tiny_engine: ZImageEngine) -> None:
    cancel = CancelToken()
    started = threading.Event()

    def on_progress(step: int, _total: int) -> None:
        started.set()
        time.sleep(0.02)

    canceler = threading.Thread(target=lambda: (started.wait(5), cancel.cancel()))
    canceler.start()
    t0 = time.perf_counter()
    with pytest.raises(GenerationCanceled):
        tiny_engine.generate(
            GenerationRequest("a storm", steps=50, width=64, height=64),
            on_progress=on_progress,
            cancel=cancel,
        )
    canceler.join()
    assert time.perf_counter() - t0 < 5


def test_batch_keeps_each_request_apart(tiny_engine: ZImageEngine) -> None:
    first = tiny_engine.resolve(GenerationRequest("a cat", n=2, seed=5, **SMALL))
    second = tiny_engine.resolve(GenerationRequest("a dog", n=1, seed=9, **SMALL))
    outcomes = tiny_engine.generate_batch([BatchItem(first), BatchItem(second)])
    results = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    assert [[i.seed for i in r.images] for r in results] == [[5, 6], [9]]
    alone = tiny_engine.generate(GenerationRequest("a dog", seed=9, **SMALL))
    assert np.abs(pixels(alone.images[0].image) - pixels(results[1].images[0].image)).max() <= 1


def test_canceling_one_request_of_a_batch_spares_the_other(tiny_engine: ZImageEngine) -> None:
    cancel = CancelToken()
    cancel.cancel()
    kept = tiny_engine.resolve(GenerationRequest("a cat", seed=5, **SMALL))
    dropped = tiny_engine.resolve(GenerationRequest("a dog", seed=9, **SMALL))
    outcomes = tiny_engine.generate_batch([BatchItem(kept), BatchItem(dropped, cancel=cancel)])
    assert not isinstance(outcomes[0], Exception)
    assert isinstance(outcomes[1], GenerationCanceled)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 100}, "multiple of 16"),
        ({"height": 4096}, "between 64 and 1024"),
        ({"width": 32}, "between 64 and 1024"),
        ({"steps": 0}, "steps must be between 1"),
        ({"steps": 1000}, "steps must be between 1"),
        ({"guidance": -1.0}, "guidance must be between"),
        ({"guidance": float("nan")}, "guidance must be between"),
        ({"n": 0}, "n must be between 1 and 9"),
        ({"n": 10}, "n must be between 1 and 9"),
        ({"seed": -5}, "seed must be between"),
        ({"prompt": "   "}, "prompt is empty"),
    ],
)
def test_bad_inputs_give_clear_errors(
    tiny_engine: ZImageEngine, changes: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {"prompt": "a tree", **changes}
    with pytest.raises(InvalidRequest, match=message):
        tiny_engine.resolve(GenerationRequest(**fields))


def test_prompt_over_the_token_limit_is_refused_not_truncated(tiny_engine: ZImageEngine) -> None:
    # The tiny tokenizer is byte-level: 600 ASCII letters are 600 tokens.
    with pytest.raises(PromptTooLong, match="at most 512"):
        tiny_engine.resolve(GenerationRequest("a" * 600))
    # Chinese characters are three bytes each in UTF-8.
    tiny_engine.resolve(GenerationRequest("画" * 160))
    with pytest.raises(PromptTooLong):
        tiny_engine.resolve(GenerationRequest("画" * 180))


def test_describe_reports_device_dtype_offload(tiny_engine: ZImageEngine) -> None:
    info = tiny_engine.describe()
    assert info["device"] == "cpu"
    assert info["dtype"] == "float32"
    assert info["offload"] == "none"
    assert info["random_weights"] is True
    assert info["vram_used_bytes"] is None


def test_vae_tiling_is_used_for_large_images_only(tiny_model_dir: Any) -> None:
    from huajia.engine.models import spec_for_folder
    from huajia.engine.zimage import EngineOptions

    options = EngineOptions(local_files_only=True, vae_tiling_min_pixels=128 * 128)
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    engine.generate(GenerationRequest("a map", steps=1, width=128, height=128))
    assert engine.pipe.vae.use_tiling is True
    engine.generate(GenerationRequest("a map", steps=1, width=64, height=64))
    assert engine.pipe.vae.use_tiling is False
