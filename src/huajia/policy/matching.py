"""Matching prompts against blocked terms and patterns, after Unicode NFKC and case folding.

NFKC folds look-alike forms (full-width Ｎｉｋｅ, ligatures, circled letters) into plain
ones, and case folding makes the match case-insensitive in every script; Chinese terms
match anywhere in the text, Latin ones only as whole words ("ass" does not block "class").
Patterns run on the `regex` engine with a time budget: a pattern that backtracks for too
long on some prompt refuses that prompt (it fails closed) instead of stalling the server.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import regex

MAX_PATTERN_LENGTH = 300
# Seconds one pattern may spend on one prompt (prompts are at most a few thousand characters).
MATCH_BUDGET_S = 0.05
_FLAGS = regex.IGNORECASE | regex.UNICODE | regex.V0
# Texts that make backtracking patterns such as (a+)+$ or (\w|\w)*! take exponential time.
_PROBES = (
    "a" * 3000 + "!",
    "a" * 3000,
    "aa " * 1000,
    "ab" * 1500,
    "1" * 3000 + "x",
    " " * 3000 + "x",
)


def normalise(text: str) -> str:
    """The form prompts and terms are compared in: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True, slots=True)
class BlockedMatch:
    """Which rule refused a prompt (never the prompt itself)."""

    kind: Literal["term", "pattern"]
    rule: str
    timed_out: bool = False

    def describe(self) -> str:
        if self.timed_out:
            return f"blocked pattern {self.rule!r} took too long on this prompt"
        return f"the prompt matches blocked {self.kind} {self.rule!r}"


def check_pattern(pattern: str) -> None:
    """ValueError naming the pattern unless it compiles and runs quickly on hard inputs."""
    try:
        compiled = _compile_pattern(pattern)
    except regex.error as error:
        raise ValueError(f"blocked pattern {pattern!r} is not a valid regular expression: "
                         f"{error}") from None  # fmt: skip
    if compiled.search("") is not None:
        raise ValueError(f"blocked pattern {pattern!r} matches every prompt (even an empty one)")
    for probe in _PROBES:
        try:
            compiled.search(probe, timeout=MATCH_BUDGET_S)
        except TimeoutError:
            raise ValueError(
                f"blocked pattern {pattern!r} takes too long on some prompts "
                "(nested repetition such as (a+)+ backtracks); simplify it"
            ) from None


class PromptFilter:
    """Blocked terms and patterns, compiled once; `find` names the first rule a text breaks."""

    def __init__(self, terms: tuple[str, ...], patterns: tuple[str, ...]) -> None:
        self._terms = [(term, _compile_term(normalise(term).strip())) for term in terms]
        self._patterns = [(pattern, _compile_pattern(pattern)) for pattern in patterns]

    @classmethod
    def of(cls, terms: tuple[str, ...], patterns: tuple[str, ...]) -> PromptFilter:
        return _cached_filter(terms, patterns)

    def find(self, *texts: str | None) -> BlockedMatch | None:
        """The first rule any of `texts` matches, or None."""
        for text in texts:
            if text:
                found = self._find_one(normalise(text))
                if found is not None:
                    return found
        return None

    def _find_one(self, text: str) -> BlockedMatch | None:
        for term, compiled in self._terms:
            if compiled.search(text) is not None:
                return BlockedMatch("term", term)
        for pattern, compiled in self._patterns:
            try:
                if compiled.search(text, timeout=MATCH_BUDGET_S) is not None:
                    return BlockedMatch("pattern", pattern)
            except TimeoutError:
                return BlockedMatch("pattern", pattern, timed_out=True)
        return None


@lru_cache(maxsize=256)
def _cached_filter(terms: tuple[str, ...], patterns: tuple[str, ...]) -> PromptFilter:
    return PromptFilter(terms, patterns)


def _compile_term(term: str) -> Any:
    """A literal term; where it starts or ends with a letter or digit of a spaced script,
    that end must not run on into another such character (whole words for Latin)."""
    before = r"(?<![^\W\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}])" if _spaced(term[0]) else ""
    after = r"(?![^\W\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}])" if _spaced(term[-1]) else ""
    return regex.compile(before + regex.escape(term) + after, _FLAGS)


def _spaced(character: str) -> bool:
    """A word character of a script that separates words with spaces (not CJK)."""
    if not (character.isalnum() or character == "_"):
        return False
    name = unicodedata.name(character, "")
    return not name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


def _compile_pattern(pattern: str) -> Any:
    return regex.compile(unicodedata.normalize("NFKC", pattern), _FLAGS)
