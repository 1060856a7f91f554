"""Task store behaviour: the audit trail (AuditLog).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from huajia.jobs import TaskStore


def test_the_trail_is_newest_first_filtered_and_paged(store: TaskStore) -> None:
    store.audit("k1", "cms", "task.create", "t1", {"num_images": 2})
    store.audit("k2", "editor", "task.create", "t2")
    store.audit("k1", "cms", "task.cancel", "t1", {"was": "pending"})

    everything, total = store.audit_trail()
    mine, mine_total = store.audit_trail(actor="k1")
    created, created_total = store.audit_trail(action="task.create", limit=1, offset=1)

    assert total == 3
    assert [(e.actor, e.action, e.target) for e in everything] == [
        ("k1", "task.cancel", "t1"), ("k2", "task.create", "t2"), ("k1", "task.create", "t1")
    ]  # fmt: skip
    assert everything[0].detail == {"was": "pending"}
    assert everything[0].at >= everything[1].at >= everything[2].at
    assert everything[0].at.tzinfo is not None
    assert mine_total == 2 and {e.actor for e in mine} == {"k1"}
    assert created_total == 2
    assert [(e.actor, e.target) for e in created] == [("k1", "t1")]
