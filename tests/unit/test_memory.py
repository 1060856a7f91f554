"""GPU memory policy decisions (pure functions; no GPU needed)."""

from __future__ import annotations

import pytest

from huajia.engine import memory

GIB = 1024**3


def test_alloc_conf_is_set_before_cuda_and_operator_value_wins() -> None:
    env: dict[str, str] = {}
    memory.configure_allocator("max_split_size_mb:128", env)
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:128"
    env = {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    memory.configure_allocator("max_split_size_mb:128", env)
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"


@pytest.mark.parametrize(
    ("free", "expected"),
    [(80 * GIB, "none"), (16 * GIB, "model"), (6 * GIB, "sequential"), (None, "model")],
)
def test_auto_offload_follows_free_vram(free: int | None, expected: str) -> None:
    # Z-Image-Turbo in bf16: transformer 12 GB, text encoder 8 GB, VAE 0.2 GB.
    components = [12 * GIB, 8 * GIB, GIB // 5]
    assert memory.choose_offload("auto", "cuda", components, free) == expected


def test_explicit_offload_is_kept_and_cpu_never_offloads() -> None:
    assert memory.choose_offload("sequential", "cuda", [GIB], 80 * GIB) == "sequential"
    assert memory.choose_offload("model", "cpu", [GIB], None) == "none"


def test_dtype_is_bf16_on_gpu_never_fp16() -> None:
    import torch

    assert memory.pick_dtype("cuda", "auto") is torch.bfloat16
    assert memory.pick_dtype("cpu", "auto") is torch.float32
