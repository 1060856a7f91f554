"""Model registry decisions: local folders' families, and what identifies a model's weights."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from huajia.engine.models import resolve_model, spec_for_folder
from huajia.errors import UnknownModel
from huajia.generation.cache import model_identity
from huajia.settings import Settings


def a_folder(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "ZImagePipeline"}')
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"v1")
    return folder


@pytest.mark.parametrize(
    ("name", "family", "steps"),
    [
        ("Z-Image-Turbo", "z-image-turbo", 8),
        ("z_image_turbo_brand_v2", "z-image-turbo", 8),
        ("Z-Image", "z-image", 50),
        ("zimage-base-finetune", "z-image", 50),
        ("brand-model", "z-image-turbo", 8),
    ],
)
def test_a_local_folder_gets_its_familys_defaults(
    tmp_path: Path, name: str, family: str, steps: int
) -> None:
    spec = spec_for_folder(a_folder(tmp_path, name))
    assert (spec.family, spec.defaults.steps) == (family, steps)


def test_names_and_folders_resolve_and_unknown_names_say_what_is_known(tmp_path: Path) -> None:
    registry = Settings(data_dir=tmp_path).registry()
    assert resolve_model("z-image", registry).defaults.guidance == 4.0
    with pytest.raises(UnknownModel, match="z-image-turbo"):
        resolve_model("sdxl", registry)


def test_replacing_a_folders_weights_changes_its_identity(tmp_path: Path) -> None:
    folder = a_folder(tmp_path, "Z-Image-Turbo")
    before = model_identity(str(folder))
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"version two")
    os.utime(weights, ns=(1, 1))
    assert model_identity(str(folder)) != before
    assert model_identity("Tongyi-MAI/Z-Image-Turbo") == "Tongyi-MAI/Z-Image-Turbo"
