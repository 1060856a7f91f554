"""Campaign batches: a CSV or XLSX sheet (or pasted lines) → one task per row; progress,
cancel, and a zip of the images with a manifest."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from huajia.api.batch_stream import batch_json, follow_batch
from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.hosts import public_base
from huajia.api.schemas import Text, no_control_characters
from huajia.api.streams import SlottedStream, StreamSlots
from huajia.errors import InvalidRequest
from huajia.generation.batch_sheet import (
    MAX_SHEET_BYTES,
    Sheet,
    read_items,
    read_lines,
    read_sheet,
)

router = APIRouter(prefix="/api/v1/batches", tags=["generate"], responses=ERROR_RESPONSES)


class BatchItemsIn(BaseModel):
    """JSON form: rows with the sheet's column names, or `lines` (one prompt per line)."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(None, max_length=200)
    webhook_url: Text | None = Field(
        None, max_length=2000, description="Signed `batch.completed` once every row ended."
    )
    items: list[dict[Text, Text | int | float | None]] | None = Field(None, max_length=500)
    lines: Text | None = Field(None, max_length=500_000)
    model: Text | None = Field(None, max_length=200, description="Every row's model (default).")


@dataclass(frozen=True)
class BatchIn:
    sheet: Sheet
    name: str
    webhook_url: str | None
    model: str | None


async def _sheet_of(request: Request) -> BatchIn:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _sheet_of_form(request)
    try:
        body = BatchItemsIn.model_validate_json(await request.body())
    except ValueError as error:
        raise InvalidRequest(
            f"expected JSON {{'items': [...]}} or {{'lines': '...'}}: {error}"
        ) from None
    name = body.name or "batch"
    if body.items is not None:
        sheet = read_items([dict(item) for item in body.items])
        return BatchIn(sheet, name, body.webhook_url, body.model)
    if body.lines is not None:
        return BatchIn(read_lines(body.lines), name, body.webhook_url, body.model)
    raise InvalidRequest("send 'items' (rows) or 'lines' (one prompt per line), or a sheet file")


async def _sheet_of_form(request: Request) -> BatchIn:
    # As a context manager, so the upload's temporary file is closed on a refusal too.
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidRequest("send the sheet in the multipart field 'file' (CSV or XLSX)")
        name = _text(form.get("name"), "name") or _file_name(upload.filename) or "batch"
        hook = _text(form.get("webhook_url"), "webhook_url")
        model = _text(form.get("model"), "model")
        data = await upload.read(MAX_SHEET_BYTES + 1)
        if len(data) > MAX_SHEET_BYTES:
            raise InvalidRequest(f"a sheet may be at most {MAX_SHEET_BYTES // 1024 // 1024} MiB")
        sheet = await run_in_threadpool(read_sheet, data, _file_name(upload.filename))
        return BatchIn(sheet, name[:200], hook, model)


def _text(value: object, field: str) -> str | None:
    """A form field as the JSON body's `Text`: control characters such as NUL refused."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return no_control_characters(value[:2000])
    except ValueError as problem:
        raise InvalidRequest(f"{field}: {problem}", param=field) from None


def _file_name(name: str | None) -> str | None:
    """The uploaded file's name, without control characters (a browser sends what it has)."""
    cleaned = "".join(char for char in name or "" if ord(char) >= 32 and char != "\x7f")
    return cleaned.strip() or None


@router.post(
    "",
    operation_id="createBatch",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string"},
                            "webhook_url": {"type": "string"},
                            "model": {"type": "string"},
                        },
                        "required": ["file"],
                    }
                },
                "application/json": {"schema": BatchItemsIn.model_json_schema()},
            }
        }
    },
)
async def create_batch(request: Request, who: PrincipalDep, services: ServicesDep
                       ) -> dict[str, Any]:  # fmt: skip
    """A CSV or XLSX sheet in field `file` (columns: prompt, style, size or slot, count,
    filename, alt; others ignored with a warning), or JSON `items` / `lines`; `model` for all
    rows (default: the default model; one nobody holds is refused). Every good row
    becomes a task (quotas and policy per row); each bad row says why, and sinks nothing else."""
    given = await _sheet_of(request)
    view = await run_in_threadpool(
        services.batches.submit, who, given.sheet, given.name, given.webhook_url, given.model
    )
    return batch_json(view)


@router.get("/{batch_id}", operation_id="getBatch")
async def get_batch(batch_id: str, who: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """The batch's rows: each one's state, images or error; counts per state."""
    return batch_json(await run_in_threadpool(services.batches.view, who, batch_id))


@router.get(
    "/{batch_id}/events",
    operation_id="streamBatchEvents",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
)
async def batch_events(batch_id: str, request: Request, who: PrincipalDep,
                       services: ServicesDep) -> StreamingResponse:  # fmt: skip
    """`batch` (the whole batch, as `GET` answers), then `row` each time a row's task changes
    state or a reviewer decides on its images (the row as in `rows`, with the batch's
    `counts`), then `finished` once every row has ended; the stream then closes."""
    view = await run_in_threadpool(services.batches.view, who, batch_id)
    streams: StreamSlots = request.app.state.streams
    slot = streams.take(who.key_id)  # 429 too_many_streams before the stream starts
    events = follow_batch(request, request.app.state.watcher, services.batches, view)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return SlottedStream(slot, events, media_type="text/event-stream", headers=headers)


@router.post("/{batch_id}/cancel", operation_id="cancelBatch")
async def cancel_batch(batch_id: str, who: PrincipalDep, services: ServicesDep
                       ) -> dict[str, Any]:  # fmt: skip
    """Stop every row still waiting or running; finished rows keep their images."""
    return batch_json(await run_in_threadpool(services.batches.cancel, who, batch_id))


@router.get(
    "/{batch_id}/zip",
    operation_id="downloadBatch",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def batch_zip(batch_id: str, request: Request, who: PrincipalDep, services: ServicesDep
                    ) -> StreamingResponse:  # fmt: skip
    """The batch's images (those editors may use) named by the sheet's filename column, with
    manifest.csv (file, row, prompt, seed, preset, alt_text, image_url) and errors.csv."""
    base = public_base(services.settings, request.app.state.allowed_hosts,
                       request.headers.get("host"), request.url.scheme)  # fmt: skip
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
    await run_in_threadpool(services.batches.write_zip, who, batch_id, spool, base)
    spool.seek(0)

    def chunks() -> Any:
        try:
            while block := spool.read(1024 * 1024):
                yield block
        finally:
            spool.close()

    stamp = datetime.now().strftime("%Y%m%d")
    headers = {"Content-Disposition": f'attachment; filename="huajia-batch-{stamp}.zip"'}
    return StreamingResponse(chunks(), media_type="application/zip", headers=headers)
