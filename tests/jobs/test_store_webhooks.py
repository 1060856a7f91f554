"""Task store behaviour: webhooks owed by finished tasks (TaskWebhooks).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from huajia.jobs import TaskStore
from tests.jobs.helpers import a_task, run_to_completion

HOOK = "https://cms.example/hooks/huajia"


def test_a_task_owes_nothing_until_it_finishes(store: TaskStore) -> None:
    store.create(a_task(webhook_url=HOOK))  # still pending

    assert store.claim_due_webhooks(30, 5) == []


def test_delivery_outcomes_are_recorded_and_retried_until_the_last_attempt(
    store: TaskStore,
) -> None:
    done = run_to_completion(store, a_task(webhook_url=HOOK))
    run_to_completion(store, a_task())  # no webhook asked: never due

    claimed = store.claim_due_webhooks(hold_seconds=30, max_attempts=2)
    held = store.claim_due_webhooks(hold_seconds=30, max_attempts=2)
    assert [task.id for task in claimed] == [done.id]
    assert held == []  # one sender at a time

    store.record_webhook(done.id, "receiver answered HTTP 500", retry_in_seconds=0)
    retried = store.claim_due_webhooks(hold_seconds=0, max_attempts=2)
    assert [task.id for task in retried] == [done.id]
    assert retried[0].webhook_attempts == 1
    assert retried[0].webhook_error == "receiver answered HTTP 500"

    store.record_webhook(done.id, "receiver unreachable", retry_in_seconds=None)
    assert store.claim_due_webhooks(hold_seconds=0, max_attempts=5) == []  # given up
    final = store.get(done.id)
    assert (final.webhook_attempts, final.webhook_delivered_at) == (2, None)


def test_a_delivered_webhook_is_never_due_again(store: TaskStore) -> None:
    done = run_to_completion(store, a_task(webhook_url=HOOK))
    store.claim_due_webhooks(hold_seconds=30, max_attempts=3)

    store.record_webhook(done.id, None, None)

    assert store.claim_due_webhooks(hold_seconds=0, max_attempts=3) == []
    delivered = store.get(done.id)
    assert delivered.webhook_delivered_at is not None
    assert delivered.webhook_error is None
