"""`huajia keys create | list | revoke`: API keys, shown once, stored hashed."""

from __future__ import annotations

from typing import Annotated

import typer

from huajia.cli.common import load_settings, one_line_errors

app = typer.Typer(help="API keys (stored hashed; a key is shown once).", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'cms-prod'.")],
    role: Annotated[str, typer.Option(help="editor, reviewer or admin.")] = "editor",
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    from huajia.auth.gate import remember_keys_exist
    from huajia.auth.keys import Role, generate_key, hash_key
    from huajia.composition import open_task_store

    with one_line_errors():
        if role not in {r.value for r in Role}:
            known = ", ".join(r.value for r in Role)
            raise typer.BadParameter(f"role must be one of {known}", param_hint="--role")
        settings = load_settings()
        store = open_task_store(settings)
        secret, prefix = generate_key()
        record = store.keys.create(name, Role(role), hash_key(secret), prefix)
        remember_keys_exist(settings.data_dir)
        store.audit("cli", "huajia keys", "key.create", record.id, {"name": name, "role": role})
        store.close()
    typer.echo(secret)
    typer.echo(
        f"created {role} key {record.id} ({name}); store it now, it is not shown again", err=True
    )


@app.command("list")
def list_keys() -> None:
    """Keys with their role, prefix and last use (never the secret)."""
    from huajia.composition import open_task_store

    with one_line_errors():
        store = open_task_store(load_settings())
        for key in store.keys.list(include_revoked=True):
            state = "revoked" if key.revoked_at else "active"
            used = key.last_used_at.isoformat() if key.last_used_at else "never"
            typer.echo(
                f"{key.id}  {key.prefix}…  {key.role:<6}  {state:<7}  used {used}  {key.name}"
            )
        store.close()


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see 'keys list').")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete all its tasks, images and bytes.")
    ] = False,
) -> None:
    """Revoke a key at once (with --purge, delete everything it made, for good)."""
    from huajia.composition import open_task_store

    with one_line_errors():
        settings = load_settings()
        store = open_task_store(settings)
        store.keys.revoke(key_id)
        store.audit("cli", "huajia keys", "key.revoke", key_id)
        if purge:
            from huajia.cli.purge import cli_principal
            from huajia.composition import image_store
            from huajia.generation.purge import Purger

            report = Purger(store, image_store(settings)).delete_owner(key_id, cli_principal())
            typer.echo(f"deleted {report.tasks} tasks and {report.blobs} files of {key_id}")
        store.close()
    typer.echo(f"revoked {key_id}")
