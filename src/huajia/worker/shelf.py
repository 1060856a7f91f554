"""The models one worker holds, and which of them are loaded (resident) on its device.

Residency `all` keeps every held model loaded. `lru` keeps `resident_models` loaded and, to
load another on demand, first unloads the least recently used one (one GPU rarely fits more).
Claims prefer tasks of the loaded models, since a switch costs a load; but after
`switch_after` batches in a row of loaded models, tasks of the unloaded ones are tried first,
so a waiting model is served within a bounded number of batches (it never starves).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

from huajia.jobs.model import Holding
from huajia.jobs.revisions import ModelRevision
from huajia.worker.revisions import ServedRevision

log = logging.getLogger(__name__)

Residency = Literal["all", "lru"]


class ModelShelf:
    """Held models by name (the first is the default), loaded on demand, unloaded by policy."""

    def __init__(self, served: Sequence[ServedRevision], residency: Residency = "all",
                 resident_models: int = 1, switch_after: int = 4) -> None:  # fmt: skip
        if not served:
            raise ValueError("a worker holds at least one model")
        self._held = {item.model: item for item in served}
        self.residency = residency
        self.limit = len(self._held) if residency == "all" else max(1, resident_models)
        self.switch_after = switch_after
        self._used: dict[str, float] = {}  # last use of each loaded model (monotonic)
        self._streak = 0  # batches in a row of loaded models while others are held unloaded
        self.loads = 0  # engines loaded on demand since start
        self.unloads = 0

    @property
    def names(self) -> list[str]:
        return list(self._held)

    @property
    def default(self) -> ServedRevision:
        return next(iter(self._held.values()))

    def served(self, model: str) -> ServedRevision:
        return self._held[model]

    def resident(self) -> list[str]:
        return [name for name, item in self._held.items() if item.resident]

    def load_at_start(self) -> None:
        """Load as many models as the policy keeps (the default first)."""
        for name in self.names[: self.limit]:
            self.engine_for(name)

    def claim_order(self) -> list[list[Holding]]:
        """The claims to try in turn: loaded models first, unless the others' turn has come."""
        loaded = [self._holding(item) for item in self._held.values() if item.resident]
        unloaded = [self._holding(item) for item in self._held.values() if not item.resident]
        if not loaded or not unloaded:
            return [loaded + unloaded]
        if self._streak >= self.switch_after:
            return [unloaded, loaded]
        return [loaded, unloaded]

    def claimed(self, model: str) -> None:
        """Count a claimed batch towards the unloaded models' turn."""
        all_loaded = len(self.resident()) == len(self._held)
        if all_loaded or not self._held[model].resident or self._streak >= self.switch_after:
            self._streak = 0  # a switch, or the unloaded models had nothing waiting
        else:
            self._streak += 1

    def engine_for(self, model: str) -> Any:
        """The model's engine, loaded now (after making room) if it is not."""
        item = self._held[model]
        if not item.resident:
            self._make_room(model)
            item.load()
            self.loads += 1
        self._used[model] = time.monotonic()
        return item.engine

    def newer(self) -> list[tuple[ServedRevision, ModelRevision]]:
        """Held models whose current revision is not the one held."""
        found = []
        for item in self._held.values():
            target = item.newer()
            if target is not None:
                found.append((item, target))
        return found

    def describe(self) -> dict[str, Any]:
        """What health shows: the device facts of a loaded engine, and each model's state."""
        models = {name: item.describe() for name, item in list(self._held.items())}
        default = models[self.default.model]
        loaded = [facts for facts in models.values() if facts["resident"]]
        facts: dict[str, Any] = dict(default if default["resident"] or not loaded else loaded[0])
        facts["models"] = {
            name: {key: facts_of.get(key) for key in ("resident", "revision", "reload_error")}
            for name, facts_of in models.items()
        }
        facts["residency"] = self.residency
        return facts

    def _make_room(self, model: str) -> None:
        loaded = [item for item in self._held.values() if item.resident and item.model != model]
        while loaded and len(loaded) >= self.limit:
            victim = min(loaded, key=lambda item: self._used.get(item.model, 0.0))
            log.info("unloading model %s (least recently used) to load %s", victim.model, model)
            victim.unload()
            loaded.remove(victim)
            self.unloads += 1

    @staticmethod
    def _holding(item: ServedRevision) -> Holding:
        return Holding(item.model, item.revision_id)
