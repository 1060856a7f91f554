"""`huajia reload`: serve new weights, a changed model folder or changed LoRA files without a
restart (workers finish what they hold, then load them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from huajia.cli.common import load_settings, one_line_errors


def reload(
    model: Annotated[
        str | None, typer.Option("--model", help="The model served (as given to serve).")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option(help="A .safetensors file to serve from now on.")
    ] = None,
    no_weights: Annotated[
        bool, typer.Option("--no-weights", help="Serve the model without fine-tuned weights.")
    ] = False,
) -> None:
    """Record what the model's files, the weights and the registered LoRA files are now; tasks
    submitted from then on use them. Prints the revision served and what changed."""
    from huajia.cli.purge import cli_principal
    from huajia.composition import open_task_store
    from huajia.engine.models import resolve_model
    from huajia.generation.reload import ModelReloads
    from huajia.presets.lora_registry import LoraRegistry

    with one_line_errors():
        settings = load_settings()
        store = open_task_store(settings)
        try:
            spec = resolve_model(model or settings.served_models()[0], settings.registry())
            loras = LoraRegistry(
                store, spec.source, settings.lora_folders(), settings.lora_allow_partial
            )
            given = str(weights) if weights is not None else None
            report = ModelReloads(store, spec, loras).reload(cli_principal(), given, no_weights)
        finally:
            store.close()
    typer.echo(json.dumps(report.summary(), ensure_ascii=False))
    if not report.changed and not report.loras_changed:
        typer.echo("nothing changed: the model, weights and LoRA files are as served", err=True)
