"""`model info`: folders and .safetensors files described from headers alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from huajia.engine.inspect import describe_path
from huajia.engine.models import TINY_MARKER
from huajia.errors import InvalidRequest, ModelFileRejected
from tests.engine.conftest import StateDict, write

TRANSFORMER_KEYS = 73


def test_tiny_pipeline_folder(tiny_model_dir: Path, base_state: StateDict) -> None:
    info = describe_path(tiny_model_dir)
    assert (info["kind"], info["class"], info["tiny"]) == ("pipeline", "ZImagePipeline", True)
    parts = info["components"]
    assert set(parts) == {"scheduler", "text_encoder", "tokenizer", "transformer", "vae"}
    transformer = parts["transformer"]
    assert transformer["class"] == "ZImageTransformer2DModel"
    assert transformer["parameters"] == sum(t.numel() for t in base_state.values())
    assert transformer["dtypes"] == ["float32"]
    assert transformer["size_bytes"] > transformer["parameters"] * 4
    assert "parameters" not in parts["tokenizer"]
    assert info["parameters"] == sum(p.get("parameters", 0) for p in parts.values())
    json.dumps(info)


def test_pipeline_without_marker_is_not_called_tiny(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (copy / TINY_MARKER).unlink()
    assert describe_path(copy)["tiny"] is False


def test_component_folder(tiny_model_dir: Path) -> None:
    info = describe_path(tiny_model_dir / "vae")
    assert (info["kind"], info["class"]) == ("component", "AutoencoderKL")
    assert info["parameters"] > 0


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("diffusers", ("diffusers", None, False)),
        ("diffusers+prefix", ("diffusers+prefix", "transformer.", False)),
        ("original", ("original", None, True)),
        ("original+prefix", ("original", "model.diffusion_model.", True)),
    ],
)
def test_transformer_weights_file(
    layout: str, expected: tuple[str, str | None, bool], weights_file: Callable[[str], Path]
) -> None:
    path = weights_file(layout)
    info = describe_path(path)
    assert info["kind"] == "transformer weights"
    assert (info["layout"], info["prefix"], info["fused_qkv"]) == expected
    assert info["size_bytes"] == path.stat().st_size
    assert info["dtypes"] == ["float32"]


def test_bundle_counts_keys_per_component(weights_file: Callable[[str], Path]) -> None:
    info = describe_path(weights_file("bundle"))
    # the original layout fuses q/k/v (4 blocks: 12 keys become 4) and keeps norm_final
    counts = {"transformer": TRANSFORMER_KEYS - 8 + 1, "text_encoder": 1, "vae": 3}
    assert info["keys_by_component"] == counts
    assert info["keys"] == sum(counts.values())


def test_bfloat16_weights_report_their_dtype(weights_file: Callable[[str], Path]) -> None:
    assert describe_path(weights_file("bfloat16"))["dtypes"] == ["bfloat16"]


@pytest.mark.parametrize("layout", ["diffusers", "peft", "kohya", "ai-toolkit", "fused-qkv"])
def test_lora_file(layout: str, lora_file: Callable[..., Path]) -> None:
    info = describe_path(lora_file(layout))
    assert info["kind"] == "lora"
    assert info["layout"] == ("ai-toolkit" if layout == "fused-qkv" else layout)
    assert info["ranks"] == [4]
    assert info["fused_qkv"] is (layout == "fused-qkv")
    assert info["has_alpha"] is (layout == "kohya")
    assert info["modules"] == (8 if layout == "fused-qkv" else 24)


def test_unknown_safetensors_file(tmp_path: Path) -> None:
    path = write({"encoder.block.0.weight": torch.zeros(3, 3)}, tmp_path / "x.safetensors")
    info = describe_path(path)
    assert (info["kind"], info["layout"], info["parameters"]) == ("unknown", "unknown", 9)


def test_pickle_file_and_missing_path_are_refused(tmp_path: Path) -> None:
    pickle_file = tmp_path / "model.ckpt"
    pickle_file.write_bytes(b"\x80\x04\x95not safetensors")
    with pytest.raises(ModelFileRejected, match="safetensors"):
        describe_path(pickle_file)
    with pytest.raises(InvalidRequest, match="does not exist"):
        describe_path(tmp_path / "absent.safetensors")
    with pytest.raises(InvalidRequest, match="not a diffusers folder"):
        describe_path(tmp_path)


def test_describing_reads_headers_only_without_torch(
    tiny_model_dir: Path, weights_file: Callable[[str], Path]
) -> None:
    """Describing must stay cheap enough for the API process, which never imports torch."""
    script = (
        "import sys, json; from pathlib import Path\n"
        "from huajia.engine.inspect import describe_path\n"
        "for p in sys.argv[1:]: describe_path(Path(p))\n"
        "print(json.dumps('torch' in sys.modules))"
    )
    paths = [str(tiny_model_dir), str(weights_file("bundle"))]
    out = subprocess.run(
        [sys.executable, "-c", script, *paths], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) is False
