"""Taking up new weights, a changed model folder or changed LoRA files without a restart.

`huajia reload` (or `POST /api/v1/admin/reload`) records a new model revision when the model's
files or the weights changed, and re-reads every registered LoRA file. With several models
served, a reload names one (the default when it names none): only that model's revision moves,
and only workers' copies of that model load anew. Tasks submitted from
then on are pinned to the new revision; workers finish the tasks of the revision they hold,
then load the new one (a file that fails to load leaves them serving the old one, and health
says why). No torch here: the API process runs this too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huajia.auth.keys import Principal
from huajia.auth.policy import require_admin
from huajia.engine.models import ModelSpec
from huajia.engine.weights import read_headers, split_components
from huajia.errors import ModelFileRejected, ModelNotAvailable, PathNotAllowed
from huajia.generation.cache import model_identity, weights_identity
from huajia.jobs.notify import REVISION
from huajia.jobs.revisions import ModelRevision
from huajia.jobs.store import TaskStore
from huajia.presets.lora_registry import LoraRegistry


@dataclass(frozen=True)
class ReloadReport:
    model: str
    revision: ModelRevision | None
    changed: bool
    loras_changed: list[str] = field(default_factory=list)
    loras_refused: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "revision": self.revision.identity if self.revision else None,
            "changed": self.changed,
            "loras_changed": self.loras_changed,
            "loras_refused": self.loras_refused,
        }


def seed_revision(store: TaskStore, spec: ModelSpec, weights: Path | None) -> ModelRevision:
    """At start (API or worker): the settings' model and weights become a revision when they
    changed since the settings last said so; a reload made since then stays in force."""
    path = str(weights.resolve()) if weights is not None else None
    return store.revisions.seed(spec.name, model_identity(spec.source), path,
                                weights_identity(weights))  # fmt: skip


class ModelReloads:
    """Reloads of the served models: `spec` is the default, `others` the rest."""

    def __init__(self, store: TaskStore, spec: ModelSpec, loras: LoraRegistry,
                 weights_folders: list[Path] | None = None,
                 others: Sequence[ModelSpec] = ()) -> None:  # fmt: skip
        self.store = store
        self.spec = spec
        self.specs = {served.name: served for served in (spec, *others)}
        self.loras = loras
        # None: any path (the operator's command line); else weights must be inside these.
        self.weights_folders = (
            [folder.resolve() for folder in weights_folders] if weights_folders is not None
            else None
        )  # fmt: skip

    def seed(self, weights: Path | None) -> ModelRevision:
        return seed_revision(self.store, self.spec, weights)

    def spec_for(self, model: str | None) -> ModelSpec:
        """The served model named (by name or source; None: the default); a model not served
        here is refused with the served ones listed."""
        if model is None:
            return self.spec
        for spec in self.specs.values():
            if model in (spec.name, spec.source):
                return spec
        listed = ", ".join(self.specs)
        raise ModelNotAvailable(f"model {model!r} is not served here; served models: {listed}")

    def reload(self, who: Principal, weights: str | None = None, clear_weights: bool = False,
               model: str | None = None) -> ReloadReport:  # fmt: skip
        """Record what the model's files, the weights and the LoRA files are now (the model
        named, else the default; the LoRA files are shared by every model)."""
        require_admin(who)
        spec = self.spec_for(model)
        current = self.store.revisions.current(spec.name)
        path = None if clear_weights else (weights or (current.weights if current else None))
        checked = self._checked(Path(path)) if path else None
        model_id = model_identity(spec.source)
        weights_id = weights_identity(checked)
        changed_loras, refused = self.loras.refresh(who)
        text = str(checked) if checked is not None else None
        if current is not None and (current.model_id, current.weights, current.weights_id) == (
            model_id, text, weights_id,
        ):  # fmt: skip
            return ReloadReport(spec.name, current, False, changed_loras, refused)
        revision = self.store.revisions.add(
            spec.name, model_id, text, weights_id, "reload", who.key_id
        )
        detail = {"revision": revision.id, "weights": weights_id, "model_id": model_id}
        self.store.audit(who.key_id, who.name, "model.reload", spec.name, detail)
        self.store.notifier.announce(REVISION, spec.name)  # its holders and our reads switch now
        return ReloadReport(spec.name, revision, True, changed_loras, refused)

    def _checked(self, path: Path) -> Path:
        """A readable safetensors file with transformer weights (the worker checks the fit)."""
        try:
            resolved = path.expanduser().resolve()
        except (ValueError, OSError, RuntimeError):  # a NUL, a symlink loop
            raise PathNotAllowed(f"{str(path)[:200]!r} is not a usable file path") from None
        if self.weights_folders is not None and not any(
            resolved.is_relative_to(folder) for folder in self.weights_folders
        ):  # refused before anything is read: an HTTP caller learns nothing about the file
            raise PathNotAllowed(
                "weights files must be inside one of the server's weights_dirs folders: "
                "put the file there and give its path"
            )
        headers, _ = read_headers(resolved)
        if not split_components(headers).transformer:
            raise ModelFileRejected(f"{resolved.name} holds no transformer weights")
        return resolved
