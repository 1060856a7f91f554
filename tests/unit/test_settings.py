"""Settings from huajia.toml and HUAJIA_* variables, and what they must never reveal."""

from __future__ import annotations

from pathlib import Path

import pytest

from huajia.settings import Settings

TOML = """
model = "brand"
offload = "model"
cors_origins = ["https://cms.example.com"]

[models.brand]
name = "brand"
source = "/models/brand-z-image-turbo"
defaults = { steps = 10, guidance = 0.0, width = 1280, height = 720 }

[loras]
watercolour = "/models/loras/watercolour.safetensors"
"""


def test_huajia_toml_configures_models_loras_and_cors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "huajia.toml").write_text(TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    brand = settings.registry()["brand"]
    assert (brand.defaults.steps, brand.defaults.width, brand.defaults.height) == (10, 1280, 720)
    assert "z-image-turbo" in settings.registry(), "built-in models stay available"
    assert settings.loras["watercolour"] == Path("/models/loras/watercolour.safetensors")
    assert settings.offload == "model"
    assert settings.cors_origins == ["https://cms.example.com"]


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "huajia.toml").write_text(TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUAJIA_OFFLOAD", "sequential")
    assert Settings().offload == "sequential"


def test_secrets_stay_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUAJIA_DATABASE_URL", "postgresql+psycopg://huajia:hunter2@db/huajia")
    monkeypatch.setenv("HUAJIA_S3_SECRET_KEY", "s3-secret-value")
    settings = Settings()
    assert "hunter2" not in repr(settings) and "s3-secret-value" not in repr(settings)
    assert "hunter2" in settings.resolved_database_url()


SEVERAL = """
models = [
    "z-image-turbo",
    { name = "brand", source = "/models/brand", defaults = { steps = 10, guidance = 0.0 } },
]
model_residency = "lru"
resident_models = 1
"""


def test_a_list_of_models_is_served_the_first_being_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "huajia.toml").write_text(SEVERAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.served_models() == ["z-image-turbo", "brand"]
    assert [spec.name for spec in settings.served_specs()] == ["z-image-turbo", "brand"]
    assert settings.registry()["brand"].defaults.steps == 10, "an inline spec is a named model"
    assert (settings.model_residency, settings.resident_models) == ("lru", 1)
    monkeypatch.setenv("HUAJIA_MODELS", '["z-image", "z-image-turbo"]')
    assert Settings().served_models() == ["z-image", "z-image-turbo"]
