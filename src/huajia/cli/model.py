"""`huajia model create-tiny | info`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from huajia.cli.common import fail, one_line_errors

app = typer.Typer(help="Model folders and weight files.", no_args_is_help=True)


@app.command("create-tiny")
def create_tiny(
    target: Annotated[Path, typer.Argument(help="New folder for the tiny model.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    name: Annotated[str, typer.Option(help="The model's name when served.")] = "tiny",
) -> None:
    """Write a tiny random-weight Z-Image model (a few MB). It draws noise: tests and demos only."""
    from huajia.engine.tiny import create_tiny_model

    with one_line_errors():
        try:
            create_tiny_model(target, seed, name)
        except FileExistsError as error:
            fail(str(error))
    typer.echo(f"wrote tiny random-weight model to {target} (it draws noise)")


@app.command("info")
def info(
    path: Annotated[Path, typer.Argument(help="A diffusers folder or a .safetensors file.")],
) -> None:
    """What a model folder or weights file holds: kind, layout, key counts, dtype, size."""
    from huajia.engine.inspect import describe_path

    with one_line_errors():
        typer.echo(json.dumps(describe_path(path), indent=2, ensure_ascii=False))
