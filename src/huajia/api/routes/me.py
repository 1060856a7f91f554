"""What follows an editor from browser to browser: the panel's preferences and the prompts
they used before (searchable, reusable in one click)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.schemas import Text

router = APIRouter(prefix="/api/v1/me", tags=["service"], responses=ERROR_RESPONSES)


class Prefs(BaseModel):
    """The panel's remembered choices (every field optional; unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    model: Text | None = Field(None, max_length=200, description="The model chosen last.")
    style: Text | None = Field(None, max_length=64)
    size: Text | None = Field(None, max_length=64)
    width: int | None = Field(None, ge=64, le=8192)
    height: int | None = Field(None, ge=64, le=8192)
    count: int | None = Field(None, ge=1, le=9)
    lang: Literal["zh-CN", "en"] | None = None
    steps: int | None = Field(None, ge=1, le=200)
    negative_prompt: Text | None = Field(None, max_length=2000)
    output_format: Literal["png", "webp", "jpeg"] | None = None


class HistoryItem(BaseModel):
    prompt: str
    style_preset: str | None
    last_used: datetime
    times: int


class History(BaseModel):
    prompts: list[HistoryItem]


@router.get("/prefs", operation_id="getMyPrefs", response_model=Prefs)
async def get_prefs(who: PrincipalDep, services: ServicesDep) -> Prefs:
    """The caller's saved panel preferences (empty before the first save)."""
    saved = await run_in_threadpool(services.store.prefs.get, who.key_id)
    return Prefs.model_validate(saved or {})


@router.put("/prefs", operation_id="putMyPrefs", response_model=Prefs)
async def put_prefs(body: Prefs, who: PrincipalDep, services: ServicesDep) -> Prefs:
    """Save the caller's panel preferences (the panel does this after each generation)."""
    await run_in_threadpool(
        services.store.prefs.put, who.key_id, body.model_dump(mode="json", exclude_none=True)
    )
    return body


@router.get("/history", operation_id="getMyHistory", response_model=History)
async def history(
    who: PrincipalDep,
    services: ServicesDep,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> History:
    """The caller's distinct prompts, most recently used first; `q` searches them."""
    found = await run_in_threadpool(services.store.prefs.history, who.key_id, q, limit)
    return History(
        prompts=[
            HistoryItem(prompt=e.prompt, style_preset=e.style_preset, last_used=e.last_used,
                        times=e.times)
            for e in found
        ]
    )  # fmt: skip
