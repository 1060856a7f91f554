"""Schemathesis over the whole OpenAPI document of a live `huajia serve` with its worker.

Every operation is fuzzed three times: by a caller without a key while no key exists (localhost
open mode), with an editor key, and with a wrong key. Every answer must be a non-5xx status the
document declares, in the declared media type, with the declared body and headers.

Bounded and seeded so CI stays fast and reproducible: a fixed seed, derandomized Hypothesis, no
example database, a few examples per operation; the coverage phase (schemathesis's boundary and
wrong-type cases) runs once, with the editor key. The worker runs on the CPU here, so generation
requests the server would accept are shrunk to a few small images (`cheapen`; values it must
refuse are sent as generated), and the queue is kept short (HUAJIA_QUEUE_MAX): a burst of tasks
answers 429 with Retry-After, which the document declares, instead of piling up work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from huajia.engine.models import ModelLimits, spec_for_folder
from tests.support.server import ServerProcess, huajia_command, start_huajia

pytestmark = pytest.mark.e2e

Case = schemathesis.Case[Any]
SEED = 20261129
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})
WRONG_KEY = "hj_this_key_was_never_issued_000000000000"
GENERATION_PATHS = frozenset({"/api/v1/generate", "/v1/images/generations"})
CHEAP_IMAGES, CHEAP_STEPS, CHEAP_SIDE = 2, 4, 64


def fuzz_config(max_examples: int, phases: set[str]) -> schemathesis.Config:
    """A seeded, derandomized run of the given phases that writes no example database."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "request-timeout": 60,
            "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
            "phases": {
                name: {"enabled": name in phases}
                for name in ("examples", "coverage", "fuzzing", "stateful")
            },
            # The OpenAI route answers only once its images exist: its cases cost the most.
            "operations": [
                {
                    "include-operation-id": "openaiCreateImage",
                    "generation": {"max-examples": min(max_examples, 8)},
                }
            ],
        }
    )


def load_schema(server: ServerProcess, config: schemathesis.Config) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)


def send_as(case: Case, credentials: dict[str, str]) -> None:
    """Replace whatever credentials were generated with `credentials` (empty: none at all)."""
    for name in [name for name in case.headers if name.lower() in CREDENTIAL_HEADERS]:
        del case.headers[name]
    case.headers.update(credentials)


def cheapen(case: Case, limits: ModelLimits) -> None:
    """Shrink a generation request the server would accept; refused values stay as they are."""
    body = case.body
    if case.operation.path not in GENERATION_PATHS or not isinstance(body, dict):
        return
    caps = {"num_images": (CHEAP_IMAGES, limits.max_images), "n": (CHEAP_IMAGES, limits.max_images),
            "steps": (CHEAP_STEPS, limits.max_steps)}  # fmt: skip
    for name, (cheap, most) in caps.items():
        value = body.get(name)
        if type(value) is int and cheap < value <= most:
            body[name] = cheap
    for name in ("width", "height"):
        if name in body:
            body[name] = _cheap_side(body[name], limits)
    size = body.get("size")
    if isinstance(size, str) and (sides := re.fullmatch(r"([0-9]{1,5})([xX])([0-9]{1,5})", size)):
        width, height = _cheap_side(int(sides[1]), limits), _cheap_side(int(sides[3]), limits)
        body["size"] = f"{width}{sides[2]}{height}"


def _cheap_side(value: Any, limits: ModelLimits) -> Any:
    """CHEAP_SIDE for a side the model accepts and that is larger; anything else unchanged."""
    if type(value) is not int or not CHEAP_SIDE < value <= limits.max_size:
        return value
    return CHEAP_SIDE if value % limits.size_multiple == 0 else value


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's `from_fixture` reads `node._nodeid`, which pytest 9.2 no longer has.

    It only renames the node for its report, so the node's own id serves.
    """
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="module")
def server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("attack-data")
    process = start_huajia(data, tiny_model_dir, {"HUAJIA_QUEUE_MAX": "3"})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def limits(tiny_model_dir: Path) -> ModelLimits:
    return spec_for_folder(tiny_model_dir).limits


@pytest.fixture
def no_key_yet(server: ServerProcess) -> None:
    health = httpx.get(f"{server.url}/api/v1/health", timeout=10).json()
    assert not health["auth_required"], "open mode must be fuzzed before any key exists"


@pytest.fixture(scope="module")
def editor_key(server: ServerProcess) -> str:
    made = huajia_command(["keys", "create", "fuzzer", "--role", "editor"], server.data_dir)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture(scope="module")
def open_schema(server: ServerProcess) -> BaseSchema:
    return load_schema(server, fuzz_config(12, {"examples", "fuzzing"}))


@pytest.fixture(scope="module")
def editor_schema(server: ServerProcess) -> BaseSchema:
    return load_schema(server, fuzz_config(12, {"examples", "coverage", "fuzzing"}))


@pytest.fixture(scope="module")
def wrong_key_schema(server: ServerProcess) -> BaseSchema:
    # Every protected route refuses a wrong key before it reads anything else.
    return load_schema(server, fuzz_config(10, {"fuzzing"}))


open_api = schemathesis.pytest.from_fixture("open_schema")
editor_api = schemathesis.pytest.from_fixture("editor_schema")
wrong_key_api = schemathesis.pytest.from_fixture("wrong_key_schema")


# Runs first (pytest keeps file order): creating the editor key below ends open mode for good.
@open_api.parametrize()
def test_without_a_key_while_none_exists(case: Case, limits: ModelLimits, no_key_yet: None) -> None:
    cheapen(case, limits)
    send_as(case, {})
    case.call_and_validate(checks=CHECKS)


@editor_api.parametrize()
def test_with_an_editor_key(case: Case, limits: ModelLimits, editor_key: str) -> None:
    cheapen(case, limits)
    send_as(case, {"Authorization": f"Bearer {editor_key}"})
    case.call_and_validate(checks=CHECKS)


@wrong_key_api.parametrize()
def test_with_a_wrong_key(case: Case, editor_key: str) -> None:
    # Generated credentials stay (malformed ones exercise the header parser); a case without
    # any gets a well-formed key that was never issued.
    if not any(name.lower() in CREDENTIAL_HEADERS for name in case.headers):
        send_as(case, {"Authorization": f"Bearer {WRONG_KEY}"})
    case.call_and_validate(checks=CHECKS)


def test_answers_the_fuzzer_cannot_reach_match_the_document(
    server: ServerProcess, editor_key: str
) -> None:
    """A foreign Host header (400) and an oversized body (413), checked like fuzzed answers."""
    schema = load_schema(server, fuzz_config(1, {"examples"}))
    bearer = {"Authorization": f"Bearer {editor_key}"}
    generate = schema["/api/v1/generate"]["POST"]
    cases = {
        400: schema["/api/v1/health"]["GET"].Case(headers={"Host": "attacker.example"}),
        413: generate.Case(headers=bearer, body={"prompt": "x" * 100_000}),
    }
    for status, case in cases.items():
        response = case.call_and_validate(checks=CHECKS)
        assert response.status_code == status, response.text


def test_every_operation_declares_what_any_route_may_answer(server: ServerProcess) -> None:
    """The Host check and body limits answer before any route runs (the fuzzer sends neither a
    foreign Host nor a stalled body); every 429 says when to retry."""
    document = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared, name = operation["responses"], f"{method.upper()} {path}"
            assert {"400", "408", "413"} <= set(declared), name
            if "429" in declared:
                assert declared["429"]["headers"]["Retry-After"]["required"], name
