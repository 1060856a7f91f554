"""The `huajia` command: generate, edit, retouch, model, serve, worker, keys, inspect."""

from __future__ import annotations

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
    app()
