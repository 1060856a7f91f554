"""LoRA adapters by name, switched per request without reloading the base model.

(Interim version: a helper is replacing this with format detection and partial-load checks.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huajia.engine.types import LoraRef
from huajia.errors import InvalidRequest


class LoraLibrary:
    def __init__(self, pipe: Any, allow_partial: bool = False) -> None:
        self._pipe = pipe
        self._allow_partial = allow_partial
        self._loaded: dict[str, Path] = {}

    def load(self, name: str, path: Path) -> None:
        self._pipe.load_lora_weights(str(path), adapter_name=name)
        self._loaded[name] = path

    def names(self) -> list[str]:
        return sorted(self._loaded)

    def check(self, refs: tuple[LoraRef, ...]) -> None:
        for ref in refs:
            if ref.name not in self._loaded:
                raise InvalidRequest(f"unknown LoRA {ref.name!r}; loaded: {self.names()}")

    def activate(self, refs: tuple[LoraRef, ...]) -> None:
        if not self._loaded:
            return
        if not refs:
            self._pipe.disable_lora()
            return
        self._pipe.enable_lora()
        self._pipe.set_adapters([r.name for r in refs], [r.weight for r in refs])
