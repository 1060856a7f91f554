"""The model revision a worker serves, and moving to a newer one between batches.

The worker claims only tasks pinned to the revision its engine holds. When a newer revision
is current and none of its own tasks wait, it loads the newer one beside the old (so a file
that fails to load leaves the old one serving), then drops the old. A failure is recorded on
the revision (health shows why) and the tasks pinned to it come back to the one still served.
A model held but not loaded (see shelf.py) just notes the newer revision; it loads on demand.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huajia.errors import HuajiaError
from huajia.jobs.revisions import ModelRevision
from huajia.jobs.store import TaskStore

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0  # a reload is announced (`check_now`); this is the fallback


class ServedRevision:
    def __init__(self, store: TaskStore, model: str, revision: ModelRevision | None,
                 engine: Any | None, load: Callable[[ModelRevision | None], Any],
                 check_seconds: float = CHECK_SECONDS) -> None:  # fmt: skip
        self.store = store
        self.model = model
        self.revision = revision
        self.engine = engine  # None while the model is held but not loaded
        self.error: str | None = None  # why the newest revision could not be loaded
        self._load = load
        self._check_seconds = check_seconds
        self._next_check = 0.0

    @property
    def revision_id(self) -> int | None:
        return self.revision.id if self.revision else None

    @property
    def resident(self) -> bool:
        """Whether the model is loaded (its engine on the device)."""
        return self.engine is not None

    def describe(self) -> dict[str, Any]:
        """What health shows of this worker's model (no server paths)."""
        engine = self.engine
        facts: dict[str, Any] = dict(engine.describe()) if engine is not None else {}
        facts["resident"] = engine is not None
        facts["revision"] = self.revision.identity if self.revision else None
        facts["reload_error"] = self.error
        return facts

    def load(self) -> Any:
        """The engine, loaded now on the revision held if it was not."""
        if self.engine is None:
            started = time.monotonic()
            self.engine = self._load(self.revision)
            log.info("model %s loaded in %.1f s", self.model, time.monotonic() - started)
        return self.engine

    def unload(self) -> None:
        """Drop the engine and give its device memory back (the model stays held)."""
        if self.engine is None:
            return
        self.engine = None
        gc.collect()
        _free_gpu_cache()
        log.info("model %s unloaded", self.model)

    def check_now(self) -> None:
        """A reload was announced: look for the newer revision at the next chance."""
        self._next_check = 0.0

    def newer(self) -> ModelRevision | None:
        """The current revision when it is not the one held (looked up once a second)."""
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self._check_seconds
        current = self.store.revisions.current(self.model)
        if current is None or current.id == self.revision_id:
            return None
        return current

    def switch(self, target: ModelRevision) -> bool:
        """Serve `target` from now on; False (old one kept, reason recorded) if it won't load."""
        if self.engine is None:  # not loaded: the next load reads the target's files
            self.revision, self.error = target, None
            return True
        held = self.revision
        if held is not None and (held.model_id, held.weights_id) == (
            target.model_id, target.weights_id,
        ):  # fmt: skip
            self.revision = target  # the same files under a newer number: nothing to load
            return True
        started = time.monotonic()
        try:
            engine = self._load(target)
        except Exception as error:  # a broken file: keep serving the old revision
            reason = error.message if isinstance(error, HuajiaError) else type(error).__name__
            if target.weights:  # health shows the reason: a file's name, never its path
                reason = reason.replace(target.weights, Path(target.weights).name)
            self.error = f"revision {target.id}: {reason}"
            log.error("could not load model revision %s: %s; still serving revision %s",
                      target.id, reason, self.revision_id)  # fmt: skip
            moved = self.store.revisions.failed(target.id, reason, self.revision_id)
            if moved:
                log.info("%d waiting tasks moved back to revision %s", len(moved),
                         self.revision_id)  # fmt: skip
            return False
        old, self.engine, self.revision, self.error = self.engine, engine, target, None
        del old
        gc.collect()
        _free_gpu_cache()
        log.info("model revision %s loaded in %.1f s", target.id, time.monotonic() - started)
        return True


def _free_gpu_cache() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a worker dependency
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
