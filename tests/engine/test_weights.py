"""Custom transformer weights: every layout loads and draws the same, misfits leave no trace."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from huajia.engine.models import spec_for_folder
from huajia.engine.types import GenerationRequest, LoraRef
from huajia.engine.weights import apply_weights
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.errors import ModelFileRejected
from tests.engine.conftest import StateDict, pixels_of, write

LAYOUTS = {
    "diffusers": ("diffusers", None),
    "diffusers+prefix": ("diffusers+prefix", "transformer."),
    "original": ("original", None),
    "original+prefix": ("original", "model.diffusion_model."),
}


@pytest.fixture(scope="module")
def tuned_pixels(tiny_model_dir: Path, weights_file: Callable[[str], Path]) -> np.ndarray:
    """The image drawn by the tuned weights, loaded in the plain diffusers layout."""
    options = EngineOptions(local_files_only=True, weights=weights_file("diffusers"))
    return pixels_of(ZImageEngine.load(spec_for_folder(tiny_model_dir), options))


def snapshot(engine: ZImageEngine) -> StateDict:
    return {k: v.detach().clone() for k, v in engine.pipe.transformer.state_dict().items()}


def assert_unchanged(engine: ZImageEngine, before: StateDict) -> None:
    after = engine.pipe.transformer.state_dict()
    assert after.keys() == before.keys()
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor), f"{name} changed"


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_loads_fully_and_draws_like_the_others(
    layout: str,
    fresh_engine: ZImageEngine,
    weights_file: Callable[[str], Path],
    base_pixels: np.ndarray,
    tuned_pixels: np.ndarray,
) -> None:
    report = fresh_engine.apply_weights(weights_file(layout))
    assert (report.layout, report.prefix) == LAYOUTS[layout]
    assert report.matched == report.model_keys
    assert report.unexpected == report.missing == report.shape_mismatched == ()
    image = pixels_of(fresh_engine)
    assert np.abs(image - base_pixels).mean() > 5, "the weights did not change the image"
    assert np.abs(image - tuned_pixels).max() <= 1


def test_applied_values_are_the_files_values(
    fresh_engine: ZImageEngine, weights_file: Callable[[str], Path], tuned_state: StateDict
) -> None:
    fresh_engine.apply_weights(weights_file("original+prefix"))
    loaded = fresh_engine.pipe.transformer.state_dict()
    for name, tensor in tuned_state.items():
        assert torch.equal(loaded[name], tensor), name


def test_bundled_text_encoder_and_vae_keys_are_reported_and_left_alone(
    fresh_engine: ZImageEngine, weights_file: Callable[[str], Path], tuned_pixels: np.ndarray
) -> None:
    vae_before = {k: v.clone() for k, v in fresh_engine.pipe.vae.state_dict().items()}
    report = fresh_engine.apply_weights(weights_file("bundle"))
    assert report.ignored == {"text_encoder": 1, "vae": 3}
    assert report.summary()["ignored"] == {"text_encoder": 1, "vae": 3}
    assert report.matched == report.model_keys
    assert np.abs(pixels_of(fresh_engine) - tuned_pixels).max() <= 1
    for name, tensor in fresh_engine.pipe.vae.state_dict().items():
        assert torch.equal(tensor, vae_before[name])


def test_bfloat16_file_is_cast_to_the_models_dtype(
    fresh_engine: ZImageEngine, weights_file: Callable[[str], Path], tuned_state: StateDict
) -> None:
    report = fresh_engine.apply_weights(weights_file("bfloat16"))
    assert report.source_dtypes == ("bfloat16",)
    assert report.dtype == "float32"
    weight = fresh_engine.pipe.transformer.state_dict()["layers.0.attention.to_q.weight"]
    assert weight.dtype == torch.float32
    expected = tuned_state["layers.0.attention.to_q.weight"].to(torch.bfloat16).float()
    assert torch.equal(weight, expected)


def test_file_matching_nothing_is_refused_and_the_model_is_untouched(
    fresh_engine: ZImageEngine, tmp_path: Path, base_pixels: np.ndarray
) -> None:
    stranger = write(
        {"single_blocks.0.linear1.weight": torch.ones(8, 8), "img_in.bias": torch.ones(8)},
        tmp_path / "flux-ish.safetensors",
    )
    before = snapshot(fresh_engine)
    with pytest.raises(ModelFileRejected, match=r"matches 0 of the model's 73"):
        fresh_engine.apply_weights(stranger)
    assert_unchanged(fresh_engine, before)
    assert fresh_engine.weights is None
    assert np.array_equal(pixels_of(fresh_engine), base_pixels)


def test_wrong_sized_transformer_is_refused_naming_the_shapes(
    fresh_engine: ZImageEngine, tuned_state: StateDict, tmp_path: Path
) -> None:
    bigger = {name: torch.zeros(tuple(s * 2 for s in t.shape)) for name, t in tuned_state.items()}
    path = write(bigger, tmp_path / "bigger.safetensors")
    before = snapshot(fresh_engine)
    with pytest.raises(ModelFileRejected, match=r"wrong shape, e\.g\. .*file \[") as refused:
        fresh_engine.apply_weights(path)
    assert "weights_min_match" in refused.value.message
    assert_unchanged(fresh_engine, before)


def test_partial_file_above_threshold_loads_only_what_it_has(
    fresh_engine: ZImageEngine, tuned_state: StateDict, base_state: StateDict, tmp_path: Path
) -> None:
    left_out = sorted(tuned_state)[:5]
    partial = {k: v for k, v in tuned_state.items() if k not in left_out}
    report = apply_weights(fresh_engine.pipe, write(partial, tmp_path / "p.safetensors"), 0.9)
    assert report.matched == 68
    assert list(report.missing) == left_out
    loaded = fresh_engine.pipe.transformer.state_dict()
    for name in tuned_state:
        expected = base_state[name] if name in left_out else tuned_state[name]
        assert torch.equal(loaded[name], expected), name


def test_partial_file_below_threshold_is_refused(
    fresh_engine: ZImageEngine, tuned_state: StateDict, tmp_path: Path
) -> None:
    half = dict(sorted(tuned_state.items())[:36])
    path = write(half, tmp_path / "half.safetensors")
    before = snapshot(fresh_engine)
    with pytest.raises(ModelFileRejected, match=r"matches 36 of .* at least 90%"):
        apply_weights(fresh_engine.pipe, path, 0.9)
    assert_unchanged(fresh_engine, before)
    assert apply_weights(fresh_engine.pipe, path, 0.4).matched == 36


def test_lora_offered_as_weights_is_refused_with_advice(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path]
) -> None:
    with pytest.raises(ModelFileRejected, match="load it as a LoRA"):
        fresh_engine.apply_weights(lora_file("diffusers"))


@pytest.mark.parametrize("content", [b"\x80\x04\x95pickle-bytes", b""])
def test_non_safetensors_file_is_refused_without_unpickling(
    fresh_engine: ZImageEngine, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(ModelFileRejected, match="never pickle"):
        fresh_engine.apply_weights(path)


def test_engine_loads_weights_from_options_and_reports_them(
    tiny_model_dir: Path, weights_file: Callable[[str], Path], tuned_pixels: np.ndarray
) -> None:
    path = weights_file("original+prefix")
    options = EngineOptions(local_files_only=True, weights=path)
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    summary = json.loads(json.dumps(engine.describe()["weights"]))
    assert summary["name"] == path.name
    assert summary["matched"] == summary["model_keys"] == 73
    assert summary["layout"] == "original"
    result = engine.generate(GenerationRequest("a fox", steps=2, width=64, height=64))
    assert result.weights == path.name
    assert np.abs(pixels_of(engine) - tuned_pixels).max() <= 1


def test_weights_apply_under_a_loaded_lora(
    fresh_engine: ZImageEngine,
    weights_file: Callable[[str], Path],
    lora_file: Callable[..., Path],
    tuned_pixels: np.ndarray,
) -> None:
    fresh_engine.loras.load("style", lora_file("peft"))
    report = fresh_engine.apply_weights(weights_file("diffusers"))
    assert report.matched == report.model_keys == 73
    assert np.abs(pixels_of(fresh_engine) - tuned_pixels).max() <= 1
    with_lora = pixels_of(fresh_engine, (LoraRef("style"),))
    assert np.abs(with_lora - tuned_pixels).mean() > 5
