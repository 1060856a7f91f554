"""Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, Cloudflare R2...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from huajia.errors import InvalidRequest, NotFound
from huajia.storage.base import BlobStore, checked_key, is_valid_key

# What S3 servers answer for a missing object: GET says NoSuchKey, HEAD only says 404.
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore(BlobStore):
    """Objects in `bucket`, under `prefix`; the client is a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def connect(
        cls,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
    ) -> S3BlobStore:
        """A store on a bucket; keys left as None come from boto3's usual sources."""
        import boto3  # only deployments that use S3 need boto3 installed

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )
        return cls(client, bucket, prefix)

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # A single PUT is atomic in S3: readers see the old object or the new, never half.
        if not is_valid_key(key):
            raise InvalidRequest(f"{key!r} is not a valid blob key")
        self._client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        name = self._name(checked_key(key))
        with _missing_is_not_found():
            answer = self._client.get_object(Bucket=self.bucket, Key=name)
        body: bytes = answer["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        # S3 deletes are idempotent already: deleting a missing object succeeds.
        self._client.delete_object(Bucket=self.bucket, Key=self._name(checked_key(key)))

    def size(self, key: str) -> int:
        name = self._name(checked_key(key))
        with _missing_is_not_found():
            answer = self._client.head_object(Bucket=self.bucket, Key=name)
        return int(answer["ContentLength"])

    def _name(self, key: str) -> str:
        return self.prefix + key


@contextmanager
def _missing_is_not_found() -> Iterator[None]:
    """Translate botocore's 'no such object' into NotFound at the boundary."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise NotFound("no image is stored under this key") from error
        raise
