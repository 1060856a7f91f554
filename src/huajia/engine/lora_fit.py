"""Does a LoRA fit the model? Answered from safetensors headers alone (no torch).

The API checks a LoRA before registering it, without loading the pipeline: the LoRA's target
modules, renamed the way diffusers converts each trainer's layout, are compared with the
transformer's linear layers read from the model folder's headers. The report has the shape of
`LoadedLora.summary()`; the worker's own load (engine/lora.py) checks again on the real model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from huajia.engine.lora import LoadedLora, is_adapter_key, lora_layout
from huajia.engine.weights import read_headers
from huajia.errors import ModelFileRejected

# Prefixes trainers put before the transformer's module names.
_PREFIXES = ("base_model.model.", "transformer.", "diffusion_model.")
_FACTOR = re.compile(r"\.(lora_A|lora_B|lora_down|lora_up|lora\.down|lora\.up|lokr_[a-z0-9_]+)\b")
# The original checkpoint's `attention.out` is diffusers' `attention.to_out.0`.
_OUT = re.compile(r"\.attention\.out$")


def model_modules(source: str) -> set[str]:
    """The transformer's linear layers (2-D weights) in a local diffusers folder or hub cache."""
    folder = _transformer_folder(source)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelFileRejected(
            f"no transformer weights in the model's {folder.name!r} folder: LoRAs are checked "
            "against the model's files, "
            "which must be on this machine"
        )
    modules = set()
    for file in files:
        headers, _ = read_headers(file)
        for key, header in headers.items():
            if key.endswith(".weight") and len(header.shape) == 2:
                modules.add(key.removesuffix(".weight"))
    return modules


def check_fit(name: str, path: Path, modules: set[str]) -> LoadedLora:
    """How much of the LoRA at `path` lands on the model's `modules`."""
    headers, _ = read_headers(path)
    layout = lora_layout(headers)
    if layout is None:
        raise ModelFileRejected(
            f"{path.name} holds no LoRA keys (lora_A/lora_B or lora_down/lora_up)"
        )
    targeted = target_modules(headers, modules)
    applied = targeted & modules
    return LoadedLora(
        name, path, layout, len(targeted), len(applied), tuple(sorted(targeted - applied))
    )


def target_modules(keys: Iterable[str], modules: set[str]) -> set[str]:
    """The model module names a LoRA's keys mean to change, after diffusers' renaming."""
    underscored = {module.replace(".", "_"): module for module in modules}
    targets = set()
    for key in keys:
        if not is_adapter_key(key):
            continue
        found = _FACTOR.search(key)
        if found is None:
            continue
        stem = key[: found.start()].replace("default.", "")
        targets.add(_module_name(stem, underscored))
    return targets


def _module_name(stem: str, underscored: dict[str, str]) -> str:
    if stem.startswith("lora_unet_"):
        flat = stem.removeprefix("lora_unet_")
        flat = re.sub(r"_attention_out$", "_attention_to_out_0", flat)
        # Kohya joins module names with "_"; the model's own names undo that exactly.
        return underscored.get(flat, flat)
    for prefix in _PREFIXES:
        stem = stem.removeprefix(prefix)
    return _OUT.sub(".attention.to_out.0", stem)


def _transformer_folder(source: str) -> Path:
    folder = Path(source)
    if folder.is_dir():
        return folder / "transformer"
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        cached = snapshot_download(source, allow_patterns=["transformer/*"], local_files_only=True)
    except (LocalEntryNotFoundError, HFValidationError, OSError) as error:
        raise ModelFileRejected(
            f"model {source!r} is not on this machine, so LoRAs cannot be checked against it "
            f"here ({error.__class__.__name__}); download it to the hub cache first"
        ) from error
    return Path(cached) / "transformer"
