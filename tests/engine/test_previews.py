"""Live previews from the engine: made only when a request asks and someone watches, at the
cadence asked, small, and a real picture of the latents through the VAE's own colours."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from huajia.engine.models import spec_for_folder
from huajia.engine.preview import LatentProjection
from huajia.engine.types import BatchItem, GenerationRequest, PreviewFeed, PreviewFrame
from huajia.engine.zimage import EngineOptions, ZImageEngine
from huajia.worker.previews import encode_preview

SMALL = {"width": 128, "height": 128, "steps": 8}


def run(engine: ZImageEngine, feed: PreviewFeed | None, n: int = 1) -> None:
    request = engine.resolve(GenerationRequest("a kite", n=n, seed=3, **SMALL))
    engine.generate_batch([BatchItem(request, previews=feed)])


def test_previews_come_every_n_steps_for_each_image_of_the_request(
    tiny_engine: ZImageEngine,
) -> None:
    frames: list[PreviewFrame] = []

    run(tiny_engine, PreviewFeed(3, lambda: True, frames.append), n=2)

    assert [(f.step, f.index) for f in frames] == [(3, 0), (3, 1), (6, 0), (6, 1)]
    assert {(f.total, f.width, f.height) for f in frames} == {(8, 16, 16)}  # 128 px / 8
    assert all(len(f.rgb) == 16 * 16 * 3 for f in frames)
    assert frames[0].rgb != frames[1].rgb, "each image its own preview"


def test_no_preview_while_nobody_watches_and_they_start_when_someone_does(
    tiny_engine: ZImageEngine,
) -> None:
    frames: list[PreviewFrame] = []
    steps_seen: list[int] = []
    watching = {"now": False}

    def progress(step: int, _total: int) -> None:
        steps_seen.append(step)
        watching["now"] = step >= 4  # a follower arrives after step 4

    request = tiny_engine.resolve(GenerationRequest("a kite", seed=3, **SMALL))
    feed = PreviewFeed(2, lambda: watching["now"], frames.append)
    tiny_engine.generate_batch([BatchItem(request, on_progress=progress, previews=feed)])

    assert steps_seen == list(range(1, 9))
    assert [f.step for f in frames] == [6]  # not 2 or 4 (nobody watched), not 8 (the last)


def test_an_engine_asked_for_no_previews_never_fits_the_preview_map(tiny_model_dir: Path) -> None:
    options = EngineOptions(local_files_only=True)
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)

    run(engine, None)
    run(engine, PreviewFeed(0, lambda: True, lambda frame: None))  # every 0 steps: never

    assert "preview_projection" not in engine.__dict__, "zero cost when nobody asks"


def test_a_preview_encodes_to_a_small_real_image(tiny_engine: ZImageEngine) -> None:
    frames: list[PreviewFrame] = []
    run(tiny_engine, PreviewFeed(4, lambda: True, frames.append))

    preview = encode_preview(frames[0])
    image = Image.open(io.BytesIO(preview.data))

    assert (image.format, image.size) == ("WEBP", (16, 16))
    assert preview.media_type == "image/webp" and len(preview.data) < 2000
    assert np.asarray(image.convert("RGB")).std() > 0


def test_previews_of_large_images_stay_within_256_pixels() -> None:
    projection = LatentProjection(torch.ones(3, 16) / 16, torch.zeros(3))
    latents = torch.rand(1, 16, 320, 180)  # a 2560 x 1440 image

    (frame,) = projection.frames(latents, [0], 1, 10)

    assert (frame.width, frame.height) == (90, 160)


class LinearVae(torch.nn.Module):
    """A stand-in VAE whose decoder is exactly linear in its latents: the fit must find it."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(5)
        self.mix = torch.randn(3, 16, generator=generator) * 0.02  # colours stay within -1..1
        self.offset = torch.tensor([0.1, -0.2, 0.05])
        self.features = torch.randn(16, 3, generator=generator)
        self.config = SimpleNamespace(scaling_factor=0.5, shift_factor=0.2)
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def encode(self, images: torch.Tensor) -> Any:
        pooled = torch.nn.functional.avg_pool2d(images, 8)
        latents = torch.einsum("nkhw,ck->nchw", pooled, self.features)
        latents = latents + torch.tanh(latents * 3)  # nonlinear: full rank over the samples
        return SimpleNamespace(latent_dist=SimpleNamespace(mode=lambda: latents))

    def decode(self, latents: torch.Tensor, return_dict: bool = False) -> tuple[torch.Tensor]:
        colours = torch.einsum("nchw,kc->nkhw", latents, self.mix) + self.offset[:, None, None]
        return (torch.nn.functional.interpolate(colours, scale_factor=8),)


def test_the_fitted_map_reproduces_a_linear_decoders_colours() -> None:
    vae = LinearVae()
    projection = LatentProjection.fit(vae, "cpu")
    held = torch.randn(2, 16, 8, 8)  # latents as the pipeline holds them

    frames = projection.frames(held, [0, 1], 1, 4)

    unscaled = held / vae.config.scaling_factor + vae.config.shift_factor
    decoded = vae.decode(unscaled)[0][:, :, ::8, ::8].clamp(-1, 1)
    expected = ((decoded + 1) / 2 * 255).round().permute(0, 2, 3, 1).numpy()
    for frame, want in zip(frames, expected, strict=True):
        got = np.frombuffer(frame.rgb, np.uint8).reshape(8, 8, 3).astype(int)
        assert np.abs(got - want).max() <= 1


def test_previews_prepared_at_load_cost_no_task_a_fit(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = EngineOptions(local_files_only=True)
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)
    engine.prepare_previews()
    fits: list[object] = []
    monkeypatch.setattr(LatentProjection, "fit", lambda *args: fits.append(args))
    frames: list[PreviewFrame] = []

    run(engine, PreviewFeed(2, lambda: True, frames.append))

    assert "preview_projection" in engine.__dict__ and fits == []
    assert [frame.step for frame in frames] == [2, 4, 6]


def test_a_failing_preview_costs_the_previews_never_the_images(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = EngineOptions(local_files_only=True)
    engine = ZImageEngine.load(spec_for_folder(tiny_model_dir), options)

    def broken(_vae: Any, _device: Any) -> LatentProjection:
        raise RuntimeError("the VAE would not encode")

    monkeypatch.setattr(LatentProjection, "fit", broken)
    frames: list[PreviewFrame] = []
    request = engine.resolve(GenerationRequest("a kite", seed=3, **SMALL))

    feed = PreviewFeed(2, lambda: True, frames.append)
    (result,) = engine.generate_batch([BatchItem(request, previews=feed)])

    assert not isinstance(result, Exception) and len(result.images) == 1
    assert frames == []
