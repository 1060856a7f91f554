"""Reads a submit keeps a moment: dropped on change notices (from this process at once, from
others when their notice arrives), so a change applies to the next requests everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from huajia.api.deps import Services
from huajia.auth.keys import Principal, Role
from huajia.composition import build_services
from huajia.errors import PromptBlocked
from huajia.generation.recent import LIVE_WORKERS, Recent
from huajia.jobs.notify import POLICY, RESYNC, REVISION, InProcessNotifier, Notice
from huajia.jobs.requests import GenerationCommand
from huajia.settings import Settings

ALICE = Principal("k-alice", "alice", Role.EDITOR)
ADMIN = Principal("k-admin", "ops", Role.ADMIN)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting(values: list[str]) -> tuple[list[int], Callable[[], str]]:
    reads = [0]

    def load() -> str:
        reads[0] += 1
        return values[-1]

    return reads, load


def test_a_value_is_kept_its_moment_then_read_again() -> None:
    clock = Clock()
    recent = Recent(InProcessNotifier(), seconds=1.0, clock=clock)
    reads, load = counting(["v1"])
    assert recent.read(POLICY, "k", load) == "v1"
    clock.now += 0.5
    assert recent.read(POLICY, "k", load) == "v1"
    assert reads == [1]
    clock.now += 0.6
    recent.read(POLICY, "k", load)
    assert reads == [2]


def test_a_policy_notice_drops_the_rules_only_and_resync_drops_everything() -> None:
    notifier = InProcessNotifier()
    recent = Recent(notifier, seconds=3600.0, clock=Clock())
    values = ["old"]
    reads, load = counting(values)
    for topic in (POLICY, LIVE_WORKERS):
        recent.read(topic, "x", load)
    assert reads == [2]

    values.append("new")
    notifier.send([Notice(POLICY, "some-key")])
    notifier.send([Notice(REVISION, "z-image-turbo")])  # not kept here: nothing to drop
    assert recent.read(POLICY, "x", load) == "new"
    assert recent.read(LIVE_WORKERS, "x", load) == "old"
    assert reads == [3]

    notifier.send([Notice(RESYNC)])
    assert recent.read(LIVE_WORKERS, "x", load) == "new"


def test_a_read_that_races_a_notice_is_not_kept() -> None:
    notifier = InProcessNotifier()
    recent = Recent(notifier, seconds=3600.0, clock=Clock())
    reads = [0]

    def load_while_it_changes() -> str:
        reads[0] += 1
        if reads[0] == 1:  # the change commits and is announced while this read runs
            notifier.send([Notice(POLICY, "k")])
            return "before the change"
        return "after the change"

    assert recent.read(POLICY, "k", load_while_it_changes) == "before the change"
    assert recent.read(POLICY, "k", load_while_it_changes) == "after the change"


@pytest.fixture
def two_apis(tiny_model_dir: Path, tmp_path: Path, store_url: str) -> Iterator[list[Services]]:
    """Two API processes' services on one database, each with its own notice channel."""
    settings = Settings(data_dir=tmp_path, model=str(tiny_model_dir),
                        store_url=SecretStr(store_url))  # fmt: skip
    built = [build_services(settings), build_services(settings)]
    yield built
    for services in built:
        services.store.close()


def submit(services: Services, prompt: str) -> None:
    services.generation.submit(ALICE, GenerationCommand(prompt=prompt), None)


def test_a_policy_set_on_one_api_applies_on_the_other_once_its_notice_arrives(
    two_apis: list[Services],
) -> None:
    here, there = two_apis
    there.generation.recent.keep_seconds = 3600.0  # only the notice can refresh it
    submit(there, "a secret launch")  # the rules are read and kept there

    here.generation.policies.save(ADMIN, {"blocked_terms": ["secret launch"]})
    with pytest.raises(PromptBlocked):  # the process that made the change: at once
        submit(here, "a secret launch")

    deadline = time.monotonic() + 10
    while True:
        try:
            submit(there, "a secret launch")
        except PromptBlocked:
            break
        assert time.monotonic() < deadline, "the other API never heard of the new policy"
        time.sleep(0.05)
