"""LocalBlobStore: the shared behaviour suite plus what only a folder on disk can get wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from huajia.errors import InvalidRequest, NotFound
from huajia.storage.local import LocalBlobStore
from tests.storage.behaviour import KEY, TRAVERSALS, BlobStoreBehaviour


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "images"


@pytest.fixture
def store(root: Path) -> LocalBlobStore:
    return LocalBlobStore(root)


class TestLocalBlobStore(BlobStoreBehaviour):
    pass


def test_files_land_in_date_folders(store: LocalBlobStore, root: Path) -> None:
    store.put(KEY, b"png", "image/png")
    assert (root / "20250314" / "task42-0-0123456789abcdef.png").read_bytes() == b"png"


def test_local_path_points_at_the_stored_file(store: LocalBlobStore, root: Path) -> None:
    store.put(KEY, b"png", "image/png")
    path = store.local_path(KEY)
    assert path is not None
    assert path.read_bytes() == b"png"
    assert path.is_relative_to(root.resolve())


def test_local_path_of_a_missing_key_is_not_found(store: LocalBlobStore) -> None:
    with pytest.raises(NotFound):
        store.local_path(KEY)


def test_no_temporary_files_are_left_behind(store: LocalBlobStore, root: Path) -> None:
    for n in range(3):
        store.put(KEY, bytes([n]) * 1000, "image/png")
    assert [path.name for path in (root / "20250314").iterdir()] == [
        "task42-0-0123456789abcdef.png"
    ]


def test_failed_write_keeps_the_old_version(
    store: LocalBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put(KEY, b"old", "image/png")

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.put(KEY, b"new", "image/png")
    assert store.get(KEY) == b"old"
    assert len(list((root / "20250314").iterdir())) == 1


@pytest.mark.parametrize("key", TRAVERSALS)
def test_writing_outside_the_scheme_is_refused(
    store: LocalBlobStore, tmp_path: Path, key: str
) -> None:
    with pytest.raises(InvalidRequest):
        store.put(key, b"owned", "image/png")
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written == []


def test_traversal_cannot_read_a_real_file_beside_the_root(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("password")
    store.put(KEY, b"png", "image/png")
    for key in ("../secret.txt", "20250314/../../secret.txt", str(tmp_path / "secret.txt")):
        with pytest.raises(NotFound):
            store.get(key)


def test_symlinked_date_folder_leading_out_is_refused(
    store: LocalBlobStore, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"secret")
    root.mkdir()
    (root / "20250101").symlink_to(outside, target_is_directory=True)
    key = "20250101/secret.png"
    assert not store.exists(key)
    for read in (store.get, store.size, store.local_path):
        with pytest.raises(NotFound):
            read(key)
    with pytest.raises(NotFound):
        store.put("20250101/planted.png", b"x", "image/png")
    assert not (outside / "planted.png").exists()


def test_symlinked_file_leading_out_is_refused(
    store: LocalBlobStore, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "passwd").write_text("root:x:0:0")
    (root / "20250101").mkdir(parents=True)
    (root / "20250101" / "link.png").symlink_to(tmp_path / "passwd")
    with pytest.raises(NotFound):
        store.get("20250101/link.png")
    with pytest.raises(NotFound):
        store.delete("20250101/link.png")
    assert (tmp_path / "passwd").read_text() == "root:x:0:0"


def test_repr_names_the_folder(store: LocalBlobStore, root: Path) -> None:
    assert str(root) in repr(store)
