"""What live previews cost: generation time with previews off (A) and on (B), in one process.

    python bench/previews.py --model huajia-data/models/tiny [--size 512] [--steps 8]
                             [--every 2] [--images 1] [--rounds 5]

Runs A and B interleaved, A B A B ..., on one loaded engine, so a busy machine slows both
alike. B makes a preview every `--every` steps and encodes it to WebP on the GPU's thread
(the worker encodes on its reporter thread instead: B is the worst case). Prints median
seconds (and process CPU time), the ratio B / A, and the previews' own work (projection +
encoding, timed inside B) as a share of A: the figure to keep under 5 %. The one-time fit of
the latent-to-RGB map (once per worker, when it loads the model) is printed apart. Never fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a ceramic teapot on a wooden table, studio light"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="A diffusers model folder.")
    parser.add_argument("--size", type=int, default=512, help="Square image size.")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--every", type=int, default=2, help="Steps between previews.")
    parser.add_argument("--images", type=int, default=1, help="Images per task.")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from huajia.engine.models import spec_for_folder
    from huajia.engine.types import BatchItem, GenerationRequest, PreviewFeed, PreviewFrame
    from huajia.engine.zimage import EngineOptions, ZImageEngine
    from huajia.worker.previews import encode_preview

    engine = ZImageEngine.load(spec_for_folder(args.model), EngineOptions(local_files_only=True))
    size = args.size
    asked = GenerationRequest(PROMPT, n=args.images, steps=args.steps, width=size, height=size)
    request = engine.resolve(asked)
    started = time.perf_counter()
    engine.prepare_previews()  # as `huajia serve` does at load when previews are on
    fit_seconds = time.perf_counter() - started

    work = {"seconds": 0.0, "count": 0, "bytes": 0}
    project = engine._preview_frames

    def timed_frames(*frame_args: Any) -> list[PreviewFrame]:
        begun = time.perf_counter()
        try:
            return project(*frame_args)
        finally:
            work["seconds"] += time.perf_counter() - begun

    def send(frame: PreviewFrame) -> None:
        begun = time.perf_counter()
        encoded = encode_preview(frame)
        work["seconds"] += time.perf_counter() - begun
        work["count"] += 1
        work["bytes"] += len(encoded.data)

    engine._preview_frames = timed_frames  # type: ignore[method-assign,assignment]
    feed = PreviewFeed(args.every, lambda: True, send)

    cpu: dict[bool, list[float]] = {False: [], True: []}

    def generate(previews: PreviewFeed | None) -> float:
        begun, begun_cpu = time.perf_counter(), time.process_time()
        engine.generate_batch([BatchItem(request, previews=previews)])
        cpu[previews is not None].append(time.process_time() - begun_cpu)
        return time.perf_counter() - begun

    generate(None), generate(feed)  # warm-up: first calls allocate and compile
    work.update(seconds=0.0, count=0, bytes=0)
    cpu[False].clear()
    cpu[True].clear()
    off, on = [], []
    for _ in range(args.rounds):
        off.append(generate(None))
        on.append(generate(feed))

    a, b = statistics.median(off), statistics.median(on)
    per_task = work["seconds"] / args.rounds
    count = work["count"] // args.rounds
    print(f"model {args.model.name}, {size}x{size}, {args.steps} steps, {args.images} "
          f"image(s), a preview every {args.every} steps, {args.rounds} rounds")  # fmt: skip
    print(f"fit of the latent-to-RGB map (once, at load): {fit_seconds * 1000:.0f} ms")
    print(f"A previews off: median {a:.3f} s  (runs {', '.join(f'{s:.2f}' for s in off)})")
    print(f"B previews on : median {b:.3f} s  (runs {', '.join(f'{s:.2f}' for s in on)})")
    print(f"B / A = {b / a:.3f}  (wall-clock difference {100 * (b - a) / a:+.1f} %, noisy)")
    cpu_a, cpu_b = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(f"process CPU time: A {cpu_a:.3f} s, B {cpu_b:.3f} s, B / A = {cpu_b / cpu_a:.3f} "
          "(steadier than wall-clock on a shared machine)")  # fmt: skip
    average = work["bytes"] / max(1, work["count"])
    print(f"previews per task: {count}, {average:.0f} bytes each on average")
    print(f"preview work per task (projection + WebP, timed inside B): {per_task * 1000:.1f} ms "
          f"= {100 * per_task / a:.2f} % of A (budget 5 %)")  # fmt: skip


if __name__ == "__main__":
    main()
