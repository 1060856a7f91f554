"""Task store behaviour: panel preferences and prompt history per key (PrefsStore).

Every test runs against SQLite and PostgreSQL (the `store` fixture is parametrized).
"""

from __future__ import annotations

from huajia.jobs import TaskStore
from tests.jobs.helpers import a_task


def test_preferences_are_kept_per_key_and_replaced_whole(store: TaskStore) -> None:
    assert store.prefs.get("k1") is None
    store.prefs.put("k1", {"style": "anime", "count": 4})
    store.prefs.put("k2", {"lang": "zh-CN"})
    store.prefs.put("k1", {"count": 2})

    assert store.prefs.get("k1") == {"count": 2}
    assert store.prefs.get("k2") == {"lang": "zh-CN"}


def test_history_lists_distinct_prompts_newest_first_and_searches(store: TaskStore) -> None:
    for prompt in ("a red kite", "港口的清晨", "a red kite", "a blue door"):
        store.create(a_task(owner="k1", prompt=prompt, preset="anime"))
    store.create(a_task(owner="k2", prompt="someone else's secret"))

    recent = store.prefs.history("k1")
    found = store.prefs.history("k1", text="RED")

    assert [(e.prompt, e.times) for e in recent] == [
        ("a blue door", 1), ("a red kite", 2), ("港口的清晨", 1),
    ]  # fmt: skip
    assert recent[0].style_preset == "anime"
    assert [e.prompt for e in found] == ["a red kite"]
    assert [e.prompt for e in store.prefs.history("k1", text="港口")] == ["港口的清晨"]
    assert store.prefs.history("k1", limit=1)[0].prompt == "a blue door"
