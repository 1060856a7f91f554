"""What a principal may do: pure functions the API calls before any service method."""

from __future__ import annotations

from huajia.auth.keys import Principal, Role
from huajia.errors import Forbidden, Unauthorized

PRIORITIES = ("high", "normal", "low")
_ROLE_PRIORITIES: dict[Role, frozenset[str]] = {
    Role.EDITOR: frozenset({"normal", "low"}),
    Role.ADMIN: frozenset(PRIORITIES),
    Role.REVIEWER: frozenset({"normal", "low"}),
}


def allowed_priorities(principal: Principal) -> frozenset[str]:
    """The queue priorities `principal` may ask for."""
    if principal.is_local:
        return frozenset(PRIORITIES)
    return _ROLE_PRIORITIES[principal.role]


def check_priority(principal: Principal, priority: str) -> None:
    """Forbidden unless `principal` may queue work at `priority`."""
    allowed = allowed_priorities(principal)
    if priority not in allowed:
        permitted = ", ".join(name for name in PRIORITIES if name in allowed)
        raise Forbidden(f"role {principal.role} may not use priority {priority!r}: {permitted}")


def can_view(principal: Principal, task_owner: str | None) -> bool:
    """Admins (and the local user) see every task; editors only the tasks they created."""
    if principal.is_admin:
        return True
    return task_owner is not None and task_owner == principal.key_id


def can_review(principal: Principal) -> bool:
    """Reviewers and admins decide whether an image may be published."""
    return principal.is_admin or principal.role.value == "reviewer"


def require_reviewer(principal: Principal) -> None:
    """Forbidden unless `principal` may approve or reject images."""
    if not can_review(principal):
        raise Forbidden("reviewing images needs a reviewer or admin key")


def require_admin(principal: Principal) -> None:
    """Forbidden unless `principal` is an admin (managing keys, models, other people's work)."""
    if not principal.is_admin:
        raise Forbidden("this needs an admin key")


def parse_credentials(authorization: str | None, x_api_key: str | None) -> str | None:
    """The API key sent as `Authorization: Bearer <key>` or `X-API-Key`; None if neither.

    Unauthorized for a malformed Authorization header, or two headers naming different keys.
    """
    bearer = _bearer_token(authorization)
    header_key = (x_api_key or "").strip() or None
    if bearer and header_key and bearer != header_key:
        raise Unauthorized("Authorization and X-API-Key name different keys: send one")
    return bearer or header_key


def _bearer_token(authorization: str | None) -> str | None:
    parts = (authorization or "").split()
    if not parts:
        return None
    if parts[0].lower() != "bearer":
        # The scheme is not echoed: a client that forgot 'Bearer' sent its key there.
        raise Unauthorized("unsupported authorization scheme: use 'Bearer <key>'")
    if len(parts) != 2:
        raise Unauthorized("the Authorization header needs exactly one key: 'Bearer <key>'")
    return parts[1]
