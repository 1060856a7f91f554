"""The `huajia` command: generate, edit, retouch, model, serve, worker, keys, inspect."""

from __future__ import annotations

import gc

import typer

from huajia.cli import edit, generate, inspect, keys, model, purge, reload, serve

app = typer.Typer(
    name="huajia",
    help="Huajia (画架): self-hosted Z-Image generation for content teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate.generate)
app.command("edit")(edit.edit)
app.command("retouch")(edit.retouch)
app.command("purge")(purge.purge)
app.command("reload")(reload.reload)
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
app.command("inspect")(inspect.inspect)
app.add_typer(model.app, name="model")
app.add_typer(keys.app, name="keys")


def main() -> None:
    try:
        app()
    finally:
        # Everything still alive now lives until the process ends: freezing it spares the
        # interpreter's last collections, over a second of CPU once torch, diffusers and
        # transformers are imported (a worker's stop, every command that generates).
        # Exit handlers and finalizers registered with weakref.finalize still run.
        gc.freeze()
