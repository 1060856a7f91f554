"""deploy/: the compose file is valid Compose, the unit files are valid systemd units, and every
stop timeout leaves a draining Huajia its `drain_seconds` and the time to exit after them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from huajia.api.shutdown import CLOSE_SECONDS
from huajia.cli.serve import WORKER_EXIT_GRACE_S
from huajia.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# The Compose Specification's JSON schema, vendored (see COMPOSE_SCHEMA.md).
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")
# After drain_seconds a worker stops its batch at the next step, hands it back and exits;
# `huajia serve` waits that long for its workers, then closes the HTTP server.
EXIT_MARGIN_S = WORKER_EXIT_GRACE_S + CLOSE_SECONDS
DEFAULT_DRAIN = Settings.model_fields["drain_seconds"].default


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def seconds(value: str) -> float:
    """`90s`, `1m30s` or `90` (compose and systemd durations) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "": 1}
    parts = re.fullmatch(r"((\d+(?:\.\d+)?)(h|m|s|)\s*)+", value.strip())
    assert parts, f"not a duration: {value!r}"
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|m|s|)", value))


# --- compose -------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = [str(error) for error in jsonschema_rs.validator_for(schema).iter_errors(compose())]
    assert errors == []


def test_the_schema_check_can_fail() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    broken = compose()
    broken["services"]["api"]["stop_grace_period"] = ["90s"]
    broken["services"]["worker-0"]["restrat"] = "always"
    assert len(list(jsonschema_rs.validator_for(schema).iter_errors(broken))) == 2


def test_compose_runs_postgres_s3_one_api_and_two_gpu_workers() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on a missing {needed}"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["minio"]["image"].startswith("minio/minio")
    huajia = {name: s for name, s in services.items() if s.get("image", "").startswith("huajia")}
    commands = sorted(s["command"][0] for s in huajia.values())
    assert commands == ["serve", "worker", "worker"]
    assert huajia["api"]["command"] == ["serve", "--no-worker"]
    for name, service in huajia.items():
        env = service["environment"]
        assert env["HUAJIA_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "@postgres:" in env["HUAJIA_DATABASE_URL"]
        assert (
            env["HUAJIA_STORAGE"] == "s3" and env["HUAJIA_S3_ENDPOINT_URL"] == "http://minio:9000"
        )
        assert env["HUAJIA_LABEL_SECRET"], "workers on several machines must share the label key"
        drain = float(env.get("HUAJIA_DRAIN_SECONDS", DEFAULT_DRAIN))
        assert seconds(service["stop_grace_period"]) >= drain + EXIT_MARGIN_S, name
    gpus = [
        device["device_ids"]
        for name in ("worker-0", "worker-1")
        for device in huajia[name]["deploy"]["resources"]["reservations"]["devices"]
    ]
    assert gpus == [["0"], ["1"]], "one GPU each"
    assert "/api/v1/health" in " ".join(huajia["api"]["healthcheck"]["test"])


def test_compose_creates_the_bucket_huajia_uses() -> None:
    services = compose()["services"]
    bucket = services["api"]["environment"]["HUAJIA_S3_BUCKET"]
    assert services["bucket"]["entrypoint"][-1].endswith("/" + bucket)


# --- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_runs_unprivileged_and_drains_on_stop() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    instructions = re.findall(r"(?m)^([A-Z]+)\s+(.*)$", text)
    users = [value for op, value in instructions if op == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("STOPSIGNAL", "SIGTERM") in instructions
    healthcheck = next(value for op, value in instructions if op == "HEALTHCHECK")
    assert healthcheck.startswith("--")
    assert "/api/v1/health" in text.split("HEALTHCHECK", 1)[1]
    assert 'pip install --index-url "${TORCH_INDEX}" "${TORCH}"' in text
    assert "ARG BASE_IMAGE=debian:" in text and "nvidia/cuda:" in text


# --- systemd -------------------------------------------------------------------------------


def unit(name: str) -> dict[str, str]:
    """A unit's settings (the last value of a repeated key wins, as in systemd)."""
    found: dict[str, str] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found[key.strip()] = value.strip()
    return found


def env_file() -> dict[str, str]:
    lines = (DEPLOY / "systemd" / "huajia.env").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}  # noqa: C416 (pairs of two)


@pytest.mark.parametrize("name", ["huajia-api.service", "huajia-worker@.service"])
def test_units_stop_after_the_drain_and_are_hardened(name: str) -> None:
    settings = unit(name)
    drain = float(env_file().get("HUAJIA_DRAIN_SECONDS", DEFAULT_DRAIN))
    assert seconds(settings["TimeoutStopSec"]) >= drain + EXIT_MARGIN_S
    assert settings["KillMode"] in {"mixed", "control-group"}
    assert settings["KillSignal"] == "SIGTERM" and settings["Restart"] == "on-failure"
    assert settings["EnvironmentFile"] == "/etc/huajia/huajia.env"
    assert settings["NoNewPrivileges"] == "yes" and settings["ProtectSystem"] == "strict"
    assert env_file()["HUAJIA_DATA_DIR"] in settings["ReadWritePaths"].split()
    assert settings["User"] != "root"


def test_the_api_unit_runs_no_worker_and_each_worker_sees_its_gpu() -> None:
    assert unit("huajia-api.service")["ExecStart"].endswith("huajia serve --no-worker")
    worker = unit("huajia-worker@.service")
    assert worker["ExecStart"].endswith("huajia worker")
    assert worker["Environment"] == "CUDA_VISIBLE_DEVICES=%i"


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    executable = shutil.which("true") or "/bin/true"  # verify wants ExecStart to exist
    for name, copy in [("huajia-api.service", "huajia-api.service"),
                       ("huajia-worker@.service", "huajia-worker@0.service")]:  # fmt: skip
        text = (DEPLOY / "systemd" / name).read_text()
        (tmp_path / copy).write_text(text.replace("/opt/huajia/venv/bin/huajia", executable))
    checked = subprocess.run(
        [analyze, "verify", "--man=no", "huajia-api.service", "huajia-worker@0.service"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stderr


# --- Kubernetes ----------------------------------------------------------------------------


def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    documents = [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in load_all(path)]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents if "metadata" in doc}


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"]
    present = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(present)


def test_pods_get_the_drain_and_the_api_moves_out_of_the_balancer_first() -> None:
    manifests = k8s()
    drain = float(manifests["ConfigMap", "huajia-settings"]["data"]["HUAJIA_DRAIN_SECONDS"])
    for name in ("huajia-api", "huajia-worker"):
        deployment = manifests["Deployment", name]
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
        pause = float(pre_stop["command"][-1]) if pre_stop else 0.0
        assert pod["terminationGracePeriodSeconds"] >= pause + drain + EXIT_MARGIN_S, name
        assert pod["securityContext"]["runAsNonRoot"] is True
        sources = {
            ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]
        }
        assert sources == {"huajia-settings", "huajia-secrets"}
    api = manifests["Deployment", "huajia-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["serve", "--no-worker"]
    assert api["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert api["readinessProbe"]["httpGet"]["path"] == "/api/v1/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/api/v1/health"
    hosts = json.loads(manifests["ConfigMap", "huajia-settings"]["data"]["HUAJIA_ALLOWED_HOSTS"])
    probe_host = api["readinessProbe"]["httpGet"]["httpHeaders"][0]["value"]
    assert probe_host in hosts, "the probes' Host must be allowed, or they answer 400"


def test_gpu_workers_request_one_gpu_and_the_service_reaches_the_api() -> None:
    manifests = k8s()
    worker = manifests["Deployment", "huajia-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["args"] == ["worker"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    service = manifests["Service", "huajia-api"]
    api = manifests["Deployment", "huajia-api"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= api.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    secret_keys = set(manifests["Secret", "huajia-secrets"]["stringData"])
    assert {"HUAJIA_DATABASE_URL", "HUAJIA_S3_SECRET_KEY", "HUAJIA_LABEL_SECRET"} <= secret_keys
    settings = set(manifests["ConfigMap", "huajia-settings"]["data"])
    assert not settings & secret_keys, "secrets stay out of the ConfigMap"
    known = {f"HUAJIA_{name.upper()}" for name in Settings.model_fields}
    assert settings | secret_keys <= known, "every key is a Huajia setting"
