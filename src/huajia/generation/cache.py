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


def model_identity(source: str) -> str:
    """A local folder by path and its transformer files' sizes and times; a hub id as is.

    Replacing the weights in a folder (or pointing at another folder of the same name)
    changes the identity, so the result cache never serves the old model's images.
    """
    folder = Path(source)
    if not folder.is_dir():
        return source
    parts = [str(folder.resolve())]
    for file in sorted((folder / "transformer").glob("*")):
        stat = file.stat()
        parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


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
