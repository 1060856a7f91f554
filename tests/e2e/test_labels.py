"""AI labels through a real server: TC260 label, visible mark and C2PA on fetched files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from huajia.images.c2pa import read_credentials
from huajia.images.encode import read_parameters, read_xmp
from huajia.images.labels import Tc260Label, read_label
from huajia.images.provenance import AI_SOURCE_TYPE
from tests.e2e.flows import submit, wait_for
from tests.support.certs import make_signing_files
from tests.support.server import ServerProcess, StartServer, huajia_command

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    """A server that signs (C2PA) and marks what it makes."""
    files = make_signing_files(tmp_path_factory.mktemp("c2pa"))
    env = {
        "HUAJIA_C2PA_CERT_FILE": str(files.cert_file),
        "HUAJIA_C2PA_KEY_FILE": str(files.key_file),
        "HUAJIA_VISIBLE_MARK": "true",
        "HUAJIA_VISIBLE_MARK_TEXT": "AI generated",
        "HUAJIA_VISIBLE_MARK_CORNER": "top-left",
        "HUAJIA_LABEL_PRODUCER": "Acme Media",
    }
    return start_server(env)


def generated(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    accepted = submit(client, **fields)
    wait_for(client, accepted["task_id"], {"completed"})
    result = client.get(f"/api/v1/tasks/{accepted['task_id']}/result").json()
    return dict(result["images"][0])


def label_of(data: bytes) -> Tc260Label:
    label = read_label(read_xmp(data) or "")
    assert label is not None, "the file carries no TC260 label"
    return label


def exiftool_produce_id(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "fetched"
    path.write_bytes(data)
    out = subprocess.run(["exiftool", "-json", "-XMP-TC260:AIGC", str(path)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return str(json.loads(json.loads(out.stdout)[0]["Aigc"])["ProduceID"])


def test_health_says_c2pa_signs(client: httpx.Client) -> None:
    health = client.get("/api/v1/health").json()
    assert health["c2pa"] == "signing"
    assert "pem" not in json.dumps(health).lower(), "no paths in health"


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_a_generated_file_is_labelled_marked_and_signed(
    client: httpx.Client, server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    image = generated(client, output_format=fmt, width=128, height=96)
    data = client.get(image["url"]).content
    label = label_of(data)
    assert (label.Label, label.ProduceID, label.ContentProducer) == ("1", image["id"], "Acme Media")
    if shutil.which("exiftool"):
        assert exiftool_produce_id(data, tmp_path) == image["id"]
    assert read_parameters(data)["visible_mark"] == {"text": "AI generated", "corner": "top-left"}
    credentials = read_credentials(data, f"image/{fmt}")
    assert credentials.state in {"Valid", "Trusted"}, credentials.failures
    assert credentials.actions == ("c2pa.created",)
    assert credentials.source_types == (AI_SOURCE_TYPE,)
    assert label_of(client.get(image["thumbnail_url"]).content).ProduceID == image["id"]
    (tmp_path / f"image.{fmt}").write_bytes(data)
    inspected = huajia_command(["inspect", str(tmp_path / f"image.{fmt}")],
                               server.data_dir)  # fmt: skip
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    assert "label integrity: valid" in inspected.stdout


def test_a_retouched_image_names_its_own_record(client: httpx.Client) -> None:
    source = generated(client)
    edits = {"edits": [{"kind": "adjust", "brightness": 1.1}]}
    answer = client.post(f"/api/v1/images/{source['id']}/edits", json=edits)
    assert answer.status_code == 201, answer.text
    edited = answer.json()
    data = client.get(edited["url"]).content
    assert label_of(data).ProduceID == edited["id"] != source["id"]
    assert read_credentials(data, "image/png").state in {"Valid", "Trusted"}
