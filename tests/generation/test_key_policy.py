"""Per-key policy through the real services on SQLite and PostgreSQL: the rate limit is exact
under parallel submits, plain edits obey the prompt rules, refusals are audited."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from pydantic import SecretStr

from huajia.api.deps import Services
from huajia.auth.keys import Principal, Role
from huajia.composition import build_services
from huajia.edits.operation import TextOverlay
from huajia.errors import Forbidden, PromptBlocked, RateLimited
from huajia.images.sources import from_pixels
from huajia.jobs.requests import GenerationCommand
from huajia.policy import PolicyRules
from huajia.settings import Settings

ALICE = Principal("k-alice", "alice", Role.EDITOR)
BOB = Principal("k-bob", "bob", Role.EDITOR)


@pytest.fixture
def services(tiny_model_dir: Path, tmp_path: Path, store_url: str) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path, model=str(tiny_model_dir),
                        store_url=SecretStr(store_url))  # fmt: skip
    built = build_services(settings)
    yield built
    built.store.close()


def ask(services: Services, who: Principal, prompt: str = "a lantern", **fields: object) -> str:
    command = GenerationCommand(prompt=prompt, **fields)  # type: ignore[arg-type]
    return services.generation.submit(who, command, None).task.id


def test_the_rate_limit_is_exact_under_parallel_submits(services: Services) -> None:
    services.store.policy.put(PolicyRules(rate_per_minute=5), "admin", ALICE.key_id)

    def one(index: int) -> str | RateLimited:
        try:
            return ask(services, ALICE, f"a lantern number {index}")
        except RateLimited as refused:
            return refused

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(one, range(30)))
    accepted = [item for item in outcomes if isinstance(item, str)]
    assert len(accepted) == 5, f"{len(accepted)} accepted at 5 a minute"
    assert all(0 < item.retry_after <= 60 for item in outcomes if isinstance(item, RateLimited))
    assert services.store.pending_count() == 5
    ask(services, BOB)  # another key is not limited


def test_plain_edits_obey_the_prompt_rules_and_uploads_count_as_requests(
    services: Services,
) -> None:
    services.store.policy.put(
        PolicyRules(blocked_terms=("清仓",), audit_prompts=True, rate_per_minute=2), "admin"
    )
    image = services.editing.upload(ALICE, from_pixels(Image.new("RGB", (64, 64))), "a.png")
    with pytest.raises(PromptBlocked, match="清仓"):
        services.editing.retouch(ALICE, image.id, [TextOverlay(text="全场清仓 五折")])
    services.editing.retouch(
        ALICE, image.id, [TextOverlay(text="新品上市")]
    )  # the 2nd (refusals do not count)
    with pytest.raises(RateLimited):
        services.editing.upload(ALICE, from_pixels(Image.new("RGB", (64, 64))), "b.png")

    events, _ = services.store.audit_trail(action="prompt.blocked")
    assert [event.detail for event in events] == [
        {"rule_kind": "term", "rule": "清仓", "prompt": "全场清仓 五折"}
    ], "audit_prompts on: the refused text is kept for the reviewers"


def test_a_reviewer_submits_like_an_editor(services: Services) -> None:
    reviewer = Principal("k-rev", "proof-reader", Role.REVIEWER)
    ask(services, reviewer, priority="low")
    with pytest.raises(Forbidden):
        ask(services, reviewer, priority="high")
