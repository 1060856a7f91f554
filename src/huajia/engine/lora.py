"""LoRA adapters by name, switched per request without reloading the base model.

Diffusers converts the common Z-Image LoRA formats (diffusers/peft, kohya `lora_unet_...`,
ai-toolkit `diffusion_model....`) but only *logs* when part of an adapter has nowhere to go,
e.g. a fused `attention.qkv` LoRA saved against the original checkpoint's module names. Such an
adapter would silently change less than its author trained, so each load compares the modules
the converted file targets with the modules that actually received the adapter, and refuses a
partial fit (leaving no adapter behind) unless `allow_partial` is set.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huajia.engine.types import LoraRef
from huajia.engine.weights import read_headers
from huajia.errors import InvalidRequest, ModelFileRejected

log = logging.getLogger(__name__)

ADAPTER_MARKERS = (".lora_A.", ".lora_B.", ".lora_down.", ".lora_up.", ".lora.down.", ".lokr_")
PEFT_PREFIX = "base_model.model."
EXAMPLES = 5


@dataclass(frozen=True)
class LoadedLora:
    """One adapter in the library: where it came from and how much of it applied."""

    name: str
    path: Path
    layout: str
    targeted: int
    applied: int
    not_applied: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "layout": self.layout,
            "modules_targeted": self.targeted,
            "modules_applied": self.applied,
            "not_applied": list(self.not_applied[:EXAMPLES]),
        }


def is_adapter_key(key: str) -> bool:
    return key.startswith("lora_unet_") or any(marker in key for marker in ADAPTER_MARKERS)


def lora_layout(keys: Iterable[str]) -> str | None:
    """The trainer family a LoRA's key names come from, or None when it is not a LoRA."""
    names = list(keys)
    if not any(is_adapter_key(key) for key in names):
        return None
    if any(key.startswith("lora_unet_") for key in names):
        return "kohya"
    if any(key.startswith("diffusion_model.") for key in names):
        return "ai-toolkit"
    if any(".lora_down." in key or ".lora.down." in key for key in names):
        return "kohya"
    if any(key.startswith("transformer.") for key in names):
        return "diffusers"
    return "peft"


def has_fused_qkv(keys: Iterable[str]) -> bool:
    return any(".qkv." in key or "_qkv." in key for key in keys)


class LoraLibrary:
    """The adapters loaded into one pipeline's transformer, activated per request."""

    def __init__(self, pipe: Any, allow_partial: bool = False) -> None:
        self._pipe = pipe
        self._allow_partial = allow_partial
        self._loaded: dict[str, LoadedLora] = {}
        self._identities: dict[str, str] = {}

    def load(self, name: str, path: Path) -> LoadedLora:
        """Load `path` under `name`; a refused file leaves no adapter behind."""
        if name in self._loaded:
            raise InvalidRequest(f"a LoRA named {name!r} is already loaded; unload it first")
        headers, _ = read_headers(path)
        layout = lora_layout(headers)
        if layout is None:
            raise ModelFileRejected(
                f"{path.name} holds no LoRA keys (lora_A/lora_B or lora_down/lora_up); "
                "if it is a fine-tuned transformer, configure it as `weights` instead"
            )
        state_dict, metadata = self._converted(path)
        targeted = _target_modules(state_dict)
        self._inject(name, path, state_dict, metadata)
        applied = self._modules_with(name)
        loaded = LoadedLora(
            name, path, layout, len(targeted), len(applied), tuple(sorted(targeted - applied))
        )
        self._refuse_partial(loaded)
        self._loaded[name] = loaded
        log.info("LoRA %s loaded from %s (%s, %d modules)", name, path, layout, len(applied))
        return loaded

    def ensure(self, name: str, path: Path, identity: str) -> LoadedLora:
        """A registered LoRA: loaded once, reloaded when its identity (content hash) changed."""
        known = self._identities.get(name)
        if name in self._loaded and (
            known == identity or (known is None and self._loaded[name].path == path)
        ):
            # Loaded from the settings at start (no identity yet): the same file, adopted.
            self._identities[name] = identity
            return self._loaded[name]
        if name in self._loaded:
            self.unload(name)
        loaded = self.load(name, path)
        self._identities[name] = identity
        return loaded

    def unload(self, name: str) -> None:
        """Remove an adapter from the transformer; the base weights are not touched."""
        self._check_known(name)
        self._remove(name)
        del self._loaded[name]
        self._identities.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._loaded)

    def describe(self) -> list[dict[str, Any]]:
        return [self._loaded[name].summary() for name in self.names()]

    def check(self, refs: tuple[LoraRef, ...]) -> None:
        """Refuse unknown or repeated names before a request is queued or run."""
        seen: set[str] = set()
        for ref in refs:
            self._check_known(ref.name)
            if ref.name in seen:
                raise InvalidRequest(f"LoRA {ref.name!r} is named twice; give it once")
            seen.add(ref.name)

    def activate(self, refs: tuple[LoraRef, ...]) -> None:
        """Set this request's adapters and weights; no refs gives the base model exactly."""
        self.check(refs)
        if not self._loaded:
            return
        if not refs:
            # Disabled adapters are bypassed entirely, so the output is the base model's.
            self._pipe.disable_lora()
            return
        self._pipe.enable_lora()
        self._pipe.set_adapters([ref.name for ref in refs], [ref.weight for ref in refs])

    def _check_known(self, name: str) -> None:
        if name not in self._loaded:
            known = ", ".join(self.names()) or "none"
            raise InvalidRequest(f"unknown LoRA {name!r}; loaded: {known}")

    def _converted(self, path: Path) -> tuple[dict[str, Any], Any]:
        """Diffusers' conversion to `transformer.<module>.lora_A/B` keys."""
        try:
            state_dict, metadata = self._pipe.lora_state_dict(str(path), return_lora_metadata=True)
        except (ValueError, KeyError, RuntimeError) as error:
            raise ModelFileRejected(
                f"LoRA {path.name} is in a layout diffusers cannot convert for Z-Image: {error}"
            ) from error
        return _with_transformer_prefix(state_dict), metadata

    def _inject(self, name: str, path: Path, state_dict: dict[str, Any], metadata: Any) -> None:
        try:
            with warnings.catch_warnings():
                # Several named adapters in one model is exactly what the library is for.
                warnings.filterwarnings("ignore", "Already found a `peft_config`", UserWarning)
                self._pipe.load_lora_into_transformer(
                    state_dict,
                    transformer=self._pipe.transformer,
                    adapter_name=name,
                    metadata=metadata,
                    _pipeline=self._pipe,
                )
        except (ValueError, RuntimeError) as error:
            self._remove(name)
            raise ModelFileRejected(
                f"LoRA {path.name} does not fit this model's transformer: {error}"
            ) from error

    def _refuse_partial(self, loaded: LoadedLora) -> None:
        if loaded.applied == 0:
            self._remove(loaded.name)
            raise ModelFileRejected(
                f"LoRA {loaded.path.name} applies to none of this model's layers: "
                "is it a LoRA for Z-Image?"
            )
        if not loaded.not_applied or self._allow_partial:
            if loaded.not_applied:
                log.warning("LoRA %s loaded partially: %s", loaded.name, loaded.summary())
            return
        self._remove(loaded.name)
        missing = ", ".join(loaded.not_applied[:3])
        raise ModelFileRejected(
            f"LoRA {loaded.path.name} applies to only {loaded.applied} of the "
            f"{loaded.targeted} layers it was trained for; these do not exist in the model: "
            f"{missing}. Fused attention.qkv adapters saved against the original checkpoint "
            "(ComfyUI style) have no diffusers conversion: convert the LoRA to diffusers "
            "names, or set lora_allow_partial to use only the parts that apply"
        )

    def _modules_with(self, name: str) -> set[str]:
        from peft.tuners.tuners_utils import BaseTunerLayer

        return {
            module_name
            for module_name, module in self._pipe.transformer.named_modules()
            if isinstance(module, BaseTunerLayer)
            and any(name in getattr(module, attr, {}) for attr in module.adapter_layer_names)
        }

    def _remove(self, name: str) -> None:
        """Drop every trace of an adapter, also after a half-finished injection."""
        transformer = self._pipe.transformer
        if name in getattr(transformer, "peft_config", {}):
            transformer.delete_adapters(name)
        from peft.tuners.tuners_utils import BaseTunerLayer

        for module in transformer.modules():
            if isinstance(module, BaseTunerLayer):
                module.delete_adapter(name)


def _with_transformer_prefix(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Raw peft files name modules without the `transformer.` prefix diffusers filters on."""
    if any(key.startswith("transformer.") for key in state_dict):
        return state_dict
    return {
        f"transformer.{key.removeprefix(PEFT_PREFIX)}": value for key, value in state_dict.items()
    }


def _target_modules(state_dict: dict[str, Any]) -> set[str]:
    """Module paths inside the transformer that the converted adapter means to change."""
    targets = set()
    for key in state_dict:
        stem = key.removeprefix("transformer.")
        for marker in (".lora_A", ".lora_B", ".lokr_", ".lora_magnitude_vector"):
            if marker in stem:
                targets.add(stem.split(marker)[0])
                break
    return targets
