"""The policy store's interface: admin-edited rules and the per-key request counters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from huajia.policy.rules import PolicyRules

GLOBAL_POLICY = "*"  # the key id the global rules are stored under (no key id has a '*')


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A saved rule set: global (key_id "*") or one key's overrides, with its version."""

    key_id: str
    rules: PolicyRules
    version: int
    updated_at: datetime
    updated_by: str


class PolicyStore(ABC):
    """Policy rules and rate-limit windows kept in the queue's database."""

    @abstractmethod
    def get(self, key_id: str = GLOBAL_POLICY) -> StoredPolicy | None:
        """The saved rules for a key (or the global ones); None if none were saved."""

    @abstractmethod
    def put(self, rules: PolicyRules, actor: str, key_id: str = GLOBAL_POLICY) -> StoredPolicy:
        """Replace the rules (the version grows by one each time)."""

    @abstractmethod
    def delete(self, key_id: str) -> bool:
        """Remove a key's overrides; whether there were any."""

    @abstractmethod
    def rules_for(self, key_id: str) -> tuple[PolicyRules, PolicyRules | None]:
        """In one read: the global rules (empty if unsaved) and the key's own, if any."""

    @abstractmethod
    def request_wait(self, key_id: str, per_minute: int, now: datetime | None = None
                     ) -> float | None:  # fmt: skip
        """Whether one more request would fit in the key's current minute, counting nothing:
        None if it would; else the seconds until the window frees."""

    @abstractmethod
    def take_request(self, key_id: str, per_minute: int, now: datetime | None = None
                     ) -> float | None:  # fmt: skip
        """Count one request in the key's current minute, atomically across processes.

        None if it fits within `per_minute`; else the seconds until the window frees.
        """
