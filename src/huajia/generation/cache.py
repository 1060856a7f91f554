"""The result cache key: every input that changes the pixels, and nothing else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def weights_identity(path: Path | None) -> str | None:
    """Name, size and modification time: a retrained file under the same name is a new key."""
    if path is None:
        return None
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def cache_key(resolved: dict[str, Any], model: str, weights: str | None, preset: str | None,
              output_format: str) -> str:  # fmt: skip
    """Same model, weights, LoRAs, preset, parameters, seeds and count -> same key."""
    material = {
        "model": model,
        "weights": weights,
        "preset": preset,
        "format": output_format,
        "request": resolved,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
