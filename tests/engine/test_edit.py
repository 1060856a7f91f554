"""Image editing on the tiny model: strength, exact pixels outside masks, sizes, shared weights.

The tiny model's random VAE does not reconstruct images (its round trip alone moves a pixel by
~90 of 255), so image-to-image is compared with its own lowest-strength result, and the
"unchanged" parts of inpaint and outpaint are asserted exactly, which only compositing allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from PIL import Image, ImageDraw

from huajia.engine.edit import Editor
from huajia.engine.edit_plan import denoising_steps, upscaled_size
from huajia.engine.edit_types import (
    EditItem,
    EditJob,
    ImageToImageJob,
    InpaintJob,
    OutpaintJob,
    UpscaleJob,
)
from huajia.engine.masks import latent_cells, outpaint_alpha, outpaint_canvas
from huajia.engine.types import CancelToken, GenerationRequest, LoraRef, ResolvedRequest
from huajia.engine.zimage import ZImageEngine
from huajia.errors import GenerationCanceled, InvalidRequest
from tests.engine.test_out_of_memory import GpuThatFits


def picture(width: int = 64, height: int = 64) -> Image.Image:
    """A source with gradients and a checkerboard, so crops and resizes show."""
    y, x = np.mgrid[0:height, 0:width]
    checker = ((x // 8 + y // 8) % 2) * 200
    return Image.fromarray(
        np.stack([x * 255 // width, y * 255 // height, checker], -1).astype(np.uint8)
    )


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def square_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size)
    mask.paste(255, box)
    return mask


def resolved(
    engine: ZImageEngine, width: int = 64, height: int = 64, **changes: Any
) -> ResolvedRequest:
    fields: dict[str, Any] = {"seed": 3, "steps": 4, "width": width, "height": height} | changes
    return engine.resolve(GenerationRequest("a lighthouse", **fields))


def run(engine: ZImageEngine, job: EditJob) -> np.ndarray:
    return pixels(engine.editor.edit(job).images[0].image)


def test_image_to_image_moves_further_from_the_source_as_strength_grows(
    tiny_engine: ZImageEngine,
) -> None:
    source, request = picture(), resolved(tiny_engine)
    results = {s: run(tiny_engine, ImageToImageJob(request, source, s)) for s in (0.25, 0.5, 1.0)}
    lowest = results[0.25]
    distances = [np.abs(results[s] - lowest).mean() for s in (0.5, 1.0)]
    # Measured 15-20 then 23-29 over seeds 0-4: each step up in strength moves it further.
    assert 5 < distances[0] < distances[1] - 2


def test_seeded_edits_reproduce_exactly(tiny_engine: ZImageEngine) -> None:
    request = resolved(tiny_engine, n=2, seed=11)
    job = ImageToImageJob(request, picture(), 0.6)
    first, again = tiny_engine.editor.edit(job), tiny_engine.editor.edit(job)
    assert [image.seed for image in first.images] == [11, 12]
    for one, other in zip(first.images, again.images, strict=True):
        assert np.array_equal(pixels(one.image), pixels(other.image))
    assert not np.array_equal(pixels(first.images[0].image), pixels(first.images[1].image))


def test_image_to_image_covers_the_request_size_from_any_source(
    tiny_engine: ZImageEngine,
) -> None:
    result = tiny_engine.editor.edit(ImageToImageJob(resolved(tiny_engine), picture(100, 60)))
    assert result.images[0].image.size == (64, 64)
    assert result.operation == {
        "kind": "image_to_image",
        "strength": 0.6,
        "source_width": 100,
        "source_height": 60,
    }


@pytest.mark.parametrize("feather", [0, 3])
def test_inpaint_keeps_every_pixel_outside_the_mask(
    tiny_engine: ZImageEngine, feather: int
) -> None:
    source, box = picture(), (20, 12, 44, 40)
    job = InpaintJob(resolved(tiny_engine), source, square_mask((64, 64), box), feather=feather)
    result = tiny_engine.editor.edit(job)
    got, want = pixels(result.images[0].image), pixels(source)
    # The feather band reaches ~3x feather beyond the mask; past it the source is exact.
    margin = 3 * feather + 1 if feather else 0
    left, top, right, bottom = box
    kept = np.ones((64, 64), bool)
    kept[max(0, top - margin) : bottom + margin, max(0, left - margin) : right + margin] = False
    assert np.array_equal(got[kept], want[kept])
    core = got[top + margin : bottom - margin, left + margin : right - margin]
    assert (
        np.abs(core - want[top + margin : bottom - margin, left + margin : right - margin]).mean()
        > 10
    )
    assert result.parameters_for(result.images[0])["operation"] == {
        "kind": "inpaint",
        "strength": 1.0,
        "feather": feather,
        "source_width": 64,
        "source_height": 64,
    }


def test_inpaint_with_a_drawn_mask_keeps_exactly_what_is_black(tiny_engine: ZImageEngine) -> None:
    mask = Image.new("L", (64, 64))
    ImageDraw.Draw(mask).ellipse((10, 22, 41, 53), fill=255)
    job = InpaintJob(resolved(tiny_engine, seed=5), picture(), mask, feather=0)
    got, want = run(tiny_engine, job), pixels(picture())
    black = np.asarray(mask) == 0
    assert np.array_equal(got[black], want[black])
    assert np.abs(got[~black] - want[~black]).mean() > 10


def test_outpaint_keeps_the_source_exactly_and_paints_the_new_area(
    tiny_engine: ZImageEngine,
) -> None:
    source, canvas = picture(), (128, 96)
    job = OutpaintJob(resolved(tiny_engine, 128, 96), source, left=32, top=16, feather=8)
    result = tiny_engine.editor.edit(job)
    got = pixels(result.images[0].image)
    assert result.images[0].image.size == canvas
    assert np.array_equal(got[16:80, 32:96], pixels(source))
    fill = pixels(outpaint_canvas(source, canvas, 32, 16))
    new_area = np.asarray(outpaint_alpha(canvas, (32, 16, 96, 80), 0)) > 0
    assert np.abs(got[new_area] - fill[new_area]).mean() > 10, "the new area is just the fill"
    assert result.operation is not None and result.operation["left"] == 32


def test_upscale_doubles_the_rounded_source_size(tiny_engine: ZImageEngine) -> None:
    source = picture(60, 44)  # rounded to 64x48 (nearest multiple of 8), then doubled
    size = upscaled_size(source.size, tiny_engine.spec.limits.size_multiple)
    assert size == (128, 96)
    result = tiny_engine.editor.edit(UpscaleJob(resolved(tiny_engine, *size), source))
    assert result.images[0].image.size == size
    assert result.operation == {
        "kind": "upscale",
        "scale": 2,
        "strength": 0.3,
        "source_width": 60,
        "source_height": 44,
    }


def test_upscale_sizes_round_half_up_to_multiples_of_the_model() -> None:
    assert upscaled_size((1000, 750), 16) == (2000, 1504)
    assert upscaled_size((1, 12), 16) == (16, 32)
    assert all(side % 16 == 0 for side in upscaled_size((333, 517), 16))


def test_large_upscales_decode_with_vae_tiling(fresh_engine: ZImageEngine) -> None:
    fresh_engine.options = replace(fresh_engine.options, vae_tiling_min_pixels=64 * 64)
    job = UpscaleJob(resolved(fresh_engine, steps=2), picture(32, 32))
    assert fresh_engine.editor.edit(job).images[0].image.size == (64, 64)
    assert fresh_engine.pipe.vae.use_tiling is True


def test_edit_pipelines_share_the_loaded_weights(tiny_engine: ZImageEngine) -> None:
    base, editor = tiny_engine.pipe, tiny_engine.editor
    for pipe in (editor.img2img_pipe, editor.inpaint_pipe):
        for name in ("transformer", "vae", "text_encoder", "tokenizer"):
            assert getattr(pipe, name) is getattr(base, name)
        for name in ("transformer", "vae", "text_encoder"):
            ours = dict(getattr(pipe, name).named_parameters())
            theirs = dict(getattr(base, name).named_parameters())
            assert ours.keys() == theirs.keys()
            assert all(ours[key].data_ptr() == theirs[key].data_ptr() for key in ours)
        # Image-to-image keeps per-call state on its scheduler: never the shared one.
        assert pipe.scheduler is not base.scheduler
    assert editor.img2img_pipe is tiny_engine.editor.img2img_pipe


def test_edit_pipelines_keep_the_model_dtype(fresh_engine: ZImageEngine) -> None:
    # diffusers' from_pipe would cast the shared modules to float32 in place.
    fresh_engine.pipe.transformer.to(torch.bfloat16)
    pipe = fresh_engine.editor.inpaint_pipe
    assert pipe.transformer.dtype == fresh_engine.pipe.transformer.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32


def test_progress_counts_the_steps_strength_leaves(tiny_engine: ZImageEngine) -> None:
    seen: list[tuple[int, int]] = []
    job = ImageToImageJob(resolved(tiny_engine, steps=8), picture(), 0.5)
    tiny_engine.editor.edit(job, on_progress=lambda step, total: seen.append((step, total)))
    assert denoising_steps(8, 0.5) == 4
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_stops_an_edit_between_steps(tiny_engine: ZImageEngine) -> None:
    cancel, steps_seen = CancelToken(), []

    def on_progress(step: int, _total: int) -> None:
        steps_seen.append(step)
        if step == 2:
            cancel.cancel()

    mask = square_mask((64, 64), (0, 0, 32, 64))
    job = InpaintJob(resolved(tiny_engine, steps=40), picture(), mask)
    with pytest.raises(GenerationCanceled):
        tiny_engine.editor.edit(job, on_progress=on_progress, cancel=cancel)
    assert steps_seen == [1, 2], "the edit ran on after the cancel"


def test_canceling_one_edit_of_a_batch_spares_the_other(tiny_engine: ZImageEngine) -> None:
    cancel = CancelToken()
    cancel.cancel()
    kept = ImageToImageJob(resolved(tiny_engine, seed=1), picture(), 0.5)
    dropped = ImageToImageJob(resolved(tiny_engine, seed=2), picture(32, 32), 0.5)
    outcomes = tiny_engine.edit_batch([EditItem(kept), EditItem(dropped, cancel=cancel)])
    assert not isinstance(outcomes[0], Exception)
    assert outcomes[0].operation is not None
    assert isinstance(outcomes[1], GenerationCanceled)


def test_edits_retry_with_smaller_batches_when_out_of_memory(tiny_engine: ZImageEngine) -> None:
    job = ImageToImageJob(resolved(tiny_engine, n=2, seed=20), picture(), 0.5)
    expected = tiny_engine.editor.edit(job)
    editor = Editor(tiny_engine)
    gpu = GpuThatFits(editor.img2img_pipe, max_images=1)
    editor.__dict__["img2img_pipe"] = gpu
    result = editor.edit(job)
    assert gpu.batch_sizes == [2, 1, 1]
    for got, want in zip(result.images, expected.images, strict=True):
        assert np.abs(pixels(got.image) - pixels(want.image)).max() <= 1


def test_an_active_lora_applies_to_edits(
    fresh_engine: ZImageEngine, lora_file: Callable[..., Path]
) -> None:
    fresh_engine.loras.load("style", lora_file("diffusers"))
    layers = [m for m in fresh_engine.pipe.transformer.modules() if isinstance(m, BaseTunerLayer)]
    active: list[tuple[list[str], bool]] = []

    def during_steps(_step: int, _total: int) -> None:
        active.append((list(layers[0].active_adapters), layers[0].disable_adapters))

    def edited(loras: tuple[LoraRef, ...]) -> np.ndarray:
        job = ImageToImageJob(resolved(fresh_engine, loras=loras), picture(), 0.75)
        return pixels(fresh_engine.editor.edit(job, on_progress=during_steps).images[0].image)

    styled = edited((LoraRef("style", 1.0),))
    assert active[-1] == (["style"], False)
    plain = edited(())
    assert active[-1][1] is True
    assert np.abs(styled - plain).mean() > 5, "the LoRA did not change the edit"


@pytest.mark.parametrize(
    ("make_job", "message"),
    [
        (lambda r: InpaintJob(r, picture(), Image.new("L", (32, 64), 255)), "mask is 32×64"),
        (lambda r: InpaintJob(r, picture(), Image.new("L", (64, 64))), "mask is empty"),
        (lambda r: InpaintJob(r, picture(), Image.new("L", (64, 64), 255), feather=-1), "feather"),
        (lambda r: ImageToImageJob(r, picture(), -0.1), "strength must be between 0 and 1"),
        (lambda r: ImageToImageJob(r, picture(), 1.5), "strength must be between 0 and 1"),
        (lambda r: ImageToImageJob(r, picture(), float("nan")), "strength must be between"),
        (lambda r: ImageToImageJob(r, picture(), 0.0), "leaves none of the 4 steps"),
        (lambda r: OutpaintJob(r, picture(128, 64), 0, 0), "must be larger than the source"),
        (lambda r: OutpaintJob(r, picture(64, 64), 0, 0), "must be larger than the source"),
        (lambda r: OutpaintJob(replace(r, width=128), picture(), 70, 0), "left must be 0–64"),
        (lambda r: OutpaintJob(replace(r, width=128), picture(), 0, -1), "does not fit"),
        (lambda r: UpscaleJob(r, picture()), "gives 128×128, but the request asks for 64×64"),
        (lambda r: ImageToImageJob(replace(r, width=72), picture()), "multiple of 16"),
    ],
)
def test_bad_edits_are_refused_before_the_pipeline_runs(
    tiny_engine: ZImageEngine, make_job: Callable[[ResolvedRequest], EditJob], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        tiny_engine.editor.edit(make_job(resolved(tiny_engine)))


def test_a_batch_of_different_edits_is_refused(tiny_engine: ZImageEngine) -> None:
    request = resolved(tiny_engine)
    items = [EditItem(ImageToImageJob(request, picture(), s)) for s in (0.5, 0.6)]
    with pytest.raises(ValueError, match="equal strength"):
        tiny_engine.edit_batch(items)


def test_repaint_mask_covers_whole_latent_cells() -> None:
    alpha = square_mask((32, 32), (9, 9, 10, 10))  # one pixel, inside the cell at (8, 8)
    cells = np.asarray(latent_cells(alpha, 8))
    assert cells[8:16, 8:16].min() == 255
    assert cells.sum() == 255 * 64


def test_outpaint_feather_stays_inside_the_new_area() -> None:
    alpha = np.asarray(outpaint_alpha((64, 48), (16, 8, 48, 40), 8))
    assert alpha[8:40, 16:48].max() == 0
    assert 0 < alpha[20, 15] < alpha[20, 12] < alpha[20, 4] == 255
