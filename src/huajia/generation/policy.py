"""Per-key policy at work: what every route that creates work checks before anything is
queued (prompt rules, then the rate limit), and the admin operations that edit the rules.

The daily image quota is not checked here: it is counted inside the transaction that
inserts the task (`huajia.jobs.admission`), from the effective policy this module returns.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from huajia.auth.keys import Principal, Role
from huajia.errors import InvalidPolicy, NotFound, PromptBlocked, RateLimited
from huajia.generation.recent import Recent
from huajia.jobs.notify import POLICY
from huajia.jobs.policy_store import GLOBAL_POLICY, StoredPolicy
from huajia.jobs.store import TaskStore
from huajia.policy import EffectivePolicy, PolicyRules, PromptFilter, effective_policy


class KeyPolicies:
    """Rules as data (global and per key) and their enforcement, shared by API and CLI."""

    def __init__(self, store: TaskStore, default_quota: int | None,
                 recent: Recent | None = None) -> None:  # fmt: skip
        self.store = store
        self.default_quota = default_quota
        self.recent = recent or Recent(store.notifier)  # rules kept a moment between changes

    # Enforcement

    def admit(self, who: Principal, *texts: str | None) -> EffectivePolicy:
        """Refuse blocked `texts` (PromptBlocked) and requests over the rate (RateLimited);
        otherwise count this request and return the policy that applies to it."""
        policy = self.effective(who)
        self._check_texts(who, policy, texts)
        if (rate := policy.rate_per_minute) is not None:
            _refuse(rate, self.store.policy.take_request(who.key_id, rate))
        return policy

    def look_ahead(self, who: Principal) -> EffectivePolicy:
        """RateLimited if the key's minute is used up already, counting nothing: for a route
        that refuses before slower checks, its work counted when it is submitted."""
        policy = self.effective(who)
        if (rate := policy.rate_per_minute) is not None:
            _refuse(rate, self.store.policy.request_wait(who.key_id, rate))
        return policy

    def check_texts(self, who: Principal, *texts: str | None) -> None:
        """Only the prompt rules (for a route that checks before storing its uploads)."""
        self._check_texts(who, self.effective(who), texts)

    def effective(self, who: Principal) -> EffectivePolicy:
        """What applies to the caller now (admins and the local user: only their own limits)."""
        key = who.key_id
        global_rules, own = self.recent.read(POLICY, key, lambda: self.store.policy.rules_for(key))
        return effective_policy(global_rules, own, self.default_quota, who.is_admin)

    def _check_texts(self, who: Principal, policy: EffectivePolicy,
                     texts: tuple[str | None, ...]) -> None:  # fmt: skip
        found = PromptFilter.of(policy.blocked_terms, policy.blocked_patterns).find(*texts)
        if found is None:
            return
        detail: dict[str, Any] = {"rule_kind": found.kind, "rule": found.rule}
        if policy.audit_prompts:
            detail["prompt"] = "\n".join(text for text in texts if text)
        self.store.audit(who.key_id, who.name, "prompt.blocked", None, detail)
        raise PromptBlocked(f"{found.describe()}; rephrase the request")

    # Administration (the API checks that the caller is an admin)

    def global_policy(self) -> StoredPolicy | None:
        return self.store.policy.get(GLOBAL_POLICY)

    def key_policy(self, key_id: str) -> tuple[StoredPolicy | None, EffectivePolicy]:
        """A key's own rules (None if it has none) and the policy in effect for it."""
        key = self._principal(key_id)
        return self.store.policy.get(key_id), self.effective(key)

    def save(self, who: Principal, body: dict[str, Any], key_id: str | None = None
             ) -> StoredPolicy:  # fmt: skip
        """Validate (InvalidPolicy naming the bad rule; nothing saved) and replace the rules."""
        if key_id is not None:
            self._principal(key_id)
        rules = parse_rules(body)
        target = key_id or GLOBAL_POLICY
        stored = self.store.policy.put(rules, who.key_id, target)
        detail = {"version": stored.version, "rules": rules.model_dump(mode="json")}
        self.store.audit(who.key_id, who.name, "policy.update", target, detail)
        return stored

    def remove(self, who: Principal, key_id: str) -> bool:
        """Drop a key's own rules (the global ones apply again); whether it had any."""
        self._principal(key_id)
        removed = self.store.policy.delete(key_id)
        if removed:
            self.store.audit(who.key_id, who.name, "policy.delete", key_id, {})
        return removed

    def _principal(self, key_id: str) -> Principal:
        for key in self.store.keys.list(include_revoked=True):
            if key.id == key_id:
                return Principal(key_id=key.id, name=key.name, role=Role(key.role))
        raise NotFound(f"no API key {key_id!r}")


def _refuse(per_minute: int, wait: float | None) -> None:
    if wait is not None:
        raise RateLimited(
            f"this key may make {per_minute} requests a minute; retry when the minute is over",
            retry_after=max(1, math.ceil(wait)),
        )


def parse_rules(body: dict[str, Any]) -> PolicyRules:
    """PolicyRules from a JSON body; InvalidPolicy says which field and rule is wrong."""
    try:
        return PolicyRules.model_validate(body)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "policy"
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise InvalidPolicy("; ".join(problems)) from None
