"""Style presets as the service uses them: read from the database on every request.

Reading the named preset is one indexed query, so a preset an admin creates or edits is used
by the next request on every API process, without a restart. Size presets (CMS slots) still
come from the TOML catalog. The TOML files seed the database: presets whose names are not
there yet are inserted at start; presets already there are never overwritten.
"""

from __future__ import annotations

import math
from typing import Any

from huajia.engine.models import ModelDefaults, ModelLimits
from huajia.errors import PresetRetired, UnknownPreset
from huajia.jobs.preset_store import PresetStore, PresetVersion
from huajia.presets.catalog import PresetCatalog
from huajia.presets.model import ExpandedPrompt, StylePreset, expand

SEED_ACTOR = "presets-file"


class PresetRegistry:
    """The current style presets (database) and size presets (catalog)."""

    def __init__(self, store: PresetStore, catalog: PresetCatalog) -> None:
        self.store = store
        self.catalog = catalog

    def seed(self) -> list[str]:
        """Insert the catalog's styles not yet in the database; returns their names."""
        return self.store.seed(self.catalog.styles.values(), SEED_ACTOR)

    def choose(self, name: str | None) -> PresetVersion | None:
        """The preset a new request names, with its version; retired ones are refused."""
        if name is None:
            return None
        found = self.store.current(name)
        if found is None:
            known = ", ".join(version.preset.name for version in self.store.list()) or "none"
            raise UnknownPreset(f"unknown style preset {name!r}; known style presets: {known}")
        if found.retired:
            raise PresetRetired(
                f"style preset {name!r} was retired; its earlier images stay, "
                "new requests pick another style"
            )
        return found

    def expand(self, preset: StylePreset, prompt: str) -> ExpandedPrompt:
        return expand(preset, prompt)

    def describe(
        self, limits: ModelLimits, defaults: ModelDefaults, include_retired: bool = False
    ) -> dict[str, Any]:
        """The panel's catalog: current styles (with versions), sizes scaled to the model."""
        return {
            "presets": [style_json(v) for v in self.store.list(include_retired=include_retired)],
            "sizes": self.sizes(limits, defaults),
        }

    def sizes(self, limits: ModelLimits, defaults: ModelDefaults) -> list[dict[str, Any]]:
        """The CMS size presets scaled to one model (each served model has its own)."""
        base = round(math.sqrt(defaults.width * defaults.height))
        sizes = self.catalog.sizes_for(limits.max_size, limits.min_size, limits.size_multiple, base)
        return [size.model_dump() for size in sizes]


def style_json(version: PresetVersion) -> dict[str, Any]:
    """A preset as the panel and admin page read it."""
    style = version.preset
    described = style.model_dump(exclude={"defaults"})
    described["defaults"] = style.defaults.given()
    described["version"] = version.version
    described["retired"] = version.retired
    return described
