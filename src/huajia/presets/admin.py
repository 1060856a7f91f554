"""Admins create, edit and retire style presets; each change is checked, versioned, audited."""

from __future__ import annotations

from huajia.auth.keys import Principal
from huajia.auth.policy import require_admin
from huajia.engine.models import ModelLimits
from huajia.errors import InvalidRequest
from huajia.jobs.preset_store import PresetVersion
from huajia.jobs.store import TaskStore
from huajia.presets.model import StylePreset


class PresetAdmin:
    """The write side of style presets (the read side is PresetRegistry)."""

    def __init__(self, store: TaskStore, limits: ModelLimits) -> None:
        self.store = store
        self.limits = limits

    def create(self, who: Principal, preset: StylePreset) -> PresetVersion:
        self._check(who, preset)
        return self._audited(who, "preset.create", self.store.presets.create(preset, who.key_id))

    def update(self, who: Principal, preset: StylePreset) -> PresetVersion:
        self._check(who, preset)
        return self._audited(who, "preset.update", self.store.presets.update(preset, who.key_id))

    def retire(self, who: Principal, name: str) -> PresetVersion:
        require_admin(who)
        return self._audited(who, "preset.retire", self.store.presets.retire(name, who.key_id))

    def _check(self, who: Principal, preset: StylePreset) -> None:
        """Nothing is written unless the preset's LoRA is registered and its size fits."""
        require_admin(who)
        if preset.lora is not None:
            record = self.store.loras.get(preset.lora)
            if record is None or record.retired:
                known = ", ".join(r.name for r in self.store.loras.list()) or "none registered"
                raise InvalidRequest(f"unknown LoRA {preset.lora!r} (available: {known})")
        for side in ("width", "height"):
            value = getattr(preset.defaults, side)
            if value is not None:
                self._check_side(side, value)

    def _check_side(self, side: str, value: int) -> None:
        limits = self.limits
        if not limits.min_size <= value <= limits.max_size or value % limits.size_multiple:
            raise InvalidRequest(
                f"defaults.{side} {value}: this model takes {limits.min_size}-{limits.max_size} "
                f"pixels in steps of {limits.size_multiple}"
            )

    def _audited(self, who: Principal, action: str, version: PresetVersion) -> PresetVersion:
        facts = {"version": version.version}
        self.store.audit(who.key_id, who.name, action, version.preset.name, facts)
        return version
