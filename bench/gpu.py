"""Z-Image-Turbo at full size with random weights: bare pipeline vs Huajia vs the compute floor.

    python bench/gpu.py [--runs 3]          # an NVIDIA GPU: 1024x1024, batch 1 and 4
    python bench/gpu.py --small --runs 1    # a reduced model on the CPU, under a minute

No download: the transformer (6B), text encoder (Qwen3-4B shape) and VAE (16 latent channels)
are built from their configurations with random weights, so every step costs the real FLOPs.
Per image, for each batch size:
  bare    the diffusers pipeline call alone, 8 steps, no guidance (Turbo's defaults);
  huajia  tasks in a SQLite store, claimed in GPU batches by the worker loop (the code
          `huajia worker` runs): steps reported, PNGs labelled, encoded and stored,
          tasks completed. Not the HTTP API (bench/service_overhead.py measures that);
  floor   FLOPs of one image (counted by torch over one pipeline call) / the card's peak.
Bare and Huajia alternate (A, B, A, B ...) so a busy machine moves both alike; medians printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from huajia.engine.models import ModelDefaults, ModelLimits, ModelSpec
from huajia.engine.tiny import _byte_level_tokenizer
from huajia.engine.types import GenerationRequest
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.jobs import TaskStore, open_store
from huajia.jobs.model import NewTask, TaskState
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest
from huajia.storage.local import LocalBlobStore
from huajia.worker.loop import Worker

PROMPT = "a lighthouse on a cliff at dusk, oil painting"
STEPS = 8
# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, by a name the card reports.
PEAKS = {"H200": 989e12, "H100 PCIe": 756e12, "H100": 989e12, "H20": 148e12, "A100": 312e12,
         "L40S": 362e12, "L40": 181e12, "L4": 121e12, "A10": 125e12, "RTX 6000 Ada": 364e12,
         "RTX 4090": 165e12, "B200": 2250e12}  # fmt: skip


def configs(small: bool) -> dict[str, dict[str, Any]]:
    """The real Z-Image-Turbo shapes, or a reduced set that runs on a CPU."""
    if small:
        return {
            "transformer": {"dim": 128, "n_layers": 2, "n_refiner_layers": 1, "n_heads": 1,
                            "n_kv_heads": 1, "cap_feat_dim": 128},
            "text": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
                     "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 128},
            "vae": {"block_out_channels": (16, 16, 32, 32), "layers_per_block": 1,
                    "norm_num_groups": 8},
        }  # fmt: skip
    return {
        "transformer": {},  # diffusers' defaults are Z-Image's: dim 3840, 30 layers, 30 heads
        "text": {"hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128},
        "vae": {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2,
                "norm_num_groups": 32},
    }  # fmt: skip


def build_pipeline(small: bool, device: str, dtype: torch.dtype) -> Any:
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        ZImagePipeline,
        ZImageTransformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3Model

    shapes = configs(small)
    tokenizer = _byte_level_tokenizer()  # type: ignore[no-untyped-call]
    torch.manual_seed(0)
    with torch.device(device):  # random init where it runs: seconds, not minutes
        transformer = ZImageTransformer2DModel(**shapes["transformer"])  # type: ignore[no-untyped-call]
        text = Qwen3Model(Qwen3Config(vocab_size=len(tokenizer), max_position_embeddings=4096,
                                      **shapes["text"]))  # fmt: skip
        vae = AutoencoderKL(  # type: ignore[no-untyped-call]
            latent_channels=16, down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.3611, shift_factor=0.1159,
            use_quant_conv=False, use_post_quant_conv=False, **shapes["vae"],
        )  # fmt: skip
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)  # type: ignore[no-untyped-call]
    pipe: Any = ZImagePipeline(  # type: ignore[no-untyped-call]
        scheduler=scheduler,
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def bare(pipe: Any, size: int, batch: int) -> float:
    generators = [torch.Generator("cpu").manual_seed(i) for i in range(batch)]
    pipe(prompt=[PROMPT] * batch, height=size, width=size, num_inference_steps=STEPS,
         guidance_scale=0.0, generator=generators)  # fmt: skip
    return time.perf_counter()


def flops_per_image(pipe: Any, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        bare(pipe, size, 1)
    return float(counter.get_total_flops())


def peak(device: str, dtype: torch.dtype) -> tuple[float, str]:
    """The card's dense peak from the table, else a large matmul's measured rate."""
    if device == "cuda":
        name = torch.cuda.get_device_name()
        for key, value in PEAKS.items():
            if key in name:
                return value, f"{name}, datasheet"
    n = 2048 if device == "cpu" else 8192
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(5):
        a @ b
    synchronize(device)
    return 5 * 2 * n**3 / (time.perf_counter() - t0), f"{device}, measured matmul"


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def queue(store: TaskStore, engine: ZImageEngine, size: int, count: int) -> list[str]:
    ids = []
    for i in range(count):
        resolved = engine.resolve(GenerationRequest(PROMPT, seed=i, width=size, height=size))
        task = TaskRequest(asked=GenerationCommand(prompt=PROMPT), model=engine.spec.name,
                           sampling=Sampling.of(resolved))  # fmt: skip
        ids.append(store.create(NewTask(owner="bench", request=task, batch_key="b",
                                        image_count=1)).id)  # fmt: skip
    return ids


def huajia(make_worker: Callable[[], Worker], store: TaskStore, size: int, images: int) -> float:
    """Seconds until every task of `images` single-image tasks is completed (a worker runs
    once: its run closes its finishing and upload threads)."""
    worker = make_worker()
    t0 = time.perf_counter()
    ids = queue(store, worker.engine, size, images)  # type: ignore[arg-type]
    stop = threading.Event()
    runner = threading.Thread(target=worker.run_forever, args=(stop,))
    runner.start()
    try:
        while not all(finished(store, task_id) for task_id in ids):
            time.sleep(0.01)
    finally:
        seconds = time.perf_counter() - t0
        stop.set()
        runner.join()
    return seconds


def finished(store: TaskStore, task_id: str) -> bool:
    """Completed; a task that ended otherwise stops the bench with its error."""
    task = store.get(task_id)
    if task.state in (TaskState.FAILED, TaskState.CANCELED):
        raise SystemExit(f"task {task_id} {task.state.value}: {task.error_message}")
    return task.state is TaskState.COMPLETED


def measure(pipe: Any, make_worker: Callable[[int], Worker], store: TaskStore, size: int,
            batch: int, runs: int, device: str) -> tuple[float, float]:  # fmt: skip
    """Median seconds per image, bare and through Huajia (two batches a round: overlap)."""
    bare_times, huajia_times = [], []
    for _ in range(runs + 1):  # the first round warms both up
        t0 = time.perf_counter()
        bare(pipe, size, batch)
        bare(pipe, size, batch)
        synchronize(device)
        bare_times.append((time.perf_counter() - t0) / (2 * batch))
        seconds = huajia(lambda: make_worker(batch), store, size, 2 * batch)
        huajia_times.append(seconds / (2 * batch))
    return statistics.median(bare_times[1:]), statistics.median(huajia_times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced model, 128 px, CPU")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", default="1,4")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.small else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    size = 128 if args.small else 1024
    started = time.perf_counter()
    pipe = build_pipeline(args.small, device, dtype)
    spec = ModelSpec(name="z-image-turbo-random", source="random", family="z-image-turbo",
                     defaults=ModelDefaults(steps=STEPS, guidance=0.0, width=size, height=size),
                     limits=ModelLimits(min_size=64))  # fmt: skip
    engine = ZImageEngine(spec, pipe, device, "none", EngineOptions())
    flops = flops_per_image(pipe, size)
    rate, source = peak(device, dtype)
    print(
        f"{'small' if args.small else 'full-size'} Z-Image-Turbo, random weights, {size}x{size},"
        f" {STEPS} steps, {dtype}; built in {time.perf_counter() - started:.1f} s"
    )
    print(f"{flops / 1e12:.4f} TFLOP per image; peak {rate / 1e12:.3f} TFLOP/s ({source})")
    print(
        f"{'batch':>5} {'bare s/img':>11} {'huajia s/img':>13} {'floor s/img':>12} "
        f"{'huajia/bare':>12} {'bare/floor':>11}"
    )
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/bench.db")
        blobs = LocalBlobStore(Path(folder) / "images")

        def make_worker(batch: int) -> Worker:
            return Worker(store, engine, blobs, "bench", 60.0, batch_max_images=batch,
                          poll_seconds=0.005)  # fmt: skip

        for batch in (int(b) for b in args.batches.split(",")):
            plain, served = measure(pipe, make_worker, store, size, batch, args.runs, device)
            floor = flops / rate
            print(
                f"{batch:>5} {plain:>11.3f} {served:>13.3f} {floor:>12.3f} "
                f"{served / plain:>12.3f} {plain / floor:>11.2f}"
            )
        store.close()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
