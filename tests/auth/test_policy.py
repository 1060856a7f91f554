"""Roles decide priorities and visibility; credentials come from two headers."""

from __future__ import annotations

import pytest

from huajia.auth.keys import Principal, Role
from huajia.auth.policy import (
    allowed_priorities,
    can_view,
    check_priority,
    parse_credentials,
    require_admin,
)
from huajia.errors import Forbidden, Unauthorized

EDITOR = Principal(key_id="key-editor", name="editor", role=Role.EDITOR)
COLLEAGUE = Principal(key_id="key-colleague", name="colleague", role=Role.EDITOR)
ADMIN = Principal(key_id="key-admin", name="admin", role=Role.ADMIN)
LOCAL = Principal.local()
KEY = "hj_" + "k" * 43


def test_priorities_per_role() -> None:
    assert allowed_priorities(EDITOR) == {"normal", "low"}
    assert allowed_priorities(ADMIN) == {"high", "normal", "low"}
    assert allowed_priorities(LOCAL) == {"high", "normal", "low"}


def test_editor_may_not_jump_the_queue() -> None:
    check_priority(EDITOR, "normal")
    check_priority(EDITOR, "low")
    with pytest.raises(Forbidden, match="normal, low") as caught:
        check_priority(EDITOR, "high")
    assert caught.value.status == 403
    check_priority(ADMIN, "high")
    check_priority(LOCAL, "high")


def test_unknown_priority_is_refused_for_everyone() -> None:
    for principal in (EDITOR, ADMIN, LOCAL):
        with pytest.raises(Forbidden):
            check_priority(principal, "urgent")


def test_editors_see_only_their_own_tasks() -> None:
    assert can_view(EDITOR, "key-editor")
    assert not can_view(EDITOR, "key-colleague")
    assert not can_view(COLLEAGUE, "key-editor")
    assert not can_view(EDITOR, None)


def test_admins_and_local_see_every_task() -> None:
    for principal in (ADMIN, LOCAL):
        assert can_view(principal, "key-editor")
        assert can_view(principal, None)


def test_only_admins_pass_require_admin() -> None:
    require_admin(ADMIN)
    require_admin(LOCAL)
    with pytest.raises(Forbidden):
        require_admin(EDITOR)


@pytest.mark.parametrize(
    ("authorization", "x_api_key"),
    [
        (f"Bearer {KEY}", None),
        (f"bearer {KEY}", None),
        (f"  Bearer   {KEY}  ", None),
        (f"Bearer\t{KEY}", None),
        (None, KEY),
        (None, f" {KEY} "),
        ("", KEY),
        (f"Bearer {KEY}", KEY),
    ],
)
def test_key_is_read_from_either_header(authorization: str | None, x_api_key: str | None) -> None:
    assert parse_credentials(authorization, x_api_key) == KEY


@pytest.mark.parametrize(("authorization", "x_api_key"), [(None, None), ("", ""), ("  ", " ")])
def test_no_credentials_is_none(authorization: str | None, x_api_key: str | None) -> None:
    assert parse_credentials(authorization, x_api_key) is None


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", f"Bearer {KEY} extra", KEY]
)
def test_malformed_authorization_is_unauthorized(authorization: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        parse_credentials(authorization, None)
    assert caught.value.status == 401
    assert KEY not in caught.value.message  # never echo what might be a secret


def test_two_different_keys_are_refused() -> None:
    with pytest.raises(Unauthorized, match="different keys"):
        parse_credentials(f"Bearer {KEY}", "hj_" + "z" * 43)
