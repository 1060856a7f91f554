"""Optional accelerations of the transformer, each off by default and each a setting.

- `compile_blocks`: `torch.compile` of the repeated transformer blocks (regional compilation:
  one block's code compiled once, reused by all thirty); the first images are slow while it
  compiles.
- `attention_backend`: diffusers' attention dispatcher (`native`, `flash`, `sage`, ...); the
  backend's kernels must be installed.
- `step_cache`: cache-dit's DBCache reuses the transformer's residual on steps where the
  first blocks' output barely changed (install `huajia[accel]`); fewer FLOPs, slightly
  different pixels, controlled by `step_cache_threshold`.

Each is guarded by a test that the tiny model's image stays within a tolerance of the plain
pipeline's (tests/engine/test_accel.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from huajia.errors import ModelLoadError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accelerations:
    """Which accelerations to apply when the pipeline loads."""

    compile_blocks: bool = False
    attention_backend: str | None = None
    step_cache: bool = False
    step_cache_threshold: float = 0.08
    step_cache_warmup_steps: int = 3

    def names(self) -> list[str]:
        """What is on, for logs and `describe()`."""
        on = ["compile_blocks"] if self.compile_blocks else []
        if self.attention_backend:
            on.append(f"attention:{self.attention_backend}")
        if self.step_cache:
            on.append(f"step_cache:{self.step_cache_threshold:g}")
        return on


def accelerate(pipe: Any, accel: Accelerations) -> None:
    """Apply the accelerations asked for; a backend that cannot run is a ModelLoadError."""
    if accel.attention_backend:
        _attention(pipe.transformer, accel.attention_backend)
    if accel.step_cache:
        _step_cache(pipe, accel)
    if accel.compile_blocks:
        pipe.transformer.compile_repeated_blocks(fullgraph=False, dynamic=False)
    if accel.names():
        log.info("accelerations: %s", ", ".join(accel.names()))


def attention_backends() -> list[str]:
    """The backend names the installed diffusers knows (not all have their kernels here)."""
    from diffusers.models.attention_dispatch import AttentionBackendName

    return [backend.value for backend in AttentionBackendName]


def _attention(transformer: Any, backend: str) -> None:
    if backend not in attention_backends():
        raise ModelLoadError(
            f"unknown attention backend {backend!r}; this diffusers knows: "
            + ", ".join(attention_backends())
        )
    try:
        transformer.set_attention_backend(backend)
    except (ImportError, RuntimeError, ValueError) as error:
        raise ModelLoadError(f"attention backend {backend!r} cannot run here: {error}") from None


def _step_cache(pipe: Any, accel: Accelerations) -> None:
    try:
        import cache_dit
    except ImportError:
        raise ModelLoadError("step_cache needs cache-dit: pip install 'huajia[accel]'") from None
    layers = len(pipe.transformer.layers)
    config = cache_dit.DBCacheConfig(
        Fn_compute_blocks=min(8, max(1, layers // 2)),  # always computed: the change signal
        Bn_compute_blocks=0,
        residual_diff_threshold=accel.step_cache_threshold,
        max_warmup_steps=accel.step_cache_warmup_steps,
    )
    cache_dit.enable_cache(pipe, cache_config=config)
