"""LoRA adapters: every trainer's layout applies fully, switches per request, misfits refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer

from huajia.engine.models import spec_for_folder
from huajia.engine.types import GenerationRequest, LoraRef
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.errors import InvalidRequest, ModelFileRejected
from tests.engine.conftest import pixels_of, write

LAYOUTS = ["diffusers", "peft", "kohya", "ai-toolkit"]
SWITCH_SECONDS = 0.25  # loading the tiny model alone takes ~1 s


def adapter_modules(engine: ZImageEngine, name: str) -> list[str]:
    return [
        module_name
        for module_name, module in engine.pipe.transformer.named_modules()
        if isinstance(module, BaseTunerLayer) and name in getattr(module, "lora_A", {})
    ]


@pytest.fixture(scope="module")
def lora_pixels(tiny_model_dir: Path, lora_file: Callable[..., Path]) -> np.ndarray:
    """The image LoRA 1 draws at weight 1, loaded from the diffusers layout."""
    options = EngineOptions(local_files_only=True, loras={"one": lora_file("diffusers")})
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    return pixels_of(engine, (LoraRef("one", 1.0),))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_applies_fully_and_draws_like_the_others(
    layout: str,
    fresh_engine: ZImageEngine,
    lora_file: Callable[..., Path],
    base_pixels: np.ndarray,
    lora_pixels: np.ndarray,
) -> None:
    loaded = fresh_engine.loras.load("style", lora_file(layout))
    assert loaded.layout == layout
    assert loaded.applied == loaded.targeted == len(adapter_modules(fresh_engine, "style")) > 0
    image = pixels_of(fresh_engine, (LoraRef("style", 1.0),))
    assert np.abs(image - base_pixels).mean() > 5, "the LoRA did not change the image"
    assert np.abs(image - lora_pixels).max() <= 1


def test_weight_zero_and_no_lora_give_the_base_image_exactly(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path], base_pixels: np.ndarray
) -> None:
    fresh_engine.loras.load("style", lora_file("kohya"))
    full = pixels_of(fresh_engine, (LoraRef("style", 1.0),))
    half = pixels_of(fresh_engine, (LoraRef("style", 0.5),))
    assert np.abs(full - half).mean() > 1, "the weight had no effect"
    assert np.array_equal(pixels_of(fresh_engine, (LoraRef("style", 0.0),)), base_pixels)
    assert np.array_equal(pixels_of(fresh_engine), base_pixels)


def test_switching_between_loras_needs_no_reload(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path], base_pixels: np.ndarray
) -> None:
    fresh_engine.loras.load("one", lora_file("diffusers", seed=1))
    fresh_engine.loras.load("two", lora_file("kohya", seed=2))
    transformer = fresh_engine.pipe.transformer
    base_weight = transformer.layers[0].attention.to_q.base_layer.weight
    pointer = base_weight.data_ptr()

    first = pixels_of(fresh_engine, (LoraRef("one", 1.0),))
    started = time.perf_counter()
    fresh_engine.loras.activate((LoraRef("two", 1.0),))
    switched = time.perf_counter() - started
    second = pixels_of(fresh_engine, (LoraRef("two", 1.0),))
    again = pixels_of(fresh_engine, (LoraRef("one", 1.0),))
    both = pixels_of(fresh_engine, (LoraRef("one", 0.7), LoraRef("two", 0.7)))

    assert np.abs(first - second).mean() > 5
    assert np.array_equal(first, again)
    assert all(np.abs(both - other).mean() > 1 for other in (first, second, base_pixels))
    assert np.array_equal(pixels_of(fresh_engine), base_pixels)
    assert fresh_engine.pipe.transformer is transformer
    assert transformer.layers[0].attention.to_q.base_layer.weight is base_weight
    assert base_weight.data_ptr() == pointer
    assert switched < SWITCH_SECONDS, f"switching adapters took {switched:.2f} s"


def test_fused_qkv_lora_is_refused_and_leaves_no_adapter(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path], base_pixels: np.ndarray
) -> None:
    with pytest.raises(ModelFileRejected, match=r"attention\.qkv.*lora_allow_partial"):
        fresh_engine.loras.load("comfy", lora_file("fused-qkv"))
    assert fresh_engine.loras.names() == []
    assert adapter_modules(fresh_engine, "comfy") == []
    assert "comfy" not in getattr(fresh_engine.pipe.transformer, "peft_config", {})
    assert np.array_equal(pixels_of(fresh_engine), base_pixels)
    # The name is free again and a proper file loads under it.
    assert fresh_engine.loras.load("comfy", lora_file("ai-toolkit")).applied > 0


def test_fused_qkv_lora_loads_partially_when_allowed(
    tiny_model_dir: Path, lora_file: Callable[..., Path], base_pixels: np.ndarray
) -> None:
    options = EngineOptions(
        local_files_only=True, lora_allow_partial=True, loras={"comfy": lora_file("fused-qkv")}
    )
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    (described,) = engine.loras.describe()
    # 4 blocks: their `out` adapters apply, their fused `qkv` adapters have no target.
    assert (described["modules_targeted"], described["modules_applied"]) == (8, 4)
    assert all(name.endswith(".attention.qkv") for name in described["not_applied"])
    image = pixels_of(engine, (LoraRef("comfy", 1.0),))
    assert np.abs(image - base_pixels).mean() > 1


def test_lora_for_another_model_is_refused_and_leaves_nothing(
    fresh_engine: ZImageEngine, tmp_path: Path
) -> None:
    flux = {
        "transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": torch.ones(4, 8),
        "transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight": torch.ones(8, 4),
    }
    with pytest.raises(ModelFileRejected, match=r"does not fit|none of this model"):
        fresh_engine.loras.load("flux", write(flux, tmp_path / "flux-lora.safetensors"))
    assert fresh_engine.loras.names() == []
    assert adapter_modules(fresh_engine, "flux") == []


def test_transformer_weights_offered_as_lora_are_refused(
    fresh_engine: ZImageEngine, weights_file: Callable[[str], Path]
) -> None:
    with pytest.raises(ModelFileRejected, match="configure it as `weights`"):
        fresh_engine.loras.load("oops", weights_file("diffusers"))


def test_unknown_and_repeated_names_are_invalid_requests(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path]
) -> None:
    fresh_engine.loras.load("style", lora_file("peft"))
    with pytest.raises(InvalidRequest, match=r"unknown LoRA 'nope'; loaded: style"):
        fresh_engine.generate(GenerationRequest("a fox", loras=(LoraRef("nope"),)))
    with pytest.raises(InvalidRequest, match="named twice"):
        fresh_engine.loras.check((LoraRef("style"), LoraRef("style", 0.5)))
    with pytest.raises(InvalidRequest, match="already loaded"):
        fresh_engine.loras.load("style", lora_file("kohya"))


def test_unload_removes_the_adapter(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path], base_pixels: np.ndarray
) -> None:
    fresh_engine.loras.load("style", lora_file("ai-toolkit"))
    fresh_engine.loras.unload("style")
    assert fresh_engine.loras.names() == []
    assert adapter_modules(fresh_engine, "style") == []
    assert np.array_equal(pixels_of(fresh_engine), base_pixels)


def test_engine_loads_loras_from_options(
    tiny_model_dir: Path, lora_file: Callable[..., Path], lora_pixels: np.ndarray
) -> None:
    options = EngineOptions(local_files_only=True, loras={"style": lora_file("kohya")})
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    assert [lora["name"] for lora in engine.describe()["loras"]] == ["style"]
    assert np.abs(pixels_of(engine, (LoraRef("style"),)) - lora_pixels).max() <= 1
