"""The model registry: named models, their sources, defaults and limits (no torch here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huajia.errors import UnknownModel

TINY_MARKER = "huajia_tiny.json"

Dtype = Literal["auto", "bfloat16", "float32"]


class ModelLimits(BaseModel):
    """What a request may ask of a model."""

    model_config = ConfigDict(frozen=True)

    min_size: int = 256
    max_size: int = 2048
    size_multiple: int = 16
    max_steps: int = 100
    min_guidance: float = 0.0
    max_guidance: float = 20.0
    max_prompt_tokens: int = 512
    max_images: int = 9


class ModelDefaults(BaseModel):
    """What a request that leaves a parameter out gets."""

    model_config = ConfigDict(frozen=True)

    steps: int
    guidance: float
    width: int = 1024
    height: int = 1024
    negative_prompt: str = ""


class ModelSpec(BaseModel):
    """One named model: where its weights are and how to drive it."""

    model_config = ConfigDict(frozen=True)

    name: str
    source: str = Field(description="A local diffusers folder or a Hugging Face repo id.")
    family: Literal["z-image-turbo", "z-image", "tiny"] = "z-image-turbo"
    dtype: Dtype = "auto"
    defaults: ModelDefaults
    limits: ModelLimits = ModelLimits()
    description: str = ""

    @property
    def uses_negative_prompt(self) -> bool:
        """Turbo runs without classifier-free guidance, so a negative prompt has no effect."""
        return self.defaults.guidance > 0 or self.family != "z-image-turbo"

    @property
    def is_random_weights(self) -> bool:
        return self.family == "tiny"


def builtin_models() -> dict[str, ModelSpec]:
    """The models Huajia knows by name out of the box."""
    return {
        "z-image-turbo": ModelSpec(
            name="z-image-turbo",
            source="Tongyi-MAI/Z-Image-Turbo",
            family="z-image-turbo",
            # diffusers >= 0.39 counts transformer passes: 8 here is the model card's "9".
            defaults=ModelDefaults(steps=8, guidance=0.0),
            description="Z-Image-Turbo, distilled: 8 steps, no guidance, 1024x1024.",
        ),
        "z-image": ModelSpec(
            name="z-image",
            source="Tongyi-MAI/Z-Image",
            family="z-image",
            defaults=ModelDefaults(steps=50, guidance=4.0),
            description="Z-Image base: 50 steps, guidance 4, negative prompt honoured.",
        ),
    }


def tiny_spec(source: str, name: str = "tiny") -> ModelSpec:
    """The random-weight test model: small sizes, few steps; it draws noise."""
    return ModelSpec(
        name=name,
        source=source,
        family="tiny",
        dtype="float32",
        defaults=ModelDefaults(steps=4, guidance=0.0, width=256, height=256),
        limits=ModelLimits(min_size=64, max_size=1024, max_steps=50),
        description="Tiny random-weight Z-Image for tests and offline use: it draws noise.",
    )


def resolve_model(name_or_path: str, registry: dict[str, ModelSpec]) -> ModelSpec:
    """Find a model by registry name, or describe a local diffusers folder."""
    if name_or_path in registry:
        return registry[name_or_path]
    path = Path(name_or_path).expanduser()
    if (path / "model_index.json").is_file():
        return spec_for_folder(path)
    known = ", ".join(sorted(registry)) or "none"
    raise UnknownModel(
        f"unknown model {name_or_path!r}: give a configured name ({known}) "
        "or a folder holding a diffusers model_index.json"
    )


def spec_for_folder(path: Path) -> ModelSpec:
    """A spec for a diffusers folder; the tiny model announces itself with a marker file.

    Turbo and the base model share one architecture, so the folder's name tells them apart
    ("...Turbo..." or not). Name a folder any other way in `[models.NAME]` with its family.
    """
    resolved = str(path.resolve())
    marker = path / TINY_MARKER
    if marker.is_file():
        info = json.loads(marker.read_text(encoding="utf-8"))
        return tiny_spec(resolved, name=str(info.get("name", path.name)))
    base = builtin_models()[family_from_name(path.name)]
    return base.model_copy(update={"name": path.name, "source": resolved})


def family_from_name(name: str) -> str:
    """'z-image-turbo' unless the name says Z-Image without Turbo (the base model)."""
    lowered = name.lower().replace("_", "-")
    if "turbo" not in lowered and ("z-image" in lowered or "zimage" in lowered):
        return "z-image"
    return "z-image-turbo"
