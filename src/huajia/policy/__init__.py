"""Per-key policy as data: quotas, rate limits and prompt rules, global and per key."""

from huajia.policy.matching import PromptFilter, normalise
from huajia.policy.rules import EffectivePolicy, PolicyRules, effective_policy

__all__ = ["EffectivePolicy", "PolicyRules", "PromptFilter", "effective_policy", "normalise"]
