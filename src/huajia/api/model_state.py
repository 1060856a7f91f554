"""Each served model's state, read from what live workers declare: who holds it, who has it
loaded, and how many tasks wait for it."""

from __future__ import annotations

from typing import Any


def holds(worker: dict[str, Any], model: str) -> bool:
    return model in worker.get("models", [worker.get("model")])


def has_loaded(worker: dict[str, Any], model: str) -> bool:
    """A ready (or busy) worker with the model's engine on its device."""
    if worker.get("state") not in ("ready", "busy") or not holds(worker, model):
        return False
    per_model = (worker.get("engine") or {}).get("models")
    if not isinstance(per_model, dict):  # a one-model worker of an older release
        return True
    return bool((per_model.get(model) or {}).get("resident"))


def model_states(served: list[str], workers: list[dict[str, Any]], pending: dict[str, int],
                 revisions: dict[str, dict[str, Any]] | None = None
                 ) -> list[dict[str, Any]]:  # fmt: skip
    """One entry per served model, the default first (with its revision state when given:
    `revision` and `reload_error`, see meta.revision_state)."""
    revisions = revisions or {}
    return [
        {
            **revisions.get(name, {}),
            "name": name,
            "default": index == 0,
            "held": any(holds(worker, name) for worker in workers),
            "workers": sum(holds(worker, name) for worker in workers),
            "loaded_on": sum(has_loaded(worker, name) for worker in workers),
            "pending": pending.get(name, 0),
        }
        for index, name in enumerate(served)
    ]
