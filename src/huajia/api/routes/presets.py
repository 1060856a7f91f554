"""Style presets managed at run time: read one with its versions; admins create, edit, retire.

`GET /api/v1/presets` (the panel's catalog) lives in meta.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.jobs.preset_store import PresetVersion
from huajia.presets.model import NAME_PATTERN, StyleFields, StylePreset
from huajia.presets.registry import style_json

router = APIRouter(tags=["service"])
PresetName = Annotated[str, Path(pattern=NAME_PATTERN.pattern, max_length=64)]


@router.get("/api/v1/presets/{name}", operation_id="getPreset", responses=ERROR_RESPONSES)
def get_preset(name: PresetName, _who: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """A style preset's current version (retired ones too) and every earlier version."""
    versions = services.store.presets.versions(name)
    return {**style_json(versions[-1]), "versions": [_version_json(v) for v in versions]}


@router.post(
    "/api/v1/presets", operation_id="createPreset", status_code=201, responses=ERROR_RESPONSES
)
def create_preset(body: StylePreset, who: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """A new style preset (admins): usable by the next request, on every API process."""
    return style_json(services.preset_admin.create(who, body))


@router.put("/api/v1/presets/{name}", operation_id="updatePreset", responses=ERROR_RESPONSES)
def update_preset(
    name: PresetName, body: StyleFields, who: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    """A new version of a preset (admins); a retired preset edited this way is back in use."""
    preset = StylePreset.model_validate({**body.model_dump(), "name": name})
    return style_json(services.preset_admin.update(who, preset))


@router.delete("/api/v1/presets/{name}", operation_id="retirePreset", responses=ERROR_RESPONSES)
def retire_preset(name: PresetName, who: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Retire a preset (admins): refused for new requests; earlier tasks keep showing it."""
    return style_json(services.preset_admin.retire(who, name))


def _version_json(version: PresetVersion) -> dict[str, Any]:
    return {
        **style_json(version),
        "created_at": version.created_at.isoformat(),
        "actor": version.actor,
    }
