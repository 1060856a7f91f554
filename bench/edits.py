"""Per-operation times of the plain image edits at 1024² and 2048². Prints figures, never fails.

    python bench/edits.py [--runs 5]

Each figure is the median of `runs` calls of `apply_edit` on a photo-like synthetic image
(a graded backdrop with a subject off centre); crop_to_slot without a focus includes the
content-aware focus search, and `find_focus` is also timed on its own.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from PIL import Image, ImageDraw

from huajia.edits import (
    Adjust,
    Crop,
    CropToSlot,
    EditOperation,
    Flip,
    FocusPoint,
    FontLibrary,
    Resize,
    Rotate,
    TextOverlay,
    TextShadow,
    TextStroke,
    apply_edit,
    find_focus,
)

SIDES = (1024, 2048)


def picture(side: int) -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = np.zeros((side, side, 3), dtype=np.float64)
    pixels[..., 0] = np.linspace(40, 90, side)[None, :]
    pixels[..., 1] = np.linspace(70, 130, side)[:, None]
    pixels[..., 2] = 150
    pixels += rng.normal(0, 6, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    x, y, radius = int(side * 0.8), int(side * 0.4), side // 10
    ImageDraw.Draw(image).ellipse(
        (x - radius, y - radius, x + radius, y + radius), fill=(230, 20, 20)
    )
    return image


def operations(side: int) -> dict[str, EditOperation]:
    return {
        "crop": Crop(left=side // 4, top=side // 4, width=side // 2, height=side // 2),
        "crop_to_slot 1200×630 (focus found)": CropToSlot(width=1200, height=630),
        "crop_to_slot 1200×630 (focus given)": CropToSlot(
            width=1200, height=630, focus=FocusPoint(x=0.3, y=0.6)
        ),
        "crop_to_slot 1920×1080": CropToSlot(width=1920, height=1080),
        "resize to half width": Resize(width=side // 2),
        "rotate 90": Rotate(angle=90),
        "rotate 7.5 (expand)": Rotate(angle=7.5),
        "flip horizontal": Flip(direction="horizontal"),
        "adjust all four": Adjust(brightness=1.1, contrast=1.2, saturation=0.8, warmth=0.3),
        "text (CJK, shadow, stroke)": TextOverlay(
            text="新品上市 · 限时八折\nNew season, new colours",
            size=0.06,
            shadow=TextShadow(),
            stroke=TextStroke(),
        ),
    }


def median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    fonts = FontLibrary.discover()
    for side in SIDES:
        image = picture(side)
        print(f"{side}×{side}")
        print(f"  {'find_focus':40} {median_ms(partial(find_focus, image), runs):8.1f} ms")
        for name, op in operations(side).items():
            took = median_ms(partial(apply_edit, image, op, fonts=fonts), runs)
            print(f"  {name:40} {took:8.1f} ms")


if __name__ == "__main__":
    main()
