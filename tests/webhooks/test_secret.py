"""The webhook secret: refused at start when empty or short; one test of "configured"."""

from __future__ import annotations

import pytest
import typer
from pydantic import ValidationError

from huajia.api.app import _webhook_dispatcher
from huajia.cli.common import load_settings
from huajia.settings import Settings


@pytest.mark.parametrize("secret", ["", "short-secret-15"])
def test_an_empty_or_short_secret_is_refused_at_start(
    secret: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUAJIA_WEBHOOK_SECRET", secret)
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings()
    with pytest.raises(typer.Exit) as exited:
        load_settings()
    assert exited.value.exit_code == 2
    said = capsys.readouterr().err
    assert "bad setting: webhook_secret" in said and "at least 16 characters" in said


def test_a_secret_of_sixteen_characters_turns_webhooks_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUAJIA_WEBHOOK_SECRET", "s" * 16)
    assert Settings().webhooks_enabled


def test_no_secret_means_no_webhooks_and_no_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUAJIA_WEBHOOK_SECRET", raising=False)
    settings = Settings()
    assert not settings.webhooks_enabled

    class Bare:  # the dispatcher is decided from the settings alone
        pass

    services = Bare()
    services.settings = settings  # type: ignore[attr-defined]
    assert _webhook_dispatcher(services) is None  # type: ignore[arg-type]
