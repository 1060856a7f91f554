"""GET /v1/models: the served models in the OpenAI Models API shape.

An OpenAI SDK's `models.list()` shows which names `images.generate(model=...)` accepts here;
the default model comes first.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from huajia.api.deps import PrincipalDep, Services, ServicesDep
from huajia.api.errors import OPENAI_ERROR_RESPONSES
from huajia.errors import ModelNotFound

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERROR_RESPONSES)


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "huajia"


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


def _models(services: Services) -> list[OpenAIModel]:
    """Every served model; `created`: when its current revision was recorded (a reload moves
    it), so a client sees that the weights behind a name changed."""
    found = []
    for name in services.generation.models:
        current = services.store.revisions.current(name)
        created = int(current.created_at.timestamp()) if current is not None else 0
        found.append(OpenAIModel(id=name, created=created))
    return found


@router.get("/models", operation_id="openaiListModels", response_model=OpenAIModelList)
async def list_models(_who: PrincipalDep, services: ServicesDep) -> OpenAIModelList:
    """The served models, the default first (richer facts: GET /api/v1/models)."""
    return OpenAIModelList(data=await run_in_threadpool(_models, services))


@router.get(
    "/models/{model_id:path}", operation_id="openaiRetrieveModel", response_model=OpenAIModel
)
async def retrieve_model(model_id: str, _who: PrincipalDep, services: ServicesDep) -> OpenAIModel:
    """One served model by name; 404 `model_not_found` for any other."""
    for model in await run_in_threadpool(_models, services):
        if model.id == model_id:
            return model
    raise ModelNotFound(f"model {model_id!r} is not served here", param="model")
