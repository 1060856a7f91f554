"""Style presets and LoRAs in the store: versioned, retired, seeded; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from huajia.errors import AlreadyExists, NotFound
from huajia.jobs import TaskStore
from huajia.presets.model import StylePreset


def style(name: str = "brand", template: str = "{prompt}, in blue", **extra: object) -> StylePreset:
    return StylePreset.model_validate(
        {"name": name, "labels": {"zh-CN": "品牌", "en": "Brand"}, "prompt_template": template,
         **extra}
    )  # fmt: skip


def test_each_edit_is_a_new_version_and_old_versions_stay(store: TaskStore) -> None:
    first = store.presets.create(style(review_required=True), actor="k1")
    second = store.presets.update(style(template="{prompt}, in red"), actor="k2")
    assert (first.version, second.version) == (1, 2)
    current = store.presets.current("brand")
    assert current is not None and current.version == 2
    assert current.preset.prompt_template == "{prompt}, in red"
    versions = store.presets.versions("brand")
    assert [(v.version, v.actor) for v in versions] == [(1, "k1"), (2, "k2")]
    assert versions[0].preset.review_required is True
    assert versions[1].preset.review_required is None


def test_a_name_is_created_once(store: TaskStore) -> None:
    store.presets.create(style(), actor="k1")
    with pytest.raises(AlreadyExists):
        store.presets.create(style(template="{prompt} again"), actor="k1")
    assert [v.version for v in store.presets.versions("brand")] == [1]


def test_unknown_presets_are_not_found(store: TaskStore) -> None:
    assert store.presets.current("nope") is None
    with pytest.raises(NotFound):
        store.presets.update(style("nope"), actor="k1")
    with pytest.raises(NotFound):
        store.presets.retire("nope", actor="k1")
    with pytest.raises(NotFound):
        store.presets.versions("nope")


def test_retired_presets_leave_the_list_and_keep_their_versions(store: TaskStore) -> None:
    store.presets.create(style("a"), actor="k1")
    store.presets.create(style("b"), actor="k1")
    retired = store.presets.retire("a", actor="k1")
    assert retired.retired and retired.version == 2
    assert store.presets.retire("a", actor="k1").version == 2  # retiring twice: no new version
    assert [v.preset.name for v in store.presets.list()] == ["b"]
    assert [v.preset.name for v in store.presets.list(include_retired=True)] == ["a", "b"]
    revived = store.presets.update(style("a"), actor="k1")
    assert not revived.retired and revived.version == 3


def test_seeding_inserts_only_new_names_in_their_order(store: TaskStore) -> None:
    store.presets.create(style("mine", template="{prompt} by an admin"), actor="k1")
    inserted = store.presets.seed(
        [style("zeta"), style("mine", template="{prompt} from the file"), style("alpha")], "seed"
    )
    assert inserted == ["zeta", "alpha"]
    mine = store.presets.current("mine")
    assert mine is not None and mine.preset.prompt_template == "{prompt} by an admin"
    assert [v.preset.name for v in store.presets.list()] == ["mine", "zeta", "alpha"]
    assert store.presets.seed([style("zeta")], "seed") == []


def test_loras_register_retire_and_reregister(store: TaskStore) -> None:
    report = {"modules_targeted": 4, "modules_applied": 4}
    record = store.loras.register("ink", "/data/loras/ink.safetensors", "sha256:aa", report)
    assert record.report == report and not record.retired
    with pytest.raises(AlreadyExists):
        store.loras.register("ink", "/data/loras/other.safetensors", "sha256:bb", report)
    assert store.loras.retire("ink").retired
    assert store.loras.list() == []
    assert [r.name for r in store.loras.list(include_retired=True)] == ["ink"]
    again = store.loras.register("ink", "/data/loras/ink2.safetensors", "sha256:cc", report)
    assert again.identity == "sha256:cc" and not again.retired
    fetched = store.loras.get("ink")
    assert fetched is not None and fetched.path.endswith("ink2.safetensors")
    with pytest.raises(NotFound):
        store.loras.retire("nope")


def test_seeding_a_lora_follows_its_changed_file(store: TaskStore) -> None:
    store.loras.seed("ink", "/x/ink.safetensors", "sha256:aa", {})
    store.loras.seed("ink", "/x/ink.safetensors", "sha256:bb", {})
    fetched = store.loras.get("ink")
    assert fetched is not None and fetched.identity == "sha256:bb"


def test_a_preset_saved_before_control_characters_were_refused_still_reads(
    store: TaskStore,
) -> None:
    from sqlalchemy import update

    from huajia.jobs.database import transaction
    from huajia.jobs.tables import style_presets

    store.presets.create(style(), actor="k1")
    document = style().model_dump(mode="json") | {"prompt_template": "{prompt},\x0bin blue"}
    with transaction(store.engine, write=True) as connection:  # type: ignore[attr-defined]
        connection.execute(update(style_presets).values(document=document))
    current = store.presets.current("brand")
    assert current is not None and current.preset.prompt_template == "{prompt},\x0bin blue"
    assert [version.preset.name for version in store.presets.list()] == ["brand"]
