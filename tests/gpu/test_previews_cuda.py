"""GPU-only: live previews on CUDA in every placement, offload hooks included (the map is
fitted through the VAE's encoder and decoder, which the hooks must move). Skipped without a GPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("offload", ["none", "model", "sequential"])
def test_previews_come_in_every_placement(tiny_model_dir: Path, offload: str) -> None:
    from huajia.engine.models import spec_for_folder
    from huajia.engine.types import BatchItem, GenerationRequest, PreviewFeed, PreviewFrame
    from huajia.engine.zimage import EngineOptions, ZImageEngine

    spec = spec_for_folder(tiny_model_dir).model_copy(update={"dtype": "auto"})
    engine = ZImageEngine.load(spec, EngineOptions(offload=offload, local_files_only=True))
    frames: list[PreviewFrame] = []
    request = engine.resolve(GenerationRequest("a kite", seed=3, steps=6, width=256, height=256))

    (result,) = engine.generate_batch(
        [BatchItem(request, previews=PreviewFeed(2, lambda: True, frames.append))]
    )

    assert not isinstance(result, Exception) and len(result.images) == 1
    assert [frame.step for frame in frames] == [2, 4], "the fit and the projection worked"
    assert {(frame.width, frame.height) for frame in frames} == {(32, 32)}
