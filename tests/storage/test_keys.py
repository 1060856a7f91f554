"""The key scheme: dated folders, unguessable names, nothing that could be a path trick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from huajia.errors import InvalidRequest, NotFound
from huajia.storage.base import is_valid_key, new_image_key, thumbnail_key

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def test_key_sits_in_a_date_folder_with_the_extension() -> None:
    key = new_image_key("7f3c9a2e-1b4d-4c8e-9f00-123456789abc", 2, "webp", NOON)
    folder, name = key.split("/")
    assert folder == "20250314"
    assert name.startswith("7f3c9a2e-1b4d-4c8e-9f00-123456789abc-2-")
    assert name.endswith(".webp")
    assert is_valid_key(key)


def test_keys_never_repeat_for_the_same_image() -> None:
    keys = {new_image_key("task", 0, "png", NOON) for _ in range(1000)}
    assert len(keys) == 1000


def test_random_part_is_long_enough_to_be_unguessable() -> None:
    name = new_image_key("t", 0, "png", NOON).split("/")[1]
    random_part = name.removeprefix("t-0-").removesuffix(".png")
    assert len(random_part) >= 32


def test_date_folder_is_the_utc_day() -> None:
    beijing = timezone(timedelta(hours=8))
    early_morning_in_beijing = datetime(2025, 3, 15, 6, 0, tzinfo=beijing)
    assert new_image_key("t", 0, "png", early_morning_in_beijing).startswith("20250314/")


def test_hostile_task_id_cannot_shape_the_key() -> None:
    key = new_image_key("../../etc/passwd\x00", 0, "png", NOON)
    assert is_valid_key(key)
    assert ".." not in key
    assert key.count("/") == 1


@pytest.mark.parametrize("extension", ["", "PNG", "png/../x", ".png", "p n g", "toolongext"])
def test_bad_extension_is_refused(extension: str) -> None:
    with pytest.raises(InvalidRequest, match="extension"):
        new_image_key("task", 0, extension, NOON)


def test_thumbnail_sits_beside_its_image() -> None:
    key = new_image_key("task", 0, "png", NOON)
    thumb = thumbnail_key(key)
    assert thumb == key.removesuffix(".png") + ".thumb.webp"
    assert is_valid_key(thumb)
    with pytest.raises(NotFound):
        thumbnail_key("../etc/passwd")
