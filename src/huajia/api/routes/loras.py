"""LoRA files registered at run time (admins): each is checked against the model first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.schemas import Text
from huajia.auth.policy import require_admin
from huajia.errors import InvalidRequest
from huajia.jobs.lora_store import LoraRecord
from huajia.presets.model import NAME_PATTERN

router = APIRouter(tags=["service"])


class LoraByPath(BaseModel):
    """A file already inside one of the `lora_dirs` folders."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN.pattern, max_length=64)
    path: Text = Field(min_length=1, max_length=2000)


@router.get("/api/v1/loras", operation_id="listLoras", responses=ERROR_RESPONSES)
def list_loras(
    who: PrincipalDep, services: ServicesDep, include_retired: bool = False
) -> dict[str, Any]:
    """Registered LoRAs with their fit reports (admins see file paths)."""
    records = services.store.loras.list(include_retired=include_retired)
    return {"loras": [_lora_json(record, who.is_admin) for record in records]}


@router.post(
    "/api/v1/loras",
    operation_id="registerLora",
    status_code=201,
    responses=ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": LoraByPath.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "file"],
                        "properties": {
                            "name": {"type": "string"},
                            "file": {"type": "string", "format": "binary"},
                        },
                    }
                },
            }
        }
    },
)
async def register_lora(request: Request, who: PrincipalDep, services: ServicesDep) -> Any:
    """Register a .safetensors LoRA: JSON {name, path} or a multipart upload (name, file).

    A LoRA that does not wholly fit the model is refused (422 lora_misfit) with its report.
    """
    require_admin(who)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        name, upload = form.get("name"), form.get("file")
        if not isinstance(name, str) or not hasattr(upload, "file"):
            raise InvalidRequest("a multipart LoRA upload needs the fields name and file")
        record = await run_in_threadpool(
            services.loras.register_upload,
            who,
            name,
            upload.file,  # type: ignore[union-attr]
        )
    else:
        body = _by_path(await request.body())
        record = await run_in_threadpool(services.loras.register_path, who, body.name, body.path)
    return _lora_json(record, full=True)


@router.delete("/api/v1/loras/{name}", operation_id="retireLora", responses=ERROR_RESPONSES)
def retire_lora(
    who: PrincipalDep,
    services: ServicesDep,
    name: Annotated[str, Path(pattern=NAME_PATTERN.pattern, max_length=64)],
) -> dict[str, Any]:
    """Retire a LoRA (admins): refused for new requests; its file is left in place."""
    require_admin(who)
    return _lora_json(services.loras.retire(who, name), full=True)


def _by_path(raw: bytes) -> LoraByPath:
    try:
        return LoraByPath.model_validate_json(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg']}"
            for item in error.errors()
        )
        raise InvalidRequest(f"register a LoRA with JSON {{name, path}}: {problems}") from None


def _lora_json(record: LoraRecord, full: bool) -> dict[str, Any]:
    report = dict(record.report)
    if not full:
        report.pop("path", None)
    shown: dict[str, Any] = {
        "name": record.name,
        "identity": record.identity,
        "report": report,
        "created_at": record.created_at.isoformat(),
        "retired": record.retired,
    }
    if full:
        shown["path"] = record.path
    return shown
