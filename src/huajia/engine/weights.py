"""Fine-tuned transformer weights from .safetensors, applied over the base model.

(Interim version: a helper is replacing this with layout detection and conversion.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WeightsReport:
    name: str

    def summary(self) -> dict[str, Any]:
        return {"name": self.name}


def apply_weights(pipe: Any, path: Path, min_match: float) -> WeightsReport:
    raise NotImplementedError("custom weights are being built")
