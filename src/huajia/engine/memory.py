"""GPU memory policy: allocator settings before CUDA starts, device, offload, VRAM readings."""

from __future__ import annotations

import gc
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

ALLOC_CONF_VAR = "PYTORCH_CUDA_ALLOC_CONF"
# Room beyond the weights for activations, the VAE decode and the CUDA context at 1024 px.
HEADROOM_BYTES = 2 * 1024**3


def configure_allocator(alloc_conf: str, environ: MutableMapping[str, str] | None = None) -> None:
    """Set PYTORCH_CUDA_ALLOC_CONF; it only counts before CUDA initialises, so call it first.

    An operator's own value in the environment wins over the configured one.
    """
    env = os.environ if environ is None else environ
    if alloc_conf and ALLOC_CONF_VAR not in env:
        env[ALLOC_CONF_VAR] = alloc_conf


def pick_device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, requested: str) -> Any:
    """bf16 on accelerators (fp16 gives Z-Image black images), float32 on the CPU."""
    import torch

    if requested == "float32":
        return torch.float32
    if requested == "bfloat16":
        return torch.bfloat16
    return torch.float32 if device == "cpu" else torch.bfloat16


def choose_offload(
    requested: str, device: str, component_bytes: list[int], free_bytes: int | None
) -> str:
    """Resolve 'auto': keep everything on the GPU when it fits, else offload by model or layer."""
    if device != "cuda":
        return "none"
    if requested != "auto":
        return requested
    if free_bytes is None:
        return "model"
    if sum(component_bytes) + HEADROOM_BYTES <= free_bytes:
        return "none"
    # Model offload keeps one component at a time on the GPU: the largest must fit.
    if max(component_bytes, default=0) + HEADROOM_BYTES <= free_bytes:
        return "model"
    return "sequential"


@dataclass(frozen=True)
class VramReading:
    used_bytes: int
    total_bytes: int
    source: str


def read_vram(device: str) -> VramReading | None:
    """Device memory in use and in total: NVML where present, else torch's view of it."""
    if device != "cuda":
        return None
    reading = _nvml_reading()
    if reading is not None:
        return reading
    import torch

    free, total = torch.cuda.mem_get_info()
    return VramReading(total - free, total, "torch")


def _nvml_reading() -> VramReading | None:
    try:
        import pynvml
        import torch

        pynvml.nvmlInit()
        # NVML numbers physical GPUs; torch numbers visible ones: match them by UUID.
        uuid = str(torch.cuda.get_device_properties(torch.cuda.current_device()).uuid)
        handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        info = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return VramReading(int(info.used), int(info.total), "nvml")
    except Exception:  # NVML is optional: absent library, driver or device
        return None


def free_device_memory() -> None:
    """Drop cached blocks after an out-of-memory error so a smaller retry can fit."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
