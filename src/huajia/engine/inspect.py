"""`huajia model info FILE|DIR`: what a model folder or a .safetensors file holds.

Everything here comes from file headers, configs and sizes on disk; no weights are loaded
and torch is not imported, so describing a 20 GB model takes milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huajia.engine.lora import has_fused_qkv, is_adapter_key, lora_layout
from huajia.engine.models import TINY_MARKER
from huajia.engine.weights import TensorHeader, read_headers, split_components
from huajia.errors import InvalidRequest, ModelFileRejected


def describe_path(path: Path) -> dict[str, Any]:
    """A JSON-friendly description of a diffusers folder or a .safetensors file."""
    if path.is_dir():
        return describe_folder(path)
    if path.is_file():
        return describe_file(path)
    raise InvalidRequest(f"{path} does not exist: give a model folder or a .safetensors file")


def describe_file(path: Path) -> dict[str, Any]:
    """Kind, layout, key counts by component, dtypes and size of one .safetensors file."""
    headers, metadata = read_headers(path)
    keys = split_components(headers)
    layout = lora_layout(headers)
    if layout is not None:
        kind, details = "lora", _lora_details(headers)
    elif keys.looks_like_z_image:
        kind, layout = "transformer weights", keys.layout
        details = {"prefix": keys.prefix, "fused_qkv": has_fused_qkv(keys.transformer)}
    else:
        kind, layout, details = "unknown", "unknown", {}
    return {
        "path": str(path),
        "kind": kind,
        "layout": layout,
        **details,
        "keys": len(headers),
        "keys_by_component": {
            "transformer": len(keys.transformer),
            **{name: len(found) for name, found in sorted(keys.others.items())},
        },
        "parameters": sum(header.numel for header in headers.values()),
        "dtypes": _dtypes(headers.values()),
        "size_bytes": path.stat().st_size,
        "metadata_keys": sorted(metadata),
    }


def describe_folder(path: Path) -> dict[str, Any]:
    """A diffusers pipeline folder, or one component folder (config.json + weights)."""
    index_file = path / "model_index.json"
    if index_file.is_file():
        index = _read_json(index_file)
        components = {
            name: _component(path / name, entry)
            for name, entry in sorted(index.items())
            if isinstance(entry, list) and len(entry) == 2 and entry[1] is not None
        }
        return {
            "path": str(path),
            "kind": "pipeline",
            "class": index.get("_class_name"),
            "diffusers_version": index.get("_diffusers_version"),
            "tiny": (path / TINY_MARKER).is_file(),
            "components": components,
            "parameters": sum(part.get("parameters", 0) for part in components.values()),
            "size_bytes": _size_on_disk(path),
        }
    if (path / "config.json").is_file():
        config = _read_json(path / "config.json")
        component = _component(path, [None, config.get("_class_name")])
        return {"path": str(path), "kind": "component", **component}
    raise InvalidRequest(
        f"{path} is not a diffusers folder: it has neither model_index.json nor config.json"
    )


def _component(folder: Path, entry: list[Any]) -> dict[str, Any]:
    """Library, class, and for weight-bearing parts the parameter count and dtypes."""
    library, class_name = entry
    described: dict[str, Any] = {"library": library, "class": class_name}
    if not folder.is_dir():
        return described | {"present": False}
    files = sorted(folder.glob("*.safetensors"))
    if files:
        headers: dict[str, TensorHeader] = {}
        for file in files:
            headers |= read_headers(file)[0]
        described["parameters"] = sum(header.numel for header in headers.values())
        described["dtypes"] = _dtypes(headers.values())
    elif any(folder.glob("*.bin")) or any(folder.glob("*.ckpt")):
        described["weights_format"] = "pickle (not read: convert to safetensors)"
    described["size_bytes"] = _size_on_disk(folder)
    return described


def _lora_details(headers: Mapping[str, TensorHeader]) -> dict[str, Any]:
    """Target module count, ranks and alpha presence of an adapter file."""
    adapter_keys = [key for key in headers if is_adapter_key(key)]
    downs = [
        key
        for key in adapter_keys
        if any(part in key for part in (".lora_A.", ".lora_down.", ".lora.down."))
    ]
    ranks = sorted({min(headers[key].shape) for key in downs if headers[key].shape})
    return {
        "modules": len(downs),
        "ranks": ranks,
        "has_alpha": any(key.endswith(".alpha") for key in headers),
        "fused_qkv": has_fused_qkv(adapter_keys),
    }


def _dtypes(headers: Any) -> list[str]:
    return sorted({header.dtype_name for header in headers})


def _size_on_disk(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileRejected(f"{path} is not readable JSON: {error}") from error
    if not isinstance(loaded, dict):
        raise ModelFileRejected(f"{path} does not hold a JSON object")
    return loaded
