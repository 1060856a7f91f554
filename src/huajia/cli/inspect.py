"""`huajia inspect FILE`: what an image carries, and whether its labels still hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from huajia.cli.common import load_settings, one_line_errors
from huajia.images.inspection import Inspection, inspect_image
from huajia.images.labeler import find_label_secret

_INTEGRITY_TEXT = {
    "valid": "valid (checks against this server's secret)",
    "invalid": "INVALID: the pixels changed since the label was written, or another secret",
    "no secret": "cannot check: no secret (set label_secret or use the server's data folder)",
    "no label": "no TC260 label",
}


def inspect(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the parameters, AI labels and Content Credentials a file carries.

    Exits 1 when a label's integrity value or a C2PA manifest does not match the file.
    """
    settings = load_settings()
    with one_line_errors():
        secret = find_label_secret(settings.label_secret, settings.data_dir)
        report = inspect_image(file.read_bytes(), secret)
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(describe(report))
    if report.failed:
        raise typer.Exit(1)


def describe(report: Inspection) -> str:
    """The report as lines a person reads."""
    lines = [f"type: {report.content_type}"]
    if report.parameters is not None:
        lines.append("parameters: " + json.dumps(report.parameters, ensure_ascii=False))
    lines.append(f"IPTC digital source type: {report.source_type or 'none'}")
    label = report.label
    if label is not None:
        lines += [
            f"TC260 label: Label={label.Label} ContentProducer={label.ContentProducer} "
            f"ProduceID={label.ProduceID}",
            f"  propagator: {label.ContentPropagator or '-'} {label.PropagateID or ''}".rstrip(),
        ]
    lines.append(f"label integrity: {_INTEGRITY_TEXT[report.integrity]}")
    if report.visible_mark is not None:
        lines.append(f"visible mark: {json.dumps(report.visible_mark, ensure_ascii=False)}")
    lines.append(_c2pa_line(report))
    return "\n".join(lines)


def _c2pa_line(report: Inspection) -> str:
    c2pa = report.c2pa
    if c2pa.state == "absent":
        return "C2PA: none"
    line = f"C2PA: {c2pa.state}, signed by {c2pa.signed_by or 'unknown'}"
    if c2pa.actions:
        line += f"; actions {', '.join(c2pa.actions)}"
    if c2pa.source_types:
        line += f"; source {', '.join(c2pa.source_types)}"
    if c2pa.failures:
        line += f"; problems: {', '.join(c2pa.failures)}"
    return line
