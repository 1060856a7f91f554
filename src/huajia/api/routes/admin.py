"""Live model changes for admins: new weights, a changed model folder, changed LoRA files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.schemas import Text
from huajia.auth.policy import require_admin

router = APIRouter(prefix="/api/v1/admin", tags=["service"], responses=ERROR_RESPONSES)


class ReloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: Text | None = Field(
        None,
        max_length=2000,
        description="A .safetensors file inside weights_dirs to serve from now on "
        "(default: the weights served now, re-read).",
    )
    clear_weights: bool = Field(False, description="Serve the model without fine-tuned weights.")
    model: Text | None = Field(
        None,
        max_length=200,
        description="The served model to reload (name or source; default: the default model). "
        "Only workers' copies of that model load anew.",
    )


@router.post("/reload", operation_id="reloadModel")
async def reload_model(body: ReloadIn, who: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Take up new weights, a changed model folder or changed LoRA files without a restart:
    tasks submitted from now on use them; workers finish what they hold, then load them (a
    file that fails to load leaves them serving the old one, and health says why). With
    several models served, `model` names the one to reload; a model not served here is
    refused with 422 `model_not_available`."""
    report = await run_in_threadpool(
        services.reloads.reload, who, body.weights, body.clear_weights, body.model
    )
    return report.summary()


@router.get("/revisions", operation_id="listModelRevisions")
async def revisions(
    who: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    model: Annotated[
        Text | None,
        Query(max_length=200, description="A served model (default: the default model)."),
    ] = None,
) -> dict[str, Any]:
    """A model's revisions, newest first: what each served, and why one failed to load
    (422 `model_not_available` for a model not served here)."""
    require_admin(who)
    name = services.reloads.spec_for(model).name
    found = await run_in_threadpool(services.store.revisions.history, name, limit)
    return {
        "model": name,
        "revisions": [
            {**revision.identity, "source": revision.source, "created_at": revision.created_at}
            for revision in found
        ],
    }
