"""Policy as data: the global rules and each key's overrides, edited by admins at run time.

    GET/PUT           /api/v1/policy                 the global rules (admins)
    GET/PUT/DELETE    /api/v1/keys/{key_id}/policy   one key's rules, and what is in effect
    GET               /api/v1/policy/me              the caller's effective policy (any key)

A change applies to the next request: every work-creating route reads the rules each time.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from huajia.api.deps import PrincipalDep, ServicesDep
from huajia.api.errors import ERROR_RESPONSES
from huajia.api.schemas import Text
from huajia.auth.keys import Principal, Role
from huajia.auth.policy import require_admin
from huajia.jobs.policy_store import StoredPolicy
from huajia.policy import EffectivePolicy, PolicyRules

router = APIRouter(prefix="/api/v1", tags=["service"], responses=ERROR_RESPONSES)

KeyId = Annotated[Text, Path(min_length=1, max_length=64)]
# Parsed by the service so a bad rule answers 422 invalid_policy naming it; documented here.
RulesBody = Annotated[dict[str, Any], Body(description="The rules; a field left out inherits.")]
_RULES_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PolicyRules.model_json_schema()}},
    }
}


class EffectivePolicyOut(BaseModel):
    daily_image_quota: int | None
    rate_per_minute: int | None
    blocked_terms: list[str]
    blocked_patterns: list[str]
    negative_prompt: str | None
    audit_prompts: bool
    review_required: bool | None
    visible_mark: bool | None


class PolicyOut(BaseModel):
    scope: str  # "global" or the key id
    rules: PolicyRules | None  # None: nothing saved for this scope
    version: int
    updated_at: datetime | None
    updated_by: str | None
    effective: EffectivePolicyOut  # global: what an editor key without its own rules gets


@router.get("/policy", operation_id="getPolicy", response_model=PolicyOut)
async def get_policy(who: PrincipalDep, services: ServicesDep) -> PolicyOut:
    """The global rules, and what an editor key without rules of its own gets."""
    require_admin(who)
    policies = services.generation.policies
    stored = await run_in_threadpool(policies.global_policy)
    effective = await run_in_threadpool(policies.effective, _any_editor())
    return _policy_out("global", stored, effective)


@router.put("/policy", operation_id="putPolicy", response_model=PolicyOut,
            openapi_extra=_RULES_SCHEMA)  # fmt: skip
async def put_policy(body: RulesBody, who: PrincipalDep, services: ServicesDep) -> PolicyOut:
    """Replace the global rules (audited); they apply to the next request."""
    require_admin(who)
    policies = services.generation.policies
    stored = await run_in_threadpool(policies.save, who, body)
    effective = await run_in_threadpool(policies.effective, _any_editor())
    return _policy_out("global", stored, effective)


@router.get("/policy/me", operation_id="getMyPolicy", response_model=EffectivePolicyOut)
async def get_my_policy(who: PrincipalDep, services: ServicesDep) -> EffectivePolicyOut:
    """The limits and prompt rules that apply to the caller's key."""
    effective = await run_in_threadpool(services.generation.policies.effective, who)
    return _effective_out(effective)


@router.get("/keys/{key_id}/policy", operation_id="getKeyPolicy", response_model=PolicyOut)
async def get_key_policy(key_id: KeyId, who: PrincipalDep, services: ServicesDep) -> PolicyOut:
    """A key's own rules (rules null if it has none) and the policy in effect for it."""
    require_admin(who)
    stored, effective = await run_in_threadpool(services.generation.policies.key_policy, key_id)
    return _policy_out(key_id, stored, effective)


@router.put("/keys/{key_id}/policy", operation_id="putKeyPolicy", response_model=PolicyOut,
            openapi_extra=_RULES_SCHEMA)  # fmt: skip
async def put_key_policy(key_id: KeyId, body: RulesBody, who: PrincipalDep,
                         services: ServicesDep) -> PolicyOut:  # fmt: skip
    """Replace a key's own rules (audited); they apply to its next request."""
    require_admin(who)
    policies = services.generation.policies
    await run_in_threadpool(policies.save, who, body, key_id)
    stored, effective = await run_in_threadpool(policies.key_policy, key_id)
    return _policy_out(key_id, stored, effective)


@router.delete("/keys/{key_id}/policy", operation_id="deleteKeyPolicy", status_code=204,
               response_class=Response)  # fmt: skip
async def delete_key_policy(key_id: KeyId, who: PrincipalDep, services: ServicesDep) -> Response:
    """Drop a key's own rules: the global ones apply to it again."""
    require_admin(who)
    await run_in_threadpool(services.generation.policies.remove, who, key_id)
    return Response(status_code=204)


def _any_editor() -> Principal:
    # No key has this id, so only the global rules and the settings apply to it.
    return Principal(key_id="*editor*", name="any editor", role=Role.EDITOR)


def _policy_out(scope: str, stored: StoredPolicy | None, effective: EffectivePolicy
                ) -> PolicyOut:  # fmt: skip
    return PolicyOut(
        scope=scope,
        rules=stored.rules if stored else None,
        version=stored.version if stored else 0,
        updated_at=stored.updated_at if stored else None,
        updated_by=stored.updated_by if stored else None,
        effective=_effective_out(effective),
    )


def _effective_out(effective: EffectivePolicy) -> EffectivePolicyOut:
    return EffectivePolicyOut.model_validate(asdict(effective))
