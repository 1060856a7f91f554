"""Writers of weight and LoRA files in the layouts found in the wild, from the tiny model.

Every file is made here from the tiny transformer's own state dict (perturbed), so tests need
no downloads and know exactly what each file should do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from huajia.engine.models import spec_for_folder
from huajia.engine.types import GenerationRequest, LoraRef
from huajia.engine.zimage import EngineOptions, ZImageEngine

StateDict = dict[str, torch.Tensor]
RANK = 4

# diffusers name -> name in the original Z-Image checkpoint (qkv fusion handled separately)
ORIGINAL_RENAMES = (
    ("all_x_embedder.2-1.", "x_embedder."),
    ("all_final_layer.2-1.", "final_layer."),
    (".attention.to_out.0.", ".attention.out."),
    (".attention.norm_q.", ".attention.q_norm."),
    (".attention.norm_k.", ".attention.k_norm."),
)


def pixels_of(engine: ZImageEngine, loras: tuple[LoraRef, ...] = ()) -> np.ndarray:
    """The one image every test compares: same prompt, seed and size."""
    request = GenerationRequest("a fox", n=1, seed=1, steps=2, width=64, height=64, loras=loras)
    return np.asarray(engine.generate(request).images[0].image).astype(np.int16)


def to_original(state: StateDict, prefix: str = "") -> StateDict:
    """The original checkpoint layout: fused qkv, `out`, `q_norm`, bare embedder names."""
    renamed: StateDict = {}
    for name, tensor in state.items():
        for old, new in ORIGINAL_RENAMES:
            name = name.replace(old, new)
        renamed[name] = tensor
    for name in [n for n in renamed if n.endswith(".attention.to_q.weight")]:
        block = name.removesuffix("to_q.weight")
        parts = [renamed.pop(f"{block}to_{proj}.weight") for proj in "qkv"]
        renamed[f"{block}qkv.weight"] = torch.cat(parts, dim=0)
    renamed["norm_final.weight"] = torch.ones(1)  # in originals; diffusers drops it
    return {prefix + name: tensor for name, tensor in renamed.items()}


def write(tensors: StateDict, path: Path) -> Path:
    save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(path))
    return path


@pytest.fixture(scope="session")
def base_state(tiny_model_dir: Path) -> StateDict:
    """The tiny model's transformer weights as stored in its folder."""
    return load_file(str(tiny_model_dir / "transformer" / "diffusion_pytorch_model.safetensors"))


@pytest.fixture(scope="session")
def tuned_state(base_state: StateDict) -> StateDict:
    """A 'fine-tune': every weight nudged by seeded noise, enough to change the image."""
    generator = torch.Generator().manual_seed(7)
    return {
        name: tensor + 0.2 * torch.randn(tensor.shape, generator=generator)
        for name, tensor in base_state.items()
    }


@pytest.fixture(scope="session")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-files")


@pytest.fixture(scope="session")
def weights_file(tuned_state: StateDict, files_dir: Path) -> Callable[[str], Path]:
    """Path of the tuned weights in a named layout, written once per session."""
    layouts: dict[str, Callable[[], StateDict]] = {
        "diffusers": lambda: dict(tuned_state),
        "diffusers+prefix": lambda: {f"transformer.{k}": v for k, v in tuned_state.items()},
        "original": lambda: to_original(tuned_state),
        "original+prefix": lambda: to_original(tuned_state, "model.diffusion_model."),
        "bundle": lambda: (
            to_original(tuned_state, "model.diffusion_model.")
            | {"text_encoders.qwen3.layers.0.mlp.weight": torch.zeros(4, 4)}
            | {f"first_stage_model.decoder.conv{i}.weight": torch.zeros(2) for i in range(3)}
        ),
        "bfloat16": lambda: {k: v.to(torch.bfloat16) for k, v in tuned_state.items()},
    }

    def written(layout: str) -> Path:
        path = files_dir / f"tuned-{layout}.safetensors"
        if not path.exists():
            write(layouts[layout](), path)
        return path

    return written


@pytest.fixture
def fresh_engine(tiny_model_dir: Path) -> ZImageEngine:
    """An engine of its own, for tests that change weights or load adapters (~1 s)."""
    return ZImageEngine.load(spec_for_folder(tiny_model_dir), EngineOptions(local_files_only=True))


@pytest.fixture(scope="session")
def base_pixels(tiny_engine: ZImageEngine) -> np.ndarray:
    return pixels_of(tiny_engine)


def lora_modules(state: StateDict) -> dict[str, tuple[int, int]]:
    """Every attention and feed-forward linear layer: module -> (in, out) features."""
    attention = (".attention.to_q.", ".attention.to_k.", ".attention.to_v.", ".attention.to_out.0.")
    wanted = (*attention, ".feed_forward.w1.", ".feed_forward.w3.")
    return {
        name.removesuffix(".weight"): (tensor.shape[1], tensor.shape[0])
        for name, tensor in state.items()
        if name.endswith(".weight") and any(part in name for part in wanted)
    }


def lora_factors(state: StateDict, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Seeded (down, up) factors per module; strong enough to change the tiny model's image."""
    generator = torch.Generator().manual_seed(seed)
    return {
        module: (
            torch.randn(RANK, features_in, generator=generator),
            0.5 * torch.randn(features_out, RANK, generator=generator),
        )
        for module, (features_in, features_out) in sorted(lora_modules(state).items())
    }


def lora_in_layout(factors: dict[str, tuple[torch.Tensor, torch.Tensor]], layout: str) -> StateDict:
    """One adapter written the way a given trainer writes it (alpha == rank: scale 1)."""
    out: StateDict = {}
    for module, (down, up) in factors.items():
        if layout == "kohya":
            stem = "lora_unet_" + module.replace(".", "_")
            out |= {f"{stem}.lora_down.weight": down, f"{stem}.lora_up.weight": up}
            out[f"{stem}.alpha"] = torch.tensor(float(RANK))
            continue
        prefix = {"diffusers": "transformer.", "peft": "", "ai-toolkit": "diffusion_model."}
        stem = prefix[layout] + module
        out |= {f"{stem}.lora_A.weight": down, f"{stem}.lora_B.weight": up}
    return out


def fused_qkv_lora(factors: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> StateDict:
    """ComfyUI-style: q, k and v fused into one `attention.qkv` adapter, `out` kept split."""
    out: StateDict = {}
    for module, (down, up) in factors.items():
        if module.endswith(".attention.to_q"):
            block = module.removesuffix(".to_q")
            ups = [factors[f"{block}.to_{proj}"][1] for proj in "qkv"]
            out[f"diffusion_model.{block}.qkv.lora_A.weight"] = down
            out[f"diffusion_model.{block}.qkv.lora_B.weight"] = torch.cat(ups, dim=0)
        elif module.endswith(".attention.to_out.0"):
            out[f"diffusion_model.{module}.lora_A.weight"] = down
            out[f"diffusion_model.{module}.lora_B.weight"] = up
    return out


@pytest.fixture(scope="session")
def lora_file(base_state: StateDict, files_dir: Path) -> Callable[..., Path]:
    """Path of LoRA number `seed` in a named layout (or 'fused-qkv'), written once."""

    def written(layout: str, seed: int = 1) -> Path:
        path = files_dir / f"lora{seed}-{layout}.safetensors"
        if not path.exists():
            factors = lora_factors(base_state, seed)
            tensors: Any = (
                fused_qkv_lora(factors)
                if layout == "fused-qkv"
                else lora_in_layout(factors, layout)
            )
            write(tensors, path)
        return path

    return written
