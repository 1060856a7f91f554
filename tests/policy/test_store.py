"""The policy store on SQLite and PostgreSQL: rules as data, and rate windows shared by
every process (many threads counting at once let exactly the limit through)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from huajia.auth.keys import Role, generate_key, hash_key
from huajia.jobs import TaskStore, open_store
from huajia.policy import PolicyRules

MINUTE_START = datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[TaskStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_global_rules_are_saved_replaced_and_versioned(store: TaskStore) -> None:
    assert store.policy.get() is None
    first = store.policy.put(PolicyRules(blocked_terms=("logo", "耐克")), actor="k-admin")
    second = store.policy.put(PolicyRules(rate_per_minute=5), actor="k-other")

    assert (first.version, second.version) == (1, 2)
    saved = store.policy.get()
    assert saved is not None and saved.rules == PolicyRules(rate_per_minute=5)
    assert saved.updated_by == "k-other" and saved.key_id == "*"


def test_rules_for_a_key_come_with_the_global_ones_in_one_read(store: TaskStore) -> None:
    assert store.policy.rules_for("k1") == (PolicyRules(), None)
    store.policy.put(PolicyRules(blocked_patterns=(r"air\s*jordan",)), "admin")
    store.policy.put(PolicyRules(daily_image_quota=3, review_required=True), "admin", "k1")

    shared, own = store.policy.rules_for("k1")
    assert shared.blocked_patterns == (r"air\s*jordan",)
    assert own == PolicyRules(daily_image_quota=3, review_required=True)
    assert store.policy.rules_for("k2") == (shared, None), "other keys keep the global rules"


def test_deleting_a_keys_rules_leaves_the_global_ones(store: TaskStore) -> None:
    store.policy.put(PolicyRules(rate_per_minute=9), "admin")
    store.policy.put(PolicyRules(rate_per_minute=1), "admin", "k1")

    assert store.policy.delete("k1") is True
    assert store.policy.delete("k1") is False
    assert store.policy.get("k1") is None
    assert store.policy.rules_for("k1") == (PolicyRules(rate_per_minute=9), None)


def test_a_rate_window_counts_per_key_and_frees_when_the_minute_ends(store: TaskStore) -> None:
    now = MINUTE_START + timedelta(seconds=45)
    assert [store.policy.take_request("k1", 2, now) for _ in range(2)] == [None, None]
    wait = store.policy.take_request("k1", 2, now)
    assert wait == pytest.approx(15.0)
    assert store.policy.take_request("k2", 2, now) is None, "other keys are not affected"
    next_minute = MINUTE_START + timedelta(seconds=61)
    assert store.policy.take_request("k1", 2, next_minute) is None


def test_parallel_requests_never_pass_the_rate_together(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(4)]  # like four API processes
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(
                lambda i: stores[i % 4].policy.take_request("k1", 10, MINUTE_START), range(40)
            ))  # fmt: skip
    finally:
        for opened in stores:
            opened.close()
    assert sum(answer is None for answer in answers) == 10


def test_a_reviewer_key_can_be_stored(store: TaskStore) -> None:
    secret, prefix = generate_key()
    key = store.keys.create("proof-reader", Role.REVIEWER, hash_key(secret), prefix)
    found = store.keys.find_by_hash(hash_key(secret))
    assert found is not None and found.role is Role.REVIEWER == key.role


def test_rules_saved_before_control_characters_were_refused_still_read(store: TaskStore) -> None:
    """Input refuses them now (422); a row saved earlier must not fail every request that
    reads the rules (a 500 on each generate)."""
    from sqlalchemy import update

    from huajia.jobs.database import transaction
    from huajia.jobs.tables import policies

    store.policy.put(PolicyRules(negative_prompt="blurry"), actor="k-admin")
    with transaction(store.engine, write=True) as connection:  # type: ignore[attr-defined]
        old = {"negative_prompt": "blurry\x0bwatermark"}
        connection.execute(update(policies).values(rules=old))
    saved = store.policy.get()
    assert saved is not None and saved.rules.negative_prompt == "blurry\x0bwatermark"
    with pytest.raises(ValueError, match="control characters"):
        PolicyRules.model_validate({"negative_prompt": "blurry\x0bwatermark"})
