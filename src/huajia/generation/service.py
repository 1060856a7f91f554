"""Submitting and managing generation tasks: what the HTTP routes call (no torch here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from huajia.auth.keys import Principal
from huajia.auth.policy import can_view, check_priority
from huajia.engine.checks import resolve_request
from huajia.engine.models import ModelSpec
from huajia.engine.tokens import PromptMeter, check_prompts
from huajia.engine.types import GenerationRequest, LoraRef, ResolvedRequest
from huajia.errors import (
    Draining,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    ModelNotAvailable,
    TaskNotFound,
)
from huajia.generation.cache import cache_key
from huajia.generation.operations import plan_operation
from huajia.generation.policy import KeyPolicies
from huajia.generation.recent import LIVE_WORKERS, Recent
from huajia.generation.review import review_wanted
from huajia.images.mark import VisibleMark
from huajia.jobs.admission import Admission, Quota
from huajia.jobs.model import AuditNote, NewImage, NewTask, Priority, Task, is_record_id
from huajia.jobs.preset_store import PresetVersion
from huajia.jobs.requests import GenerationCommand, Sampling, TaskRequest
from huajia.jobs.store import TaskStore
from huajia.outbound import OutboundPolicy, check_webhook_target
from huajia.policy import EffectivePolicy
from huajia.presets.registry import PresetRegistry

QUOTA_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ServedModel:
    """The model the workers run, with what the API needs to check requests against it."""

    spec: ModelSpec
    model_id: str
    weights_id: str | None
    meter: PromptMeter


@dataclass(frozen=True)
class Served:
    """The model revision new work is pinned to, and the identities in its cache keys."""

    revision: int | None
    model_id: str
    weights_id: str | None


@dataclass(frozen=True)
class Submitted:
    task: Task
    created: bool


class GenerationService:
    """Validates, records and answers; the worker does the rest."""

    def __init__(self, store: TaskStore, model: ServedModel, presets: PresetRegistry,
                 queue_max: int, max_attempts: int, webhooks: OutboundPolicy | None = None,
                 daily_image_quota: int | None = None, review_required: bool = False,
                 policies: KeyPolicies | None = None, mark: VisibleMark | None = None,
                 mark_style: VisibleMark | None = None,
                 models: Sequence[ServedModel] = ()) -> None:  # fmt: skip
        self.store = store
        self.model = model  # the default: requests that name no model get it
        # Every model served, the default first; requests choose one by name (or source).
        self.models = {served.spec.name: served for served in (model, *models)}
        self.presets = presets
        self.queue_max = queue_max
        self.max_attempts = max_attempts
        self.webhooks = webhooks
        self.daily_image_quota = daily_image_quota
        self.review_required = review_required
        # Rarely changing reads every submit makes, kept a moment (dropped on change notices).
        self.recent = policies.recent if policies else Recent(store.notifier)
        self.policies = policies or KeyPolicies(store, daily_image_quota, self.recent)
        self.mark = mark  # the visible AI mark decided for new requests (None: no mark)
        self.mark_style = mark_style or mark or VisibleMark()  # when a policy asks for one
        self.draining = False  # set once when the process starts to stop

    def submit(
        self,
        who: Principal,
        command: GenerationCommand,
        idempotency_key: str | None,
        request_id: str | None = None,
        admitted: EffectivePolicy | None = None,
    ) -> Submitted:
        """Check the request, answer from the cache where allowed, else queue it (noting the
        id of the HTTP request it came in, for the worker's log lines). `admitted`: what
        `admit` returned for this request, already counted (a route that stores uploads)."""
        if self.draining:
            raise Draining("this server is stopping and takes no new work; retry shortly")
        priority = Priority(command.priority)
        check_priority(who, priority.value)
        model = self.model_for(command.model)
        # The local limits first: a webhook's host is resolved (slow, and the caller's to
        # choose) only for a request they let through.
        policy = admitted or self.policies.admit(who, command.prompt)
        if command.webhook_url is not None:
            self.check_webhook(command.webhook_url)
        planned = plan_operation(self.store, who, command, model.spec.limits)
        chosen, lora_ids = self.presets.choose(command.style_preset), self.lora_ids()
        resolved = self._resolve(command, planned.size, chosen, lora_ids, policy.negative_prompt,
                                 model)  # fmt: skip
        request = TaskRequest(
            asked=command, model=model.spec.name, operation=planned.operation,
            sampling=Sampling.of(resolved), preset_version=chosen.version if chosen else None,
            review=planned.held or self.needs_review(policy, chosen),
            mark=self.mark_for(policy, chosen),
            request_id=request_id,
        )  # fmt: skip
        served = self.served(model)
        key = self._cache_key(who, request, chosen, lora_ids, served)
        new = NewTask(
            owner=who.key_id, priority=priority, request=request,
            idempotency_key=idempotency_key, cache_key=key, max_attempts=self.max_attempts,
            batch_key=self._batch_key(request, lora_ids, served), image_count=resolved.n,
            webhook_url=command.webhook_url, model_revision=served.revision,
        )  # fmt: skip
        if idempotency_key is not None:
            existing = self.store.find_by_idempotency_key(who.key_id, idempotency_key)
            if existing is not None:
                return Submitted(_same_request(existing, command, idempotency_key), created=False)
        cached = self.store.find_cached(key) if key is not None else None
        if cached is not None and _reusable(cached, request.review):
            task = self.store.create_completed(new, _copies(cached), _created(who, new, True))
            return Submitted(task, created=True)
        task = self.store.create(new, self._admission(policy), _created(who, new, False))
        if idempotency_key is not None and task.request.asked != command:
            # A concurrent request with the same Idempotency-Key won the insert.
            return Submitted(_same_request(task, command, idempotency_key), created=False)
        return Submitted(task, created=True)

    def admit(self, who: Principal, prompt: str, images: int) -> EffectivePolicy:
        """Before work that a refusal would waste (storing a request's uploads): the prompt
        rules and the rate (counting the request), then the quota and the queue as they stand
        (`submit` checks those again as it inserts). Hand the answer to `submit`."""
        policy = self.policies.admit(who, prompt)
        self.store.check_admission(who.key_id, self._admission(policy), images)
        return policy

    def look_ahead(self, who: Principal, images: int) -> None:
        """The rate, quota and queue as they stand, counting nothing: a batch's refusal
        before its webhook's host is resolved (each row is counted as it is submitted)."""
        policy = self.policies.look_ahead(who)
        self.store.check_admission(who.key_id, self._admission(policy), images)

    def served(self, model: ServedModel | None = None) -> Served:
        """What new work runs on now: the model's current revision (read per request, as
        `huajia reload` changes it while the service runs), else the settings' model."""
        model = model or self.model
        name = model.spec.name
        # Read per request, never kept: a reload (here or by `huajia reload` elsewhere) applies
        # to every task submitted after it returns.
        current = self.store.revisions.current(name)
        if current is None:
            return Served(None, model.model_id, model.weights_id)
        return Served(current.id, current.model_id, current.weights_id)

    def model_for(self, name: str | None) -> ServedModel:
        """The served model a request names (by name or source; None: the default), refused
        when it is not served or no live worker holds it (workers declare what they hold)."""
        found = self.model if name is None else self._configured(name)
        if found is None:
            raise ModelNotAvailable(self._not_available(name, self.held_models()))
        # Who holds what, kept a moment when it allows the request; read afresh to refuse.
        held = self.recent.read(LIVE_WORKERS, "", self.held_models)
        if held is not None and found.spec.name not in held:
            held = self.held_models()
            if held is not None and found.spec.name not in held:
                raise ModelNotAvailable(self._not_available(name, held))
        return found

    def spec_for(self, name: str | None) -> ModelSpec:
        """A served model's spec by name or source (None: the default), whether a worker
        holds it now or not: what forms and size presets are built from."""
        found = self.model if name is None else self._configured(name)
        if found is None:
            raise ModelNotAvailable(self._not_available(name, None))
        return found.spec

    def held_models(self) -> set[str] | None:
        """Models some live worker holds; None while no worker is alive at all (work for a
        served model then waits in the queue for the workers to start)."""
        workers = self.store.live_workers()
        if not workers:
            return None
        return {model for worker in workers for model in worker["models"]}

    def _configured(self, name: str) -> ServedModel | None:
        for served in self.models.values():
            if name in (served.spec.name, served.spec.source):
                return served
        return None

    def _not_available(self, name: str | None, held: set[str] | None) -> str:
        available = [model for model in self.models if held is None or model in held]
        listed = ", ".join(available) or "none: no worker holds a served model now"
        if name is not None and self._configured(name) is None:
            return f"model {name!r} is not served here; available models: {listed}"
        return f"no worker holds model {name or self.model.spec.name!r} now; available: {listed}"

    def needs_review(self, policy: EffectivePolicy, chosen: PresetVersion | None) -> bool:
        """Whether this request's images wait for a reviewer before editors may use them: the
        key's (or global) policy when it says, else the style preset's flag, else the setting."""
        preset = chosen.preset.review_required if chosen is not None else None
        return review_wanted(policy.review_required, preset, self.review_required)

    def mark_for(self, policy: EffectivePolicy, chosen: PresetVersion | None
                 ) -> VisibleMark | None:  # fmt: skip
        """The visible AI mark: as the key's (or global) policy says, else the style preset,
        else the setting."""
        wanted = policy.visible_mark
        if wanted is None and chosen is not None:
            wanted = chosen.preset.visible_mark
        if wanted is None:
            return self.mark
        return self.mark_style if wanted else None

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

    def check_webhook(self, url: str) -> None:
        if self.webhooks is None:
            raise InvalidRequest(
                "webhook_url needs webhooks switched on: the operator sets HUAJIA_WEBHOOK_SECRET"
            )
        check_webhook_target(url, self.webhooks)

    def _admission(self, policy: EffectivePolicy) -> Admission:
        """The queue limit, and the key's daily image quota (admins: only one set on the key)."""
        quota = None
        if policy.daily_image_quota is not None:
            quota = Quota(policy.daily_image_quota, datetime.now(UTC) - QUOTA_WINDOW)
        return Admission(queue_max=self.queue_max, quota=quota)

    def lora_ids(self) -> dict[str, str]:
        """Registered LoRAs (name -> content hash), read per request: admins add them live."""
        return {record.name: record.identity for record in self.store.loras.list()}

    def _resolve(self, command: GenerationCommand, size: tuple[int, int] | None,
                 chosen: PresetVersion | None, lora_ids: dict[str, str],
                 policy_negative: str | None = None, model: ServedModel | None = None,
                 ) -> ResolvedRequest:  # fmt: skip
        model = model or self.model
        prompt, negative = command.prompt, command.negative_prompt
        loras = tuple(LoraRef(item.name, item.weight) for item in command.loras)
        defaults: dict[str, Any] = {}
        if chosen is not None:
            preset = chosen.preset
            prompt, preset_negative, defaults = self.presets.expand(preset, command.prompt)
            negative = negative if negative is not None else preset_negative
            if preset.lora and not loras:
                weight = 1.0 if preset.lora_weight is None else preset.lora_weight
                loras = (LoraRef(preset.lora, weight),)
        if policy_negative:  # the policy's negative prompt is appended to every request's
            negative = f"{negative}, {policy_negative}" if negative else policy_negative
        request = GenerationRequest(
            prompt=prompt,
            negative_prompt=negative,
            n=command.num_images,
            steps=command.steps if command.steps is not None else defaults.get("steps"),
            guidance=command.cfg_scale if command.cfg_scale is not None
            else defaults.get("cfg_scale"),
            width=size[0] if size else command.width or defaults.get("width"),
            height=size[1] if size else command.height or defaults.get("height"),
            seed=command.seed,
            loras=loras,
        )  # fmt: skip
        resolved = resolve_request(model.spec, request)
        self._check_loras(resolved, lora_ids)
        check_prompts(model.meter, model.spec, resolved)
        return resolved

    def _check_loras(self, resolved: ResolvedRequest, lora_ids: dict[str, str]) -> None:
        for ref in resolved.loras:
            if ref.name not in lora_ids:
                known = ", ".join(sorted(lora_ids)) or "none registered"
                raise InvalidRequest(f"unknown LoRA {ref.name!r} (available: {known})")

    def _batch_key(self, request: TaskRequest, lora_ids: dict[str, str], served: Served) -> str:
        """Tasks that may share one pipeline call: same model, operation, size, steps,
        guidance, LoRAs (and strength and the like for edits; sources may differ)."""
        sampling = request.sampled
        operation = request.operation.model_dump(mode="json", exclude={"source", "mask"})
        material = {
            "model": served.model_id, "weights": served.weights_id, "revision": served.revision,
            "steps": sampling.steps, "guidance": sampling.guidance, "width": sampling.width,
            "height": sampling.height, "operation": operation,
            "loras": [[lora.name, lora.weight, lora_ids[lora.name]]
                      for lora in sampling.loras],
        }  # fmt: skip
        canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def _cache_key(self, who: Principal, request: TaskRequest, chosen: PresetVersion | None,
                   lora_ids: dict[str, str], served: Served) -> str | None:  # fmt: skip
        asked, sampling = request.asked, request.sampling
        if asked.seed is None or sampling is None:
            return None  # random seeds are never served from the cache
        loras = {lora.name: lora_ids[lora.name] for lora in sampling.loras}
        preset = asked.style_preset
        shared = chosen is not None and chosen.preset.shared_cache
        material = {
            **sampling.model_dump(mode="json"),
            "operation": request.operation.model_dump(mode="json"),
            "lora_files": loras,
            "owner": None if shared else who.key_id,
            **({"mark": request.mark.model_dump()} if request.mark else {}),
        }
        return cache_key(material, served.model_id, served.weights_id, preset, asked.output_format)


def _same_request(existing: Task, command: GenerationCommand, idempotency_key: str) -> Task:
    """A retried request returns its task; another request under the same key is refused."""
    if existing.request.asked != command:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {idempotency_key!r} was used for a different request "
            f"(task {existing.id}); use a new key for a new request"
        )
    return existing


def _reusable(cached: Task, review: bool) -> bool:
    """A cached result may answer a request only with bytes editors may use: never pending
    or rejected images, and only approved ones where the new request needs review."""
    wanted = {"approved"} if review else {"none", "approved"}
    return all(image.review_state in wanted for image in cached.images)


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
            parent_id=image.parent_id,
            origin=image.origin,
            review_state=image.review_state,
        )
        for image in task.images
    ]


def _created(who: Principal, new: NewTask, cached: bool) -> AuditNote:
    """The audit entry of a task being created (never the prompt: it may be confidential)."""
    facts = {"num_images": new.image_count, "priority": new.priority.value, "cached": cached}
    return AuditNote(who.key_id, who.name, "task.create", facts)
