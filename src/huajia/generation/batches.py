"""Campaign batches: one task per row of a sheet, each through the ordinary submit (so quotas,
rate limits, prompt policy and review apply per image), a row's failure its own; then the
batch's progress, cancel, and a zip of its images with a manifest.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from typing import IO

from huajia.auth.keys import Principal
from huajia.auth.policy import can_view
from huajia.engine.models import ModelSpec
from huajia.errors import Forbidden, HuajiaError, NotFound
from huajia.generation.batch_sheet import Sheet, SheetRow
from huajia.generation.service import GenerationService
from huajia.jobs.batch_store import Batch, BatchLine, RowState
from huajia.jobs.model import ImageRecord, Task, TaskState, is_record_id
from huajia.jobs.requests import GenerationCommand
from huajia.jobs.store import TaskStore
from huajia.storage.base import BlobStore

MANIFEST_FIELDS = ("file", "row", "prompt", "seed", "preset", "alt_text", "image_url")


@dataclass(frozen=True)
class LineState:
    line: BatchLine
    task: Task | None

    @property
    def state(self) -> str:
        if self.line.error is not None:
            return "error"
        return self.task.state.value if self.task is not None else "deleted"


@dataclass(frozen=True)
class BatchView:
    batch: Batch
    lines: list[LineState]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for line in self.lines:
            counted[line.state] = counted.get(line.state, 0) + 1
        return counted

    @property
    def finished(self) -> bool:
        return all(line.task is None or line.task.state.terminal for line in self.lines)


class BatchService:
    def __init__(self, store: TaskStore, generation: GenerationService, blobs: BlobStore) -> None:
        self.store = store
        self.generation = generation
        self.blobs = blobs

    def submit(self, who: Principal, sheet: Sheet, name: str, webhook_url: str | None = None,
               model: str | None = None) -> BatchView:  # fmt: skip
        """Queue one task per good row of `model` (default: the default model); bad rows and
        refused ones keep their reason. With a `webhook_url`, a signed `batch.completed`
        follows once every row has ended. A model nobody holds refuses the whole batch."""
        spec = self.generation.model_for(model).spec
        # Refused while not even the smallest row could be queued (the rate, quota or queue,
        # counted per row as it is submitted), before the webhook's host is resolved.
        counts = [row.count for row in sheet.rows if row.error is None]
        self.generation.look_ahead(who, min(counts, default=0))
        if webhook_url is not None:
            self.generation.check_webhook(webhook_url)
        batch = self.store.batches.create(who.key_id, name, sheet.warnings, webhook_url)
        slots = self._slots(spec)
        lines = []
        for row in sheet.rows:
            lines.append(self._submit_row(who, batch.id, row, slots, model))
        self.store.batches.add_lines(batch.id, lines)
        return self.view(who, batch.id)

    def view(self, who: Principal, batch_id: str) -> BatchView:
        return self._view(self._own(who, batch_id))

    def _view(self, batch: Batch) -> BatchView:
        states = [LineState(line, self._task(line.task_id)) for line in batch.lines]
        return BatchView(batch, states)

    def row_states(self, batch_id: str) -> dict[int, RowState]:
        """What a follower (already allowed to see the batch) compares between two looks."""
        return self.store.batches.row_states(batch_id)

    def lines(self, batch_id: str, rows: Collection[int]) -> list[LineState]:
        """Those rows as they are now (the ones a follower saw change)."""
        batch = self.store.batches.get(batch_id)
        return [LineState(line, self._task(line.task_id)) for line in batch.lines
                if line.row in rows]  # fmt: skip

    def cancel(self, who: Principal, batch_id: str) -> BatchView:
        """Stop every task of the batch that has not finished (running ones at their next
        step); finished rows keep their images."""
        view = self.view(who, batch_id)
        self.store.batches.mark_canceled(batch_id)
        for line in view.lines:
            if line.task is not None and not line.task.state.terminal:
                self.generation.cancel(who, line.task.id)
        return self.view(who, batch_id)

    def write_zip(self, who: Principal, batch_id: str, out: IO[bytes], base_url: str) -> int:
        """The batch's images (those editors may use) and manifest.csv; how many images."""
        view = self.view(who, batch_id)
        manifest = io.StringIO()
        writer = csv.DictWriter(manifest, MANIFEST_FIELDS)
        writer.writeheader()
        errors = io.StringIO()
        error_writer = csv.writer(errors)
        error_writer.writerow(["row", "prompt", "error"])
        written, names = 0, set[str]()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for line in view.lines:
                if line.line.error is not None:
                    error_writer.writerow([line.line.row, line.line.prompt, line.line.error])
                    continue
                if line.task is None or line.task.state is not TaskState.COMPLETED:
                    continue
                images = sorted(line.task.images, key=lambda image: image.index)
                for image in images:
                    if not image.publishable:
                        continue
                    name = _file_name(line.line, image, len(images))
                    if name in names:  # two rows asked for the same file name
                        name = f"row{line.line.row:03d}-{name}"
                    names.add(name)
                    archive.writestr(name, self.blobs.get(image.key))
                    writer.writerow({
                        "file": name, "row": line.line.row, "prompt": line.line.prompt,
                        "seed": image.seed, "preset": line.task.request.style_preset or "",
                        "alt_text": line.line.alt or "",
                        "image_url": f"{base_url}/generated-images/{image.key}",
                    })  # fmt: skip
                    written += 1
            archive.writestr("manifest.csv", manifest.getvalue().encode("utf-8-sig"))
            if any(line.line.error for line in view.lines):
                archive.writestr("errors.csv", errors.getvalue().encode("utf-8-sig"))
        return written

    def announce_finished(self) -> int:
        """Queue `batch.completed` for every finished batch that asked for it; how many."""
        announced = 0
        for batch_id in self.store.batches.finished_unannounced():
            view = self._view(self.store.batches.get(batch_id))
            payload = {
                "event": "batch.completed",
                "batch": {
                    "batch_id": batch_id, "name": view.batch.name, "counts": view.counts(),
                    "canceled": view.batch.canceled_at is not None,
                    "zip_url": f"/api/v1/batches/{batch_id}/zip",
                },
            }  # fmt: skip
            announced += self.store.batches.announce(batch_id, "batch.completed", payload)
        return announced

    def _submit_row(
        self, who: Principal, batch_id: str, row: SheetRow, slots: dict[str, tuple[int, int]],
        model: str | None = None,
    ) -> BatchLine:  # fmt: skip
        line = BatchLine(row.row, row.prompt, None, row.style, row.filename, row.alt, row.error)
        if row.error is not None:
            return line
        width, height = row.width, row.height
        if row.slot is not None:
            if row.slot not in slots:
                known = ", ".join(sorted(slots))
                return _failed(line, f"unknown slot {row.slot!r} (slots: {known})")
            width, height = slots[row.slot]
        command = GenerationCommand(
            prompt=row.prompt, style_preset=row.style, num_images=row.count, width=width,
            height=height, model=model,
        )  # fmt: skip
        key = f"batch-{batch_id}-{row.row}"
        try:
            submitted = self.generation.submit(who, command, key)
        except HuajiaError as error:
            return _failed(line, f"{error.code}: {error.message}")
        return BatchLine(row.row, row.prompt, submitted.task.id, row.style, row.filename, row.alt)

    def _slots(self, spec: ModelSpec) -> dict[str, tuple[int, int]]:
        sizes = self.generation.presets.describe(spec.limits, spec.defaults)["sizes"]
        return {size["name"]: (size["width"], size["height"]) for size in sizes}

    def _own(self, who: Principal, batch_id: str) -> Batch:
        if not is_record_id(batch_id):
            raise NotFound(f"no batch {batch_id!r}")
        batch = self.store.batches.get(batch_id)
        if not can_view(who, batch.owner):
            raise Forbidden("this batch belongs to another API key")
        return batch

    def _task(self, task_id: str | None) -> Task | None:
        if task_id is None:
            return None
        try:
            return self.store.get(task_id)
        except NotFound:
            return None


def _failed(line: BatchLine, error: str) -> BatchLine:
    return BatchLine(line.row, line.prompt, None, line.style, line.filename, line.alt, error)


def _file_name(line: BatchLine, image: ImageRecord, count: int) -> str:
    extension = {"jpeg": "jpg"}.get(image.format, image.format)
    stem = line.filename.rsplit(".", 1)[0] if line.filename else f"row{line.row:03d}"
    suffix = f"-{image.index + 1}" if count > 1 else ""
    return f"{stem}{suffix}.{extension}"
