"""Policy rules: what admins save (global, or for one key) and what applies to a key.

A saved rule set leaves a field None to inherit it: a key's rules override the global
ones field by field, and the global ones override the settings (`daily_image_quota`).
Blocked terms and patterns add up (a key's list adds to the global list, never removes),
and the policy negative prompts of both are appended to every request's negative prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from huajia.policy.matching import MAX_PATTERN_LENGTH, check_pattern, normalise
from huajia.text import Text

MAX_RULES = 200
_T = TypeVar("_T")
MAX_TERM_LENGTH = 200


class PolicyRules(BaseModel):
    """One saved rule set; None inherits (from the global policy, then the settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_image_quota: int | None = Field(
        None, ge=0, le=1_000_000, description="Images per 24 hours (admin keys: only if set "
        "on the key itself)."
    )  # fmt: skip
    rate_per_minute: int | None = Field(
        None, ge=1, le=100_000, description="Requests that create work, per minute and key."
    )
    blocked_terms: tuple[Text, ...] = Field(
        (), max_length=MAX_RULES, description="Refused words or phrases (any language)."
    )
    blocked_patterns: tuple[Text, ...] = Field(
        (), max_length=MAX_RULES, description="Refused regular expressions (case-insensitive)."
    )
    negative_prompt: Text | None = Field(
        None, max_length=1000, description="Appended to every request's negative prompt."
    )
    audit_prompts: bool | None = Field(
        None, description="Record the text of refused prompts in the audit trail."
    )
    review_required: bool | None = Field(None, description="Results wait for a reviewer.")
    visible_mark: bool | None = Field(None, description="Results carry a visible AI mark.")

    @field_validator("blocked_terms")
    @classmethod
    def _terms(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        kept = []
        for term in terms:
            if not normalise(term).strip():
                raise ValueError("a blocked term may not be empty")
            if len(term) > MAX_TERM_LENGTH:
                raise ValueError(f"blocked terms are at most {MAX_TERM_LENGTH} characters")
            kept.append(term.strip())
        return tuple(dict.fromkeys(kept))

    @field_validator("blocked_patterns")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(
                    f"blocked pattern {pattern[:40]!r}… is longer than {MAX_PATTERN_LENGTH}"
                )
            check_pattern(pattern)
        return tuple(dict.fromkeys(patterns))


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """What applies to one key now: its rules over the global ones over the settings."""

    daily_image_quota: int | None
    rate_per_minute: int | None
    blocked_terms: tuple[str, ...]
    blocked_patterns: tuple[str, ...]
    negative_prompt: str | None
    audit_prompts: bool
    review_required: bool | None
    visible_mark: bool | None


def effective_policy(
    global_rules: PolicyRules, key_rules: PolicyRules | None, default_quota: int | None,
    exempt_from_global_limits: bool = False,
) -> EffectivePolicy:  # fmt: skip
    """Merge field by field; admins (`exempt_from_global_limits`) get only their own limits."""
    own = key_rules or PolicyRules()
    shared_quota = None if exempt_from_global_limits else global_rules.daily_image_quota
    shared_rate = None if exempt_from_global_limits else global_rules.rate_per_minute
    if shared_quota is None and not exempt_from_global_limits:
        shared_quota = default_quota
    negatives = [text for text in (global_rules.negative_prompt, own.negative_prompt) if text]
    return EffectivePolicy(
        daily_image_quota=_first(own.daily_image_quota, shared_quota),
        rate_per_minute=_first(own.rate_per_minute, shared_rate),
        blocked_terms=tuple(dict.fromkeys(global_rules.blocked_terms + own.blocked_terms)),
        blocked_patterns=tuple(dict.fromkeys(global_rules.blocked_patterns + own.blocked_patterns)),
        negative_prompt=", ".join(negatives) or None,
        audit_prompts=bool(_first(own.audit_prompts, global_rules.audit_prompts)),
        review_required=_first(own.review_required, global_rules.review_required),
        visible_mark=_first(own.visible_mark, global_rules.visible_mark),
    )


def _first(*values: _T | None) -> _T | None:
    return next((value for value in values if value is not None), None)
