"""Settings → engine options: the one place the engine's knobs are read."""

from __future__ import annotations

from pathlib import Path

from huajia.engine.accel import Accelerations
from huajia.engine.zimage import EngineOptions
from huajia.settings import Settings


def engine_options(settings: Settings, weights: Path | None = None) -> EngineOptions:
    return EngineOptions(
        device=settings.device,
        offload=settings.offload,
        cuda_alloc_conf=settings.cuda_alloc_conf,
        vae_tiling_min_pixels=settings.vae_tiling_min_pixels,
        weights=weights or settings.weights,
        weights_min_match=settings.weights_min_match,
        loras=dict(settings.loras),
        lora_allow_partial=settings.lora_allow_partial,
        accel=Accelerations(
            compile_blocks=settings.compile_blocks,
            attention_backend=settings.attention_backend,
            step_cache=settings.step_cache,
            step_cache_threshold=settings.step_cache_threshold,
            step_cache_warmup_steps=settings.step_cache_warmup_steps,
        ),
    )
