"""`huajia generate`: images from a prompt, straight to PNG files, no server needed."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from huajia.cli.common import configure_logging, fail, load_settings, one_line_errors
from huajia.engine.checks import resolve_request
from huajia.engine.models import ModelSpec, resolve_model
from huajia.engine.types import GenerationRequest, GenerationResult, LoraRef, ResolvedRequest
from huajia.errors import InvalidRequest
from huajia.settings import Settings

if TYPE_CHECKING:
    from huajia.engine.zimage import ZImageEngine


@dataclass(frozen=True)
class LoraArg:
    path: Path
    weight: float


def parse_lora(value: str) -> LoraArg:
    """FILE or FILE:WEIGHT (the weight after the last colon, when it is a number)."""
    path, _, weight = value.rpartition(":")
    if path and _is_number(weight):
        return LoraArg(Path(path), float(weight))
    return LoraArg(Path(value), 1.0)


def parse_size(value: str) -> tuple[int, int]:
    width, sep, height = value.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise InvalidRequest(f"--size must look like 1024x768 (got {value!r})")
    return int(width), int(height)


def generate(
    prompt: Annotated[str, typer.Argument(help="What to draw.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the PNG files.")],
    model: Annotated[str | None, typer.Option(help="Model name or diffusers folder.")] = None,
    weights: Annotated[
        Path | None, typer.Option(help="Fine-tuned transformer .safetensors.")
    ] = None,
    lora: Annotated[list[str] | None, typer.Option(help="LoRA FILE[:WEIGHT]; repeatable.")] = None,
    n: Annotated[int, typer.Option("-n", help="Number of images (1-9).")] = 1,
    seed: Annotated[int | None, typer.Option(help="Seed of the first image; +1 per image.")] = None,
    steps: Annotated[int | None, typer.Option(help="Denoising steps.")] = None,
    guidance: Annotated[float | None, typer.Option(help="Guidance scale.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT, multiples of 16.")] = None,
    negative: Annotated[str | None, typer.Option(help="Negative prompt.")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Generate images and write PNG files whose text chunks carry every parameter."""
    configure_logging(verbose)
    settings = load_settings()
    with one_line_errors():
        width, height = parse_size(size) if size else (None, None)
        loras = [parse_lora(item) for item in lora or []]
        _check_files([weights, *(item.path for item in loras)])
        spec = resolve_model(model or settings.served_models()[0], settings.registry())
        request = GenerationRequest(
            prompt=prompt, negative_prompt=negative, n=n, steps=steps, guidance=guidance,
            width=width, height=height, seed=seed,
            loras=tuple(LoraRef(item.path.stem, item.weight) for item in loras),
        )  # fmt: skip
        resolve_request(spec, request)  # bad input fails before the model loads
        if spec.is_random_weights:
            typer.echo(f"note: {spec.name} has random weights: it draws noise", err=True)
        engine = load_engine(settings, spec, weights, loras)
        resolved = engine.resolve(request)
        result = _run_with_progress(engine, resolved)
        for path in write_pngs(result, output, settings):
            typer.echo(str(path))


def write_pngs(result: GenerationResult, folder: Path, settings: Settings) -> list[Path]:
    """PNG files with the parameters and the AI labels (the server's secret and signer)."""
    from huajia.composition import labeler
    from huajia.jobs.rows import new_id

    labels = labeler(settings)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image in result.images:
        parameters = result.parameters_for(image)
        # Not a stored record: the id only ties the label to this file.
        encoded = labels.label(image.image, "png", parameters, new_id()).file
        path = _free_name(folder, f"huajia-{image.seed}")
        path.write_bytes(encoded.data)
        paths.append(path)
    return paths


def load_engine(
    settings: Settings, spec: ModelSpec, weights: Path | None, loras: list[LoraArg]
) -> ZImageEngine:
    from huajia.cli.engine import engine_options
    from huajia.engine.zimage import ZImageEngine

    options = engine_options(settings, weights=weights)
    options.loras.update({item.path.stem: item.path for item in loras})
    return ZImageEngine.load(spec, options)


def _run_with_progress(engine: ZImageEngine, resolved: ResolvedRequest) -> GenerationResult:
    if not sys.stderr.isatty():
        return engine.generate(resolved)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("generating"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("generate", total=resolved.steps)
        return engine.generate(
            resolved, on_progress=lambda step, total: bar.update(task, completed=step, total=total)
        )


def _check_files(paths: list[Path | None]) -> None:
    for path in paths:
        if path is not None and not path.is_file():
            fail(f"no such file: {path}")


def _free_name(folder: Path, stem: str) -> Path:
    path, counter = folder / f"{stem}.png", 1
    while path.exists():
        path, counter = folder / f"{stem}-{counter}.png", counter + 1
    return path


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
