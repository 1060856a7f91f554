"""Fine-tuned transformer weights from .safetensors, applied over the base model's transformer.

Files in the wild use diffusers key names (bare or under `transformer.`) or the original
checkpoint layout (fused `attention.qkv`, `x_embedder`, `final_layer`, often under
`model.diffusion_model.`), sometimes bundled with text-encoder and VAE keys. The file is matched
against the model by key name and shape before anything is written, so a refused file leaves
the base weights exactly as they were. Only safetensors is read: a pickle can run code.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huajia.errors import ModelFileRejected, ModelLoadError

log = logging.getLogger(__name__)

# Order matters: the longest prefix that names the transformer wins.
TRANSFORMER_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")
OTHER_PREFIXES = {
    "text_encoder": ("text_encoder.", "text_encoders.", "cond_stage_model.", "conditioner."),
    "vae": ("vae.", "first_stage_model.", "autoencoder."),
}
ORIGINAL_SUFFIXES = (
    ".attention.qkv.weight",
    ".attention.out.weight",
    ".attention.q_norm.weight",
    ".attention.k_norm.weight",
)
ORIGINAL_STARTS = ("x_embedder.", "final_layer.", "norm_final.")
DIFFUSERS_MARKERS = ("all_x_embedder.", "all_final_layer.", ".attention.to_q.", "cap_embedder.")
EXAMPLES = 5
# safetensors dtype codes as torch names them, which is what users see elsewhere.
DTYPE_NAMES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


@dataclass(frozen=True)
class TensorHeader:
    """One tensor as the file's header describes it; no data read."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def dtype_name(self) -> str:
        return DTYPE_NAMES.get(self.dtype, self.dtype.lower())

    @property
    def numel(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count


@dataclass(frozen=True)
class TransformerKeys:
    """A file's keys sorted by component, with the transformer's prefix taken off."""

    transformer: dict[str, str]  # key without prefix -> key in the file
    others: dict[str, list[str]]  # component -> keys in the file
    prefix: str | None

    @property
    def layout(self) -> str:
        if any(_is_original_key(key) for key in self.transformer):
            return "original"
        return "diffusers+prefix" if self.prefix else "diffusers"

    @property
    def looks_like_z_image(self) -> bool:
        return any(
            _is_original_key(key) or any(marker in key for marker in DIFFUSERS_MARKERS)
            for key in self.transformer
        )


@dataclass(frozen=True)
class WeightsReport:
    """How a weights file matched the model; what `model info` and health checks show."""

    name: str
    path: str
    layout: str
    prefix: str | None
    model_keys: int
    matched: int
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    shape_mismatched: tuple[str, ...] = ()
    ignored: Mapping[str, int] = field(default_factory=dict)
    source_dtypes: tuple[str, ...] = ()
    dtype: str = ""

    @property
    def match_fraction(self) -> float:
        return self.matched / self.model_keys if self.model_keys else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-friendly counts with a few examples of each kind of key that did not fit."""
        return {
            "name": self.name,
            "path": self.path,
            "layout": self.layout,
            "prefix": self.prefix,
            "model_keys": self.model_keys,
            "matched": self.matched,
            "match_fraction": round(self.match_fraction, 4),
            "missing": _counted(self.missing),
            "unexpected": _counted(self.unexpected),
            "shape_mismatched": _counted(self.shape_mismatched),
            "ignored": dict(self.ignored),
            "source_dtypes": list(self.source_dtypes),
            "dtype": self.dtype,
        }


def read_headers(path: Path) -> tuple[dict[str, TensorHeader], dict[str, str]]:
    """Tensor names, shapes and dtypes plus the file's metadata, from the header alone."""
    from safetensors import SafetensorError, safe_open

    # The file's name, never its folder: these messages reach HTTP clients (reload, LoRA
    # registration, a failed reload in health), who must not learn the server's paths.
    if not path.is_file():
        raise ModelFileRejected(f"{path.name} is not a file")
    try:
        # numpy framework: reading a header must not import torch.
        with safe_open(str(path), framework="np") as handle:
            headers = {
                key: TensorHeader(
                    tuple(handle.get_slice(key).get_shape()), handle.get_slice(key).get_dtype()
                )
                for key in handle.keys()  # noqa: SIM118 - safe_open is not a mapping
            }
            metadata = dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)  # OSError: a path
        raise ModelFileRejected(
            f"{path.name} is not a readable .safetensors file ({reason}); Huajia reads only "
            "safetensors, never pickle checkpoints (.ckpt/.pt/.bin), which can run code: "
            "convert the file to safetensors first"
        ) from error
    return headers, metadata


def split_components(keys: Iterable[str]) -> TransformerKeys:
    """Sort keys into transformer / text_encoder / vae by their prefix."""
    transformer: dict[str, str] = {}
    others: dict[str, list[str]] = {}
    prefixes: Counter[str] = Counter()
    for key in keys:
        component = _other_component(key)
        if component is not None:
            others.setdefault(component, []).append(key)
            continue
        prefix = next((p for p in TRANSFORMER_PREFIXES if key.startswith(p)), "")
        prefixes[prefix] += 1
        transformer[key.removeprefix(prefix)] = key
    common = prefixes.most_common(1)
    return TransformerKeys(transformer, others, common[0][0] or None if common else None)


def apply_weights(pipe: Any, path: Path, min_match: float) -> WeightsReport:
    """Copy a file's transformer weights into `pipe.transformer`, or refuse it untouched."""
    headers, _ = read_headers(path)
    keys = split_components(headers)
    _refuse_lora(path, headers)
    model = _model_tensors(pipe.transformer)
    shapes = _converted_shapes(keys, headers)
    report = _match(path, keys, headers, shapes, model)
    if report.match_fraction < min_match or report.matched == 0:
        raise ModelFileRejected(_refusal(report, min_match))
    _copy_into(model, _load_matched(path, keys, keys.layout, model))
    log.info(
        "weights %s applied: %d of %d keys (%s layout)",
        report.name, report.matched, report.model_keys, report.layout,
    )  # fmt: skip
    return report


def _match(
    path: Path,
    keys: TransformerKeys,
    headers: Mapping[str, TensorHeader],
    shapes: Mapping[str, tuple[int, ...]],
    model: Mapping[str, Any],
) -> WeightsReport:
    """Compare converted names and shapes with the model's; nothing is read or written."""
    matched = [
        name for name in shapes if name in model and tuple(model[name].shape) == shapes[name]
    ]
    mismatched = [
        f"{name}: file {list(shapes[name])} vs model {list(model[name].shape)}"
        for name in shapes
        if name in model and tuple(model[name].shape) != shapes[name]
    ]
    dtypes = {str(tensor.dtype).removeprefix("torch.") for tensor in model.values()}
    return WeightsReport(
        name=path.name,
        path=str(path),
        layout=keys.layout,
        prefix=keys.prefix,
        model_keys=len(model),
        matched=len(matched),
        missing=tuple(sorted(set(model) - set(shapes))),
        unexpected=tuple(sorted(name for name in shapes if name not in model)),
        shape_mismatched=tuple(sorted(mismatched)),
        ignored={name: len(found) for name, found in sorted(keys.others.items())},
        source_dtypes=tuple(sorted({headers[key].dtype_name for key in keys.transformer.values()})),
        dtype=",".join(sorted(dtypes)),
    )


def _converted_shapes(
    keys: TransformerKeys, headers: Mapping[str, TensorHeader]
) -> dict[str, tuple[int, ...]]:
    """Run the layout conversion on shape-only (meta) tensors: names and shapes, no data."""
    import torch

    meta = {
        key: torch.empty(headers[original].shape, device="meta")
        for key, original in keys.transformer.items()
    }
    converted = _to_diffusers(meta, keys.layout)
    return {name: tuple(tensor.shape) for name, tensor in converted.items()}


def _to_diffusers(tensors: dict[str, Any], layout: str) -> dict[str, Any]:
    """Diffusers' own conversion for the original layout; diffusers names pass through."""
    if layout != "original":
        return tensors
    from diffusers.loaders.single_file_utils import (
        convert_z_image_transformer_checkpoint_to_diffusers,
    )

    converted: dict[str, Any] = convert_z_image_transformer_checkpoint_to_diffusers(tensors)  # type: ignore[no-untyped-call]
    return converted


def _load_matched(
    path: Path, keys: TransformerKeys, layout: str, model: Mapping[str, Any]
) -> dict[str, Any]:
    """Read the transformer's tensors (never the text encoder's or VAE's) and keep the fits."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(original) for key, original in keys.transformer.items()}
    converted = _to_diffusers(tensors, layout)
    return {
        name: tensor.to(dtype=model[name].dtype)
        for name, tensor in converted.items()
        if name in model and tuple(model[name].shape) == tuple(tensor.shape)
    }


def _copy_into(model: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
    """In-place copies keep the parameter objects that LoRA layers and hooks refer to."""
    import torch

    if any(model[name].device.type == "meta" for name in tensors):
        raise ModelLoadError(
            "the transformer is offloaded to the meta device; apply weights before offloading"
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            model[name].copy_(tensor)


def _model_tensors(transformer: Any) -> dict[str, Any]:
    """The transformer's own weights by diffusers name, seen through any LoRA wrappers."""
    tensors = {}
    for name, tensor in transformer.state_dict(keep_vars=True).items():
        if ".lora_" in name or ".lokr_" in name:
            continue
        tensors[name.replace(".base_layer.", ".")] = tensor
    return tensors


def _refuse_lora(path: Path, headers: Mapping[str, TensorHeader]) -> None:
    lora_markers = (".lora_A.", ".lora_B.", ".lora_down.", ".lora_up.", ".lora.down.", "lora_unet_")
    if any(marker in key for key in headers for marker in lora_markers):
        raise ModelFileRejected(
            f"{path.name} is a LoRA adapter, not full transformer weights: "
            "load it as a LoRA (settings `loras`, or --lora) instead"
        )


def _refusal(report: WeightsReport, min_match: float) -> str:
    parts = [
        f"weights file {report.name} matches {report.matched} of the model's "
        f"{report.model_keys} transformer keys ({report.match_fraction:.0%}); "
        f"at least {min_match:.0%} must match (weights_min_match)",
        f"layout looks like {report.layout}",
    ]
    if report.unexpected:
        parts.append(f"{len(report.unexpected)} keys unknown to the model, e.g. "
                     + ", ".join(report.unexpected[:3]))  # fmt: skip
    if report.shape_mismatched:
        parts.append(f"{len(report.shape_mismatched)} keys of the wrong shape, e.g. "
                     + "; ".join(report.shape_mismatched[:3]))  # fmt: skip
    parts.append(
        "is it a Z-Image transformer of this model's size? The model is unchanged; "
        "lower weights_min_match only to accept a deliberately partial file"
    )
    return ". ".join(parts)


def _counted(names: tuple[str, ...]) -> dict[str, Any]:
    return {"count": len(names), "examples": list(names[:EXAMPLES])}


def _is_original_key(key: str) -> bool:
    return key.endswith(ORIGINAL_SUFFIXES) or key.startswith(ORIGINAL_STARTS)


def _other_component(key: str) -> str | None:
    for component, prefixes in OTHER_PREFIXES.items():
        if key.startswith(prefixes):
            return component
    return None
