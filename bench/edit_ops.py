"""What each editing operation costs against text-to-image of the same size, in one process.

    python bench/edit_ops.py --model huajia-data/models/tiny [--size 256] [--steps 8] [--rounds 5]

Runs text-to-image (A) and each operation (B) interleaved, A B A B ..., on one loaded engine,
so a busy machine slows both alike; prints median seconds and the ratio B / A. Never fails.
On the tiny model the VAE and the text encoder are a larger share than on the real one,
so ratios there overstate the cost of the extra VAE encode an edit needs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a ceramic teapot on a wooden table, studio light"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="A diffusers model folder.")
    parser.add_argument("--size", type=int, default=256, help="Square size of text-to-image.")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from huajia.engine.edit_plan import upscaled_size
    from huajia.engine.edit_types import ImageToImageJob, InpaintJob, OutpaintJob, UpscaleJob
    from huajia.engine.models import spec_for_folder
    from huajia.engine.types import GenerationRequest
    from huajia.engine.zimage import EngineOptions, ZImageEngine

    engine = ZImageEngine.load(spec_for_folder(args.model), EngineOptions(local_files_only=True))
    size, half = args.size, args.size // 2

    def request(width: int, height: int):  # type: ignore[no-untyped-def]
        return engine.resolve(
            GenerationRequest(PROMPT, steps=args.steps, width=width, height=height, seed=1)
        )

    full = request(size, size)
    source = engine.generate(full).images[0].image
    small = source.resize((half, half))
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    up = upscaled_size((half, half), engine.spec.limits.size_multiple)
    operations: dict[str, Callable[[], object]] = {
        "image-to-image 0.6": lambda: engine.editor.edit(ImageToImageJob(full, source, 0.6)),
        "inpaint": lambda: engine.editor.edit(InpaintJob(full, source, mask)),
        "outpaint (half -> full)": lambda: engine.editor.edit(
            OutpaintJob(full, small, half // 2, half // 2)
        ),
        f"upscale x2 ({half} -> {up[0]})": lambda: engine.editor.edit(
            UpscaleJob(request(*up), small, 0.3)
        ),
    }
    baseline = lambda: engine.generate(full)  # noqa: E731
    print(f"model {engine.spec.name} on {engine.device}, {size}x{size}, {args.steps} steps, "
          f"{args.rounds} rounds, interleaved with text-to-image")  # fmt: skip
    print(f"{'operation':<28}{'seconds':>10}{'text-to-image':>16}{'ratio':>8}")
    for name, run in operations.items():
        run()  # warm-up: builds the edit pipeline once
        a_times, b_times = [], []
        for _ in range(args.rounds):
            a_times.append(_timed(baseline))
            b_times.append(_timed(run))
        a, b = statistics.median(a_times), statistics.median(b_times)
        print(f"{name:<28}{b:>10.3f}{a:>16.3f}{b / a:>7.2f}x")


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
