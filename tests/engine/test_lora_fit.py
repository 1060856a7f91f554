"""The header-only fit check agrees with what loading into the real pipeline measures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from huajia.engine.lora_fit import check_fit, model_modules
from huajia.engine.models import spec_for_folder
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.errors import ModelFileRejected
from tests.engine.test_lora import LAYOUTS


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_fits_fully_as_when_loaded(
    layout: str, tiny_model_dir: Path, fresh_engine: ZImageEngine, lora_file: Callable[..., Path]
) -> None:
    path = lora_file(layout)
    checked = check_fit("style", path, model_modules(str(tiny_model_dir)))
    loaded = fresh_engine.loras.load("style", path)
    assert checked.summary() == loaded.summary()
    assert checked.applied == checked.targeted > 0


def test_fused_qkv_is_reported_partial_like_the_engine_does(
    tiny_model_dir: Path, lora_file: Callable[..., Path]
) -> None:
    path = lora_file("fused-qkv")
    checked = check_fit("comfy", path, model_modules(str(tiny_model_dir)))
    options = EngineOptions(local_files_only=True, lora_allow_partial=True, loras={"comfy": path})
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    assert checked.summary() == engine.loras.describe()[0]
    assert 0 < checked.applied < checked.targeted


def test_transformer_weights_are_not_a_lora(
    tiny_model_dir: Path, weights_file: Callable[[str], Path]
) -> None:
    with pytest.raises(ModelFileRejected, match="no LoRA keys"):
        check_fit("w", weights_file("diffusers"), model_modules(str(tiny_model_dir)))


def test_a_model_not_on_this_machine_cannot_check(tmp_path: Path) -> None:
    with pytest.raises(ModelFileRejected, match="not on this machine"):
        model_modules("nobody/no-such-model-here")


def test_a_registered_lora_loads_once_and_reloads_when_its_file_changes(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path]
) -> None:
    first = fresh_engine.loras.ensure("brand", lora_file("diffusers", seed=1), "sha256:one")
    assert fresh_engine.loras.ensure("brand", lora_file("diffusers", seed=1), "sha256:one") is first
    second = fresh_engine.loras.ensure("brand", lora_file("kohya", seed=2), "sha256:two")
    assert second is not first and second.path.name == "lora2-kohya.safetensors"
    assert fresh_engine.loras.names() == ["brand"]
