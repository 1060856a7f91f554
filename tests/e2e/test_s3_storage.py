"""Images in an S3-compatible bucket instead of the local folder (the multi-machine setup)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from huajia.images.encode import read_parameters
from tests.e2e.flows import submit, wait_for
from tests.support.server import start_huajia

boto3 = pytest.importorskip("boto3", reason="boto3 is needed only for S3 storage")

pytestmark = pytest.mark.e2e


def test_images_go_to_the_bucket_and_are_served_from_it(
    tiny_model_dir: Path, tmp_path: Path, s3_endpoint: str
) -> None:
    bucket = f"huajia-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    s3.create_bucket(Bucket=bucket)
    env = {
        "HUAJIA_STORAGE": "s3", "HUAJIA_S3_BUCKET": bucket, "HUAJIA_S3_ENDPOINT_URL": s3_endpoint,
        "HUAJIA_S3_REGION": "us-east-1", "HUAJIA_S3_ACCESS_KEY": "testing",
        "HUAJIA_S3_SECRET_KEY": "testing",
    }  # fmt: skip
    server = start_huajia(tmp_path / "data", tiny_model_dir, env)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            task = submit(client, seed=3, num_images=2)
            wait_for(client, task["task_id"], {"completed"})
            result = client.get(f"/api/v1/tasks/{task['task_id']}/result").json()
            for image in result["images"]:
                response = client.get(image["url"])
                assert response.status_code == 200
                assert response.headers["content-type"] == "image/png"
                assert read_parameters(response.content)["seed"] == image["seed"]
                with Image.open(io.BytesIO(response.content)) as picture:
                    assert picture.size == (64, 64)
            assert client.get("/generated-images/20250101/missing.png").status_code == 404
    finally:
        server.stop()
    objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert len(objects) == 4, "two images and two thumbnails"
    assert all(item["Key"].startswith("huajia/") for item in objects)
    assert not (tmp_path / "data" / "images").exists(), "nothing written to the local folder"
