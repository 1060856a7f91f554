"""`huajia purge`: delete what the retention rule says is old, and finish owed deletions."""

from __future__ import annotations

from typing import Annotated

import typer

from huajia.auth.keys import Principal, Role
from huajia.cli.common import load_settings, one_line_errors


def cli_principal() -> Principal:
    """Who the audit trail names for work done from this machine's command line."""
    return Principal(key_id="cli", name="huajia command line", role=Role.ADMIN)


def purge(
    pause: Annotated[
        float,
        typer.Option(help="Seconds to wait after each deletion, to go easy on a busy store."),
    ] = 0.0,
) -> None:
    """Delete tasks older than retention_days (with their images and bytes) and finish any
    deletion a stopped process left owed. Safe to run at any time, and again."""
    from huajia.composition import image_store, open_task_store
    from huajia.generation.purge import Purger

    with one_line_errors():
        settings = load_settings()
        store = open_task_store(settings)
        try:
            purger = Purger(store, image_store(settings), settings.retention_days)
            report = purger.expire(pause_s=pause)
        finally:
            store.close()
    kept = (
        f"retention {settings.retention_days:g} days"
        if settings.retention_days
        else "no retention_days set: tasks are kept"
    )
    typer.echo(f"deleted {report.tasks} tasks and {report.blobs} files ({kept})")
