"""The auth gate on a real store: who counts as local, and that no path falls open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huajia.auth.gate import AuthGate, Caller, check_auth_at_start, is_loopback_host
from huajia.auth.keys import generate_key, hash_key
from huajia.errors import ConfigurationError, Unauthorized
from huajia.jobs import TaskStore, open_store
from huajia.jobs.model import Role


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TaskStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'huajia.db'}")
    yield opened
    opened.close()


def local(**changes: object) -> Caller:
    fields: dict[str, object] = {"peer": "127.0.0.1", "host_header": "127.0.0.1:8000",
                                 "forwarded": False, "secret": None, **changes}  # fmt: skip
    return Caller(**fields)  # type: ignore[arg-type]


def new_key(store: TaskStore, role: Role = Role.EDITOR) -> tuple[str, str]:
    secret, prefix = generate_key()
    return secret, store.keys.create("someone", role, hash_key(secret), prefix).id


@pytest.mark.parametrize(
    "caller",
    [local(), local(peer="::1", host_header="[::1]:8000"), local(host_header="localhost"),
     local(peer="::ffff:127.0.0.1"), local(peer="127.0.0.2", host_header="LOCALHOST.:80")],
)  # fmt: skip
def test_direct_loopback_callers_are_local(caller: Caller) -> None:
    assert caller.is_local


@pytest.mark.parametrize(
    "caller",
    [local(forwarded=True), local(peer="10.0.0.7"), local(peer=None), local(host_header=None),
     local(host_header="evil.example"), local(host_header="127.0.0.1.nip.io"),
     local(host_header="localhost.evil.example"), local(peer="testclient")],
)  # fmt: skip
def test_relayed_remote_or_renamed_callers_are_not(caller: Caller) -> None:
    assert not caller.is_local


def test_loopback_host_spellings() -> None:
    assert is_loopback_host("127.0.0.1:8000") and is_loopback_host("[::1]")
    # Odd spellings fail closed: such a caller needs a key.
    assert not is_loopback_host("127.1") and not is_loopback_host("2130706433")
    assert not is_loopback_host("") and not is_loopback_host("[::1")


def test_auto_mode_opens_to_local_callers_until_a_key_exists(store: TaskStore) -> None:
    gate = AuthGate("auto", store.keys)
    assert gate.principal(local()).is_local
    assert gate.principal(local(secret="sk-openai-sdk-placeholder")).is_local
    with pytest.raises(Unauthorized):
        gate.principal(local(peer="192.0.2.1"))
    secret, key_id = new_key(store)
    assert gate.principal(local(secret=secret)).key_id == key_id
    with pytest.raises(Unauthorized, match="required"):
        gate.principal(local())
    store.keys.revoke(key_id)
    for caller in (local(), local(secret=secret)):
        with pytest.raises(Unauthorized):
            gate.principal(caller)
    assert AuthGate("auto", store.keys).keys_required(), "a new process stays locked too"


def test_keys_mode_never_serves_without_a_key(store: TaskStore) -> None:
    gate = AuthGate("keys", store.keys)
    with pytest.raises(Unauthorized):
        gate.principal(local())
    secret, _ = new_key(store, Role.ADMIN)
    assert gate.principal(local(secret=secret, peer="192.0.2.1")).is_admin


def test_open_local_mode_accepts_keys_and_local_callers_only(store: TaskStore) -> None:
    secret, key_id = new_key(store)
    gate = AuthGate("open-local", store.keys)
    assert gate.principal(local()).is_local
    assert gate.principal(local(secret=secret, peer="192.0.2.1")).key_id == key_id
    with pytest.raises(Unauthorized):
        gate.principal(local(peer="192.0.2.1"))


def test_the_secret_stays_out_of_repr() -> None:
    assert "hj_secret" not in repr(local(secret="hj_secret"))


def test_start_up_refuses_when_keys_are_expected_but_missing(
    store: TaskStore, tmp_path: Path
) -> None:
    check_auth_at_start("auto", store.keys, tmp_path)  # a fresh install starts open-local
    with pytest.raises(ConfigurationError, match="huajia keys create"):
        check_auth_at_start("keys", store.keys, tmp_path)
    new_key(store)
    check_auth_at_start("auto", store.keys, tmp_path)  # remembers that keys exist here
    empty = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with pytest.raises(ConfigurationError, match="API keys were created"):
            check_auth_at_start("auto", empty.keys, tmp_path)
        check_auth_at_start("open-local", empty.keys, tmp_path)  # said outright: allowed
    finally:
        empty.close()
