"""Submitting and managing generation tasks: what the HTTP routes call (no torch here)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from huajia.api.schemas import GenerateRequest, is_record_id
from huajia.auth.keys import Principal
from huajia.auth.policy import can_view, check_priority
from huajia.engine.checks import resolve_request
from huajia.engine.models import ModelSpec
from huajia.engine.tokens import PromptMeter
from huajia.engine.types import GenerationRequest, LoraRef, ResolvedRequest
from huajia.errors import (
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    PromptTooLong,
    TaskNotFound,
    UnknownModel,
)
from huajia.generation.cache import cache_key
from huajia.jobs.admission import Admission, Quota
from huajia.jobs.model import NewImage, NewTask, Priority, Task
from huajia.jobs.store import TaskStore
from huajia.outbound import OutboundPolicy, check_webhook_target
from huajia.presets.catalog import PresetCatalog

QUOTA_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ServedModel:
    """The model the workers run, with what the API needs to check requests against it."""

    spec: ModelSpec
    model_id: str
    weights_id: str | None
    lora_ids: dict[str, str]
    meter: PromptMeter


@dataclass(frozen=True)
class Submitted:
    task: Task
    created: bool


class GenerationService:
    """Validates, records and answers; the worker does the rest."""

    def __init__(self, store: TaskStore, model: ServedModel, presets: PresetCatalog,
                 queue_max: int, max_attempts: int, webhooks: OutboundPolicy | None = None,
                 daily_image_quota: int | None = None) -> None:  # fmt: skip
        self.store = store
        self.model = model
        self.presets = presets
        self.queue_max = queue_max
        self.max_attempts = max_attempts
        self.webhooks = webhooks
        self.daily_image_quota = daily_image_quota

    def submit(
        self, who: Principal, body: GenerateRequest, idempotency_key: str | None
    ) -> Submitted:
        """Check the request, answer from the cache where allowed, else queue it."""
        priority = Priority(body.priority)
        check_priority(who, priority.value)
        self._check_model(body.model)
        if body.webhook_url is not None:
            self._check_webhook(str(body.webhook_url))
        resolved = self._resolve(body)
        request = _stored_request(body, resolved, self.model.spec.name)
        key = self._cache_key(who, body, resolved)
        new = NewTask(
            owner=who.key_id, priority=priority, request=request,
            idempotency_key=idempotency_key, cache_key=key, max_attempts=self.max_attempts,
            batch_key=self._batch_key(resolved), image_count=resolved.n,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
        )  # fmt: skip
        if idempotency_key is not None:
            existing = self.store.find_by_idempotency_key(who.key_id, idempotency_key)
            if existing is not None:
                return Submitted(_same_request(existing, request, idempotency_key), created=False)
        cached = self.store.find_cached(key) if key is not None else None
        if cached is not None:
            task = self.store.create_completed(new, _copies(cached))
            self._audit(who, "task.create", task, cached=True)
            return Submitted(task, created=True)
        task = self.store.create(new, self._admission(who))
        if idempotency_key is not None and task.request != request:
            # A concurrent request with the same Idempotency-Key won the insert.
            return Submitted(_same_request(task, request, idempotency_key), created=False)
        self._audit(who, "task.create", task, cached=False)
        return Submitted(task, created=True)

    def get(self, who: Principal, task_id: str) -> Task:
        if not is_record_id(task_id):
            raise TaskNotFound(f"no task {task_id!r}")
        task = self.store.get(task_id)
        if not can_view(who, task.owner):
            raise Forbidden("this task belongs to another API key")
        return task

    def cancel(self, who: Principal, task_id: str) -> Task:
        before = self.get(who, task_id)
        task = self.store.request_cancel(task_id)
        if not before.state.terminal:
            self._audit(who, "task.cancel", task, was=before.state.value)
        return task

    def _audit(self, who: Principal, action: str, task: Task, **detail: Any) -> None:
        """Who did what to which task (never the prompt: it may be confidential)."""
        facts = {"num_images": task.image_count, "priority": task.priority.value, **detail}
        self.store.audit(who.key_id, who.name, action, task.id, facts)

    def _check_webhook(self, url: str) -> None:
        if self.webhooks is None:
            raise InvalidRequest(
                "webhook_url needs webhooks switched on: the operator sets HUAJIA_WEBHOOK_SECRET"
            )
        check_webhook_target(url, self.webhooks)

    def _admission(self, who: Principal) -> Admission:
        """The queue limit, and the editor's daily image quota (admins have none)."""
        quota = None
        if self.daily_image_quota is not None and not who.is_admin:
            quota = Quota(self.daily_image_quota, datetime.now(UTC) - QUOTA_WINDOW)
        return Admission(queue_max=self.queue_max, quota=quota)

    def _check_model(self, name: str | None) -> None:
        served = self.model.spec.name
        if name is not None and name not in (served, self.model.spec.source):
            raise UnknownModel(f"this server runs model {served!r}, not {name!r}")

    def _resolve(self, body: GenerateRequest) -> ResolvedRequest:
        prompt, negative = body.prompt, body.negative_prompt
        loras = tuple(LoraRef(item.name, item.weight) for item in body.loras)
        defaults: dict[str, Any] = {}
        if body.style_preset:
            preset = self.presets.get(body.style_preset)
            prompt, preset_negative, defaults = self.presets.expand(preset, body.prompt)
            negative = negative if negative is not None else preset_negative
            if preset.lora and not loras:
                weight = 1.0 if preset.lora_weight is None else preset.lora_weight
                loras = (LoraRef(preset.lora, weight),)
        request = GenerationRequest(
            prompt=prompt,
            negative_prompt=negative,
            n=body.num_images,
            steps=body.steps if body.steps is not None else defaults.get("steps"),
            guidance=body.cfg_scale if body.cfg_scale is not None else defaults.get("cfg_scale"),
            width=body.width or defaults.get("width"),
            height=body.height or defaults.get("height"),
            seed=body.seed,
            loras=loras,
        )
        resolved = resolve_request(self.model.spec, request)
        self._check_loras(resolved)
        self._check_tokens(resolved.prompt, "prompt")
        if resolved.guidance > 0 and resolved.negative_prompt:
            self._check_tokens(resolved.negative_prompt, "negative_prompt")
        return resolved

    def _check_loras(self, resolved: ResolvedRequest) -> None:
        for ref in resolved.loras:
            if ref.name not in self.model.lora_ids:
                known = ", ".join(sorted(self.model.lora_ids)) or "none configured"
                raise InvalidRequest(f"unknown LoRA {ref.name!r} (available: {known})")

    def _check_tokens(self, text: str, field: str) -> None:
        limit = self.model.spec.limits.max_prompt_tokens
        count = self.model.meter.count(text)
        if count is not None and count > limit:
            raise PromptTooLong(
                f"{field} is {count} tokens; model {self.model.spec.name} reads at most {limit}: "
                "shorten it rather than have the end ignored"
            )

    def _batch_key(self, resolved: ResolvedRequest) -> str:
        """Tasks that may share one pipeline call: same model, size, steps, guidance, LoRAs."""
        steps, guidance, width, height, loras = resolved.batch_key()
        material = {
            "model": self.model.model_id, "weights": self.model.weights_id, "steps": steps,
            "guidance": guidance, "width": width, "height": height,
            "loras": [[ref.name, ref.weight, self.model.lora_ids[ref.name]] for ref in loras],
        }  # fmt: skip
        canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def _cache_key(self, who: Principal, body: GenerateRequest, resolved: ResolvedRequest
                   ) -> str | None:  # fmt: skip
        if body.seed is None:
            return None  # random seeds are never served from the cache
        loras = {ref.name: self.model.lora_ids[ref.name] for ref in resolved.loras}
        shared = body.style_preset is not None and self.presets.get(body.style_preset).shared_cache
        material = {
            **resolved_dict(resolved),
            "lora_files": loras,
            "owner": None if shared else who.key_id,
        }
        return cache_key(
            material, self.model.model_id, self.model.weights_id, body.style_preset,
            body.output_format,
        )  # fmt: skip


def _same_request(existing: Task, request: dict[str, Any], idempotency_key: str) -> Task:
    """A retried request returns its task; another request under the same key is refused."""
    asked = {key: value for key, value in request.items() if key != "resolved"}
    before = {key: value for key, value in existing.request.items() if key != "resolved"}
    if asked != before:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {idempotency_key!r} was used for a different request "
            f"(task {existing.id}); use a new key for a new request"
        )
    return existing


def resolved_dict(resolved: ResolvedRequest) -> dict[str, Any]:
    return {
        "prompt": resolved.prompt,
        "negative_prompt": resolved.negative_prompt,
        "n": resolved.n,
        "steps": resolved.steps,
        "guidance": resolved.guidance,
        "width": resolved.width,
        "height": resolved.height,
        "seeds": list(resolved.seeds),
        "loras": [{"name": ref.name, "weight": ref.weight} for ref in resolved.loras],
    }


def resolved_from_dict(data: dict[str, Any]) -> ResolvedRequest:
    return ResolvedRequest(
        prompt=data["prompt"],
        negative_prompt=data["negative_prompt"],
        n=int(data["n"]),
        steps=int(data["steps"]),
        guidance=float(data["guidance"]),
        width=int(data["width"]),
        height=int(data["height"]),
        seeds=tuple(int(seed) for seed in data["seeds"]),
        loras=tuple(LoraRef(item["name"], float(item["weight"])) for item in data["loras"]),
    )


def _stored_request(body: GenerateRequest, resolved: ResolvedRequest, model: str) -> dict[str, Any]:
    """What the caller asked for (seed-compatible names) plus what the worker will run."""
    asked = body.model_dump(mode="json")
    asked["model"] = model
    asked["resolved"] = resolved_dict(resolved)
    return asked


def _copies(task: Task) -> list[NewImage]:
    return [
        NewImage(
            index=image.index,
            key=image.key,
            thumbnail_key=image.thumbnail_key,
            format=image.format,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            seed=image.seed,
            size_bytes=image.size_bytes,
        )
        for image in task.images
    ]
