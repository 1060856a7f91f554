"""A real `huajia serve` with two tiny models whose forms differ: the default `tiny` (sizes up
to 1024, 4 steps by default) and `tiny-b`, configured inline with smaller limits and defaults,
as an operator writes it in `models = [...]`. End-to-end and browser tests share it."""

from __future__ import annotations

import json
from pathlib import Path

from huajia.engine.tiny import create_tiny_model
from tests.support.server import ServerProcess, start_huajia

SECOND = "tiny-b"
SECOND_MAX_SIZE, SECOND_MAX_STEPS = 128, 6
SECOND_DEFAULTS = {"steps": 2, "guidance": 0.0, "width": 128, "height": 128}


def second_model_spec(folder: Path) -> dict[str, object]:
    """tiny-b as an inline spec: its own defaults and limits (not the default model's)."""
    return {
        "name": SECOND, "source": str(folder), "family": "tiny", "dtype": "float32",
        "defaults": SECOND_DEFAULTS,
        "limits": {"min_size": 64, "max_size": SECOND_MAX_SIZE, "max_steps": SECOND_MAX_STEPS},
    }  # fmt: skip


def two_models_settings(models_dir: Path, extra_env: dict[str, str] | None = None
                        ) -> tuple[dict[str, str], list[str]]:  # fmt: skip
    """The environment and arguments that add tiny-b (made in `models_dir`) to the tiny model."""
    second = create_tiny_model(models_dir / SECOND, seed=1, name=SECOND)
    env = {"HUAJIA_MODELS": json.dumps([second_model_spec(second)]), **(extra_env or {})}
    return env, ["--model", SECOND]


def start_two_models(data_dir: Path, tiny_model_dir: Path, models_dir: Path,
                     extra_env: dict[str, str] | None = None) -> ServerProcess:  # fmt: skip
    """`huajia serve --model <tiny> --model tiny-b`, both kept loaded by its one worker."""
    env, args = two_models_settings(models_dir, extra_env)
    return start_huajia(data_dir, tiny_model_dir, env, args)
