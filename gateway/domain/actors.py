"""Who did something, as a centre is told it: staff by their role, never by user name.

Actors are recorded as ``user:NAME`` (a workspace user), ``ROLE:TOKEN_ID`` (a staff API
token: ``auditor:12``), ``centre:CODE``, ``worker:...`` or ``cli``. A user name is half of a
workspace login, so a centre reading its documents' history sees ``auditor`` or
``finance`` where staff see the name. Everything else is shown as recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.domain.centres import Role

USER_PREFIX = "user:"
STAFF_ROLES = frozenset({Role.AUDITOR.value, Role.FINANCE.value, Role.ADMIN.value})
# Shown for a user no longer on the books (the role cannot be looked up any more).
UNKNOWN_STAFF = "staff"


def user_name(actor: str) -> str | None:
    """The user name of a workspace user's actor; None for any other actor."""
    return actor[len(USER_PREFIX) :] if actor.startswith(USER_PREFIX) else None


def user_names(actors: Iterable[str]) -> set[str]:
    return {name for name in map(user_name, actors) if name is not None}


def as_seen_by_centre(actor: str, roles: Mapping[str, str]) -> str:
    """The actor as a centre sees it; ``roles`` maps user names to their roles."""
    name = user_name(actor)
    if name is not None:
        return roles.get(name, UNKNOWN_STAFF)
    role, colon, _ = actor.partition(":")
    if colon and role in STAFF_ROLES:
        return role
    return actor
