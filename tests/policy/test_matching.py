"""Prompt rules: terms and patterns after NFKC and case folding, in Latin and Chinese."""

from __future__ import annotations

import time

import pytest

from huajia.errors import InvalidPolicy
from huajia.generation.policy import parse_rules
from huajia.policy import PolicyRules, PromptFilter, effective_policy
from huajia.policy.matching import BlockedMatch


def rule_for(text: str, terms: tuple[str, ...] = (), patterns: tuple[str, ...] = ()) -> str | None:
    found = PromptFilter(terms, patterns).find(text)
    return found.rule if found else None


@pytest.mark.parametrize(
    "prompt",
    ["Nike shoes", "NIKE shoes", "ｎｉｋｅ shoes", "a pair of Ｎｉｋｅ", "shoes by nike."],
)
def test_a_term_matches_whatever_its_case_or_width(prompt: str) -> None:
    assert rule_for(prompt, terms=("nike",)) == "nike"


def test_latin_terms_match_whole_words_only() -> None:
    assert rule_for("a class act in a glass house", terms=("ass",)) is None
    assert rule_for("Nikes and nikelike", terms=("nike",)) is None
    assert rule_for("blood   bath at dawn", terms=("Blood bath",)) == "Blood bath"


def test_chinese_terms_match_inside_a_sentence_without_spaces() -> None:
    assert rule_for("一双耐克运动鞋放在桌上", terms=("耐克",)) == "耐克"
    assert rule_for("一双运动鞋放在桌上", terms=("耐克",)) is None
    # Full-width and compatibility forms fold to the same characters.
    assert rule_for("⼀双耐克", terms=("一双",)) == "一双"


def test_patterns_are_case_insensitive_and_see_normalised_text() -> None:
    patterns = (r"air\s*jordan", r"\bv\d+\b")
    assert rule_for("AIR   Jordan sneakers", patterns=patterns) == r"air\s*jordan"
    assert rule_for("ＡＩＲＪＯＲＤＡＮ", patterns=patterns) == r"air\s*jordan"
    assert rule_for("model V12 engine", patterns=patterns) == r"\bv\d+\b"
    assert rule_for("a quiet harbour", patterns=patterns) is None


def test_every_text_given_is_checked_and_the_first_rule_hit_is_named() -> None:
    found = PromptFilter(("logo",), ()).find("a lantern", None, "with a LOGO")
    assert found == BlockedMatch("term", "logo")
    assert "blocked term 'logo'" in found.describe()


def test_a_malformed_pattern_is_refused_naming_it_and_the_field() -> None:
    with pytest.raises(InvalidPolicy, match=r"blocked_patterns: blocked pattern '\(unclosed'"):
        parse_rules({"blocked_patterns": ["fine", "(unclosed"]})


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(\w+\s?)+$"])
def test_a_catastrophic_pattern_is_refused_when_saved(pattern: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidPolicy, match="takes too long"):
        parse_rules({"blocked_patterns": [pattern]})
    assert time.monotonic() - started < 2


def test_patterns_that_match_everything_or_are_too_long_are_refused() -> None:
    with pytest.raises(InvalidPolicy, match="matches every prompt"):
        parse_rules({"blocked_patterns": [".*"]})
    with pytest.raises(InvalidPolicy, match="longer than"):
        parse_rules({"blocked_patterns": ["a" * 400]})
    with pytest.raises(InvalidPolicy, match="may not be empty"):
        parse_rules({"blocked_terms": ["  "]})
    with pytest.raises(InvalidPolicy, match="unknown_field"):
        parse_rules({"unknown_field": 1})


def test_key_rules_override_global_ones_field_by_field_and_lists_add_up() -> None:
    shared = PolicyRules(daily_image_quota=50, rate_per_minute=10, blocked_terms=("logo",),
                         negative_prompt="text, watermark", visible_mark=True)  # fmt: skip
    own = PolicyRules(daily_image_quota=5, blocked_terms=("耐克",), negative_prompt="blur")
    policy = effective_policy(shared, own, default_quota=100)
    assert (policy.daily_image_quota, policy.rate_per_minute) == (5, 10)
    assert policy.blocked_terms == ("logo", "耐克")
    assert policy.negative_prompt == "text, watermark, blur"
    assert (policy.visible_mark, policy.review_required, policy.audit_prompts) == (
        True, None, False,
    )  # fmt: skip


def test_the_settings_quota_applies_until_the_global_policy_sets_one() -> None:
    assert effective_policy(PolicyRules(), None, default_quota=7).daily_image_quota == 7
    assert effective_policy(PolicyRules(daily_image_quota=3), None, 7).daily_image_quota == 3


def test_admins_get_only_the_limits_set_on_their_own_key() -> None:
    shared = PolicyRules(daily_image_quota=5, rate_per_minute=2, blocked_terms=("logo",))
    admin = effective_policy(shared, None, default_quota=7, exempt_from_global_limits=True)
    assert (admin.daily_image_quota, admin.rate_per_minute) == (None, None)
    assert admin.blocked_terms == ("logo",), "prompt rules apply to everyone"
    own = PolicyRules(rate_per_minute=100)
    assert effective_policy(shared, own, 7, exempt_from_global_limits=True).rate_per_minute == 100
