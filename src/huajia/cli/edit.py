"""`huajia edit` (the model redraws part or all of an image) and `huajia retouch` (plain edits:
crop, colour, text, no model), both straight to files, no server needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from huajia.cli.common import configure_logging, fail, load_settings, one_line_errors
from huajia.cli.generate import load_engine, parse_size, write_pngs
from huajia.engine.checks import resolve_request
from huajia.engine.models import resolve_model
from huajia.engine.types import GenerationRequest, ResolvedRequest
from huajia.errors import InvalidRequest

if TYPE_CHECKING:
    from PIL.Image import Image

    from huajia.edits import EditOperation
    from huajia.engine.edit_types import EditJob
    from huajia.engine.models import ModelSpec


def edit(
    image: Annotated[Path, typer.Argument(help="The image to edit (PNG, JPEG or WebP).")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="What the result shows.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the PNG files.")],
    mask: Annotated[
        Path | None, typer.Option(help="Inpaint: an image the same size; white = redraw.")
    ] = None,
    strength: Annotated[
        float | None, typer.Option(help="How far from the image, 0-1 (variations: 0.6).")
    ] = None,
    outpaint: Annotated[
        str | None, typer.Option(help="Extend to WIDTHxHEIGHT, the image centred.")
    ] = None,
    upscale: Annotated[int | None, typer.Option(help="2: twice the size, detail added.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name or diffusers folder.")] = None,
    n: Annotated[int, typer.Option("-n", help="Number of results (1-9).")] = 1,
    seed: Annotated[int | None, typer.Option(help="Seed of the first result.")] = None,
    steps: Annotated[int | None, typer.Option(help="Denoising steps.")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Vary an image, repaint the area a mask marks, extend it, or upscale it x2."""
    configure_logging(verbose)
    settings = load_settings()
    with one_line_errors():
        if sum(option is not None for option in (mask, outpaint, upscale)) > 1:
            fail("choose one of --mask, --outpaint and --upscale")
        if upscale is not None and upscale != 2:
            fail("--upscale takes 2 (twice the size)")
        source = _read(image)
        spec = resolve_model(model or settings.served_models()[0], settings.registry())
        request = GenerationRequest(prompt=prompt, n=n, seed=seed, steps=steps)
        job = _job(spec, source, request, mask, strength, outpaint, upscale is not None)
        engine = load_engine(settings, spec, None, [])
        engine.check_prompts(job.request)
        result = engine.editor.edit(job)
        for path in write_pngs(result, output, settings):
            typer.echo(str(path))


def _job(spec: ModelSpec, source: Image, request: GenerationRequest, mask: Path | None,
         strength: float | None, outpaint: str | None, upscale: bool) -> EditJob:  # fmt: skip
    """The engine job, its size fixed by the operation; bad input fails before loading."""
    from huajia.engine.edit_plan import upscaled_size
    from huajia.engine.edit_types import ImageToImageJob, InpaintJob, OutpaintJob, UpscaleJob

    multiple = spec.limits.size_multiple
    if outpaint is not None:
        width, height = parse_size(outpaint)
        left, top = (width - source.width) // 2, (height - source.height) // 2
        return OutpaintJob(_sized(spec, request, (width, height)), source, left, top)
    if upscale:
        size = upscaled_size((source.width, source.height), multiple)
        return UpscaleJob(_sized(spec, request, size), source, strength or 0.3)
    own = (_round(source.width, multiple), _round(source.height, multiple))
    if mask is not None:
        from huajia.images.masks import native_mask

        repaint = native_mask(_read(mask))
        return InpaintJob(_sized(spec, request, own), source, repaint, strength or 1.0)
    return ImageToImageJob(_sized(spec, request, own), source, strength or 0.6)


def _sized(spec: ModelSpec, request: GenerationRequest, size: tuple[int, int]
           ) -> ResolvedRequest:  # fmt: skip
    from dataclasses import replace

    return resolve_request(spec, replace(request, width=size[0], height=size[1]))


def _round(value: int, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def retouch(
    image: Annotated[Path, typer.Argument(help="The image to edit (PNG, JPEG or WebP).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The file to write (.png).")],
    crop_to_slot: Annotated[
        str | None, typer.Option(help="Crop to exactly WIDTHxHEIGHT around the subject.")
    ] = None,
    focus: Annotated[str | None, typer.Option(help="X,Y (0-1) to keep in the crop.")] = None,
    resize: Annotated[str | None, typer.Option(help="Resize to WIDTHxHEIGHT.")] = None,
    rotate: Annotated[float | None, typer.Option(help="Degrees, clockwise.")] = None,
    flip: Annotated[str | None, typer.Option(help="horizontal or vertical.")] = None,
    brightness: Annotated[float | None, typer.Option(help="1 = unchanged.")] = None,
    contrast: Annotated[float | None, typer.Option(help="1 = unchanged.")] = None,
    saturation: Annotated[float | None, typer.Option(help="1 = unchanged, 0 = grey.")] = None,
    warmth: Annotated[float | None, typer.Option(help="-1 cooler ... 1 warmer.")] = None,
    text: Annotated[str | None, typer.Option(help="A line of text (Chinese or Latin).")] = None,
    anchor: Annotated[str, typer.Option(help="Where the text goes, e.g. bottom-right.")] = "bottom",
    colour: Annotated[str, typer.Option(help="Text colour, #rrggbb.")] = "#ffffff",
) -> None:
    """Plain edits in the order given here: crop, resize, rotate, flip, colours, text."""
    with one_line_errors():
        edits = _edits(crop_to_slot, focus, resize, rotate, flip, brightness, contrast,
                       saturation, warmth, text, anchor, colour)  # fmt: skip
        if not edits:
            fail("nothing to do: give at least one edit (see --help)")
        from huajia.edits import FontLibrary, apply_edits

        settings = load_settings()
        result = apply_edits(_read(image), edits, fonts=FontLibrary.discover(settings.fonts_dir))
        output.parent.mkdir(parents=True, exist_ok=True)
        result.save(output, "PNG")
        typer.echo(str(output))


def _edits(crop_to_slot: str | None, focus: str | None, resize: str | None,
           rotate: float | None, flip: str | None, brightness: float | None,
           contrast: float | None, saturation: float | None, warmth: float | None,
           text: str | None, anchor: str, colour: str) -> list[EditOperation]:  # fmt: skip
    from pydantic import TypeAdapter, ValidationError

    from huajia.edits import EditOperation

    wanted: list[dict[str, object]] = []
    if crop_to_slot:
        width, height = parse_size(crop_to_slot)
        slot: dict[str, object] = {"kind": "crop_to_slot", "width": width, "height": height}
        if focus:
            x, _, y = focus.partition(",")
            slot["focus"] = {"x": float(x), "y": float(y or "nan")}
        wanted.append(slot)
    if resize:
        width, height = parse_size(resize)
        wanted.append({"kind": "resize", "width": width, "height": height})
    if rotate is not None:
        wanted.append({"kind": "rotate", "angle": rotate})
    if flip:
        wanted.append({"kind": "flip", "direction": flip})
    colours = {"brightness": brightness, "contrast": contrast, "saturation": saturation,
               "warmth": warmth}  # fmt: skip
    if any(value is not None for value in colours.values()):
        wanted.append({"kind": "adjust", **{k: v for k, v in colours.items() if v is not None}})
    if text:
        wanted.append({"kind": "text", "text": text, "anchor": anchor, "colour": colour})
    try:
        return TypeAdapter(list[EditOperation]).validate_python(wanted)
    except (ValidationError, ValueError) as error:
        raise InvalidRequest(f"bad edit: {str(error).splitlines()[-1].strip()}") from None


def _read(path: Path) -> Image:
    from huajia.images.sources import SourceLimits, load_upload

    if not path.is_file():
        fail(f"no such file: {path}")
    return load_upload(path.read_bytes(), SourceLimits()).image
