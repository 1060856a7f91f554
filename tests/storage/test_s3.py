"""S3BlobStore against a real S3-compatible server (moto's server mode), skipped without one."""

from __future__ import annotations

import uuid

import pytest

from huajia.errors import InvalidRequest
from tests.storage.behaviour import KEY, TRAVERSALS, BlobStoreBehaviour

boto3 = pytest.importorskip("boto3", reason="boto3 is needed only for S3 storage")
from huajia.storage.s3 import S3BlobStore  # noqa: E402  (after the importorskip)


@pytest.fixture
def store(s3_endpoint: str) -> S3BlobStore:
    bucket = f"huajia-{uuid.uuid4().hex[:12]}"
    store = S3BlobStore.connect(
        bucket,
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        prefix="images",
    )
    store._client.create_bucket(Bucket=bucket)
    return store


class TestS3BlobStore(BlobStoreBehaviour):
    pass


def test_objects_carry_their_content_type_and_prefix(store: S3BlobStore) -> None:
    store.put(KEY, b"RIFF....WEBP", "image/webp")
    answer = store._client.head_object(Bucket=store.bucket, Key=f"images/{KEY}")
    assert answer["ContentType"] == "image/webp"


def test_no_local_path_for_objects(store: S3BlobStore) -> None:
    store.put(KEY, b"png", "image/png")
    assert store.local_path(KEY) is None


@pytest.mark.parametrize("key", TRAVERSALS)
def test_writing_outside_the_scheme_is_refused(store: S3BlobStore, key: str) -> None:
    with pytest.raises(InvalidRequest):
        store.put(key, b"owned", "image/png")
    listing = store._client.list_objects_v2(Bucket=store.bucket)
    assert listing.get("KeyCount", 0) == 0
