"""Administrative services: centres, tokens, staff accounts, tariff imports, and what an
administrator lists. Callers own the transaction; every change and every listing is one
audit entry."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from gateway.admin import repository as queries
from gateway.audit import chain as audit
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.domain.tariff import TariffBook
from gateway.errors import GatewayError
from gateway.pricing import repository as tariffs
from gateway.pricing.tariff_csv import read_book
from gateway.storage import repository
from gateway.storage.models import ApiToken, Centre, StaffUser, TariffVersion

passwords = PasswordHasher()  # argon2id with the library's current parameters
SAMPLE_TARIFF_DIR = Path(__file__).resolve().parents[2] / "schemas" / "tariff" / "sample"


def new_token() -> str:
    """A random bearer token; only its SHA-256 is ever stored."""
    return "gw_" + secrets.token_urlsafe(32)


def add_centre(
    *,
    session: Session,
    code: str,
    name: str,
    kind: CentreKind,
    sector: Sector,
    province: str | None = None,
) -> Centre:
    if repository.get_centre_by_code(session, code) is not None:
        raise GatewayError(
            f"Centre {code} already exists.", 409, code="admin.centre-exists", params={"code": code}
        )
    centre = Centre(code=code, name=name, kind=kind.value, sector=sector.value, province=province)
    session.add(centre)
    session.flush()
    audit.append(
        session,
        [
            audit.Record(
                "cli",
                "centre.create",
                "centre",
                code,
                {"name": name, "kind": kind.value, "sector": sector.value, "province": province},
            )
        ],
    )
    return centre


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _store_token(
    session: Session,
    *,
    role: Role,
    centre: Centre | None,
    label: str,
    token: str,
    expires_at: datetime | None,
) -> ApiToken | None:
    """Keep the token's hash; None when that very token is already stored and live."""
    if (role is Role.CENTRE) != (centre is not None):
        raise GatewayError(
            "A centre token needs a centre."
            if centre is None
            else f"A {role} token belongs to no centre.",
            400,
            code="admin.token-centre",
        )
    token_hash = _hash(token)
    if repository.find_token(session, token_hash) is not None:
        return None
    if queries.token_by_hash(session, token_hash) is not None:
        raise GatewayError(
            "That token was revoked; it cannot be used again.", 409, code="admin.token-reused"
        )
    stored = ApiToken(
        token_hash=token_hash,
        role=role.value,
        centre_id=centre.id if centre else None,
        label=label,
        expires_at=expires_at,
    )
    session.add(stored)
    session.flush()
    return stored


def add_token(
    *,
    session: Session,
    role: Role,
    centre: Centre | None,
    label: str = "",
    token: str | None = None,
    expires_at: datetime | None = None,
    actor: str = "cli",
) -> str:
    """Store a token's hash and return the token itself (shown once)."""
    token = token or new_token()
    stored = _store_token(
        session, role=role, centre=centre, label=label, token=token, expires_at=expires_at
    )
    if stored is not None:
        details = {
            "role": role.value,
            "centre": centre.code if centre else None,
            "label": label,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        audit.append(
            session,
            [audit.Record(actor, "token.create", "token", stored.token_hash[:12], details)],
        )
    return token


def centre_by_code(session: Session, code: str) -> Centre:
    centre = repository.get_centre_by_code(session, code)
    if centre is None:
        raise GatewayError(
            f"There is no centre {code}.", 404, code="centre.not-found", params={"code": code}
        )
    return centre


def add_centre_token(
    *, session: Session, code: str, label: str = "", actor: str = "cli", token: str | None = None
) -> str:
    """A new token for any stored centre, however it came (``centre add`` or the registry)."""
    return add_token(
        session=session,
        role=Role.CENTRE,
        centre=centre_by_code(session, code),
        label=label,
        token=token,
        actor=actor,
    )


def revoke_token(
    *, session: Session, token: str | None = None, token_id: int | None = None, actor: str = "cli"
) -> ApiToken:
    """Revoke a live token named by itself or by its id."""
    if token is not None:
        found = repository.find_token(session, _hash(token))
    else:
        found = queries.token_by_id(session, token_id) if token_id is not None else None
    if found is None or found.revoked_at is not None:
        raise GatewayError("No such live token.", 404, code="admin.no-live-token")
    found.revoked_at = datetime.now(UTC)
    audit.append(
        session,
        [audit.Record(actor, "token.revoke", "token", found.token_hash[:12], {"id": found.id})],
    )
    return found


def rotate_token(
    *, session: Session, token_id: int, grace: timedelta | None = None, actor: str = "cli"
) -> tuple[ApiToken, str]:
    """A new token for the same role, centre and label; the old one is revoked now or,
    with ``grace``, expires then (so a caller can switch over without a gap)."""
    old = queries.token_by_id(session, token_id)
    if old is None or old.revoked_at is not None:
        raise GatewayError("No such live token.", 404, code="admin.no-live-token")
    now = datetime.now(UTC)
    if old.expires_at is not None and old.expires_at.replace(tzinfo=UTC) <= now:
        raise GatewayError(
            "That token has expired; issue a new one with `token add`.",
            409,
            code="admin.token-expired",
        )
    centre = session.get(Centre, old.centre_id) if old.centre_id is not None else None
    secret = new_token()
    fresh = _store_token(
        session,
        role=Role(old.role),
        centre=centre,
        label=old.label,
        token=secret,
        expires_at=old.expires_at,
    )
    assert fresh is not None  # a random token is never stored already
    if grace:
        ends = now + grace
        if old.expires_at is None or old.expires_at.replace(tzinfo=UTC) > ends:
            old.expires_at = ends
    else:
        old.revoked_at = now
    details = {
        "old_id": old.id,
        "new_id": fresh.id,
        "new": fresh.token_hash[:12],
        "role": old.role,
        "centre": centre.code if centre else None,
        "old_ends": (old.revoked_at or old.expires_at or now).isoformat(),
    }
    audit.append(
        session, [audit.Record(actor, "token.rotate", "token", old.token_hash[:12], details)]
    )
    return fresh, secret


MIN_PASSWORD = 12


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise GatewayError(
            f"A password has at least {MIN_PASSWORD} characters.",
            422,
            code="admin.password-short",
            params={"least": MIN_PASSWORD},
        )


def _user(session: Session, username: str) -> StaffUser:
    found = queries.staff_user(session, username)
    if found is None:
        raise GatewayError(
            f"There is no user {username}.",
            404,
            code="admin.no-user",
            params={"username": username},
        )
    return found


def _note(
    session: Session, actor: str, action: str, kind: str, subject: str, **details: Any
) -> None:
    audit.append(session, [audit.Record(actor, action, kind, subject, details)])


def disable_user(*, session: Session, username: str, actor: str = "cli") -> StaffUser:
    """Shut the account and end every session of it: the generation is raised, so even
    enabling it again does not bring an old cookie back."""
    user = _user(session, username)
    if actor == f"user:{username}":
        raise GatewayError(
            "An administrator cannot disable their own account.", 409, code="admin.self-disable"
        )
    if user.role == "admin" and user.disabled_at is None and queries.enabled_admins(session) <= 1:
        # Nobody could then open the workspace's administration to enable anyone again.
        raise GatewayError(
            f"{username} is the last administrator whose account is open: add or enable "
            "another administrator first.",
            409,
            code="admin.last-admin",
            params={"username": username},
        )
    if user.disabled_at is None:
        user.disabled_at = datetime.now(UTC)
    queries.raise_session_generation(session, user.id)
    _note(session, actor, "user.disable", "user", username)
    return user


def enable_user(*, session: Session, username: str, actor: str = "cli") -> StaffUser:
    user = _user(session, username)
    user.disabled_at = None
    _note(session, actor, "user.enable", "user", username)
    return user


def reset_password(
    *, session: Session, username: str, password: str, actor: str = "cli"
) -> StaffUser:
    """A new password (as long as ``user add`` asks for); every session of the account ends."""
    _check_password(password)
    user = _user(session, username)
    user.password_hash = passwords.hash(password)
    queries.raise_session_generation(session, user.id)
    _note(session, actor, "user.password_reset", "user", username)
    return user


def user_exists(session: Session, username: str) -> bool:
    return queries.staff_user(session, username) is not None


def token_row(session: Session, token_id: int) -> queries.TokenRow:
    """One token as the lists show it (for a page asking to confirm its revocation)."""
    found = queries.tokens(session, token_id=token_id)
    if not found:
        raise GatewayError("There is no such token.", 404, code="admin.no-token")
    return found[0]


def list_users(*, session: Session, actor: str = "cli") -> list[StaffUser]:
    users = queries.staff_users(session)
    _note(session, actor, "user.list", "user", "*", count=len(users))
    return users


def list_tokens(*, session: Session, actor: str = "cli") -> list[queries.TokenRow]:
    rows = queries.tokens(session)
    _note(session, actor, "token.list", "token", "*", count=len(rows))
    return rows


def list_centres(*, session: Session, actor: str = "cli") -> list[queries.CentreRow]:
    rows = queries.centres(session)
    _note(session, actor, "centre.list", "centre", "*", count=len(rows))
    return rows


def show_centre(
    *, session: Session, code: str, actor: str = "cli"
) -> tuple[queries.CentreRow, list[queries.TokenRow]]:
    """One centre with its live-token count and every token it ever had."""
    found = queries.centres(session, code=code)
    if not found:
        raise GatewayError(
            f"There is no centre {code}.", 404, code="centre.not-found", params={"code": code}
        )
    _note(session, actor, "centre.show", "centre", code)
    return found[0], queries.tokens(session, centre_id=found[0].centre.id)


def add_staff_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    actor: str = "cli",
) -> StaffUser:
    """A person who logs into the web workspace; the password is kept only as an argon2
    hash."""
    if role is Role.CENTRE:
        raise GatewayError(
            "Centres use tokens, not workspace accounts.", 400, code="admin.centre-user"
        )
    _check_password(password)
    if queries.staff_user(session, username) is not None:
        raise GatewayError(
            f"User {username} already exists.",
            409,
            code="admin.user-exists",
            params={"username": username},
        )
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        role=role.value,
        password_hash=passwords.hash(password),
    )
    session.add(user)
    session.flush()
    audit.append(
        session,
        [audit.Record(actor, "user.create", "user", username, {"role": role.value})],
    )
    return user


def import_tariff(
    *, session: Session, directory: Path, label: str | None = None, actor: str = "cli"
) -> int:
    """Load a tariff book as a new version, all or nothing; GatewayError lists every problem."""
    book = read_book(directory)
    if book.problems:
        raise GatewayError(
            f"The tariff in {directory} has problems.", 422, book.problems, code="tariff.invalid"
        )
    version = tariffs.add_tariff_version(
        session,
        label=label or directory.name,
        sha256=book.sha256,
        book=book.to_book(0, label or directory.name),
    )
    audit.append(
        session,
        [
            audit.Record(
                actor,
                "tariff.import",
                "tariff_version",
                str(version),
                {"label": label or directory.name, "sha256": book.sha256},
            )
        ],
    )
    return version


def has_tariff(session: Session) -> bool:
    """Whether any tariff version is stored."""
    return tariffs.latest_tariff_version(session) is not None


def tariff_versions(session: Session) -> list[TariffVersion]:
    """The stored tariff versions, oldest first."""
    return tariffs.tariff_versions(session)


def stored_tariff_book(session: Session, version: int | None) -> tuple[int, TariffBook]:
    """A stored tariff version (the newest when ``version`` is None) and its book."""
    chosen = version or tariffs.latest_tariff_version(session)
    if chosen is None or tariffs.tariff_version(session, chosen) is None:
        raise GatewayError(
            "No such tariff version is stored." if chosen else "No tariff.",
            2,
            code="tariff.not-found",
        )
    return chosen, tariffs.load_tariff_book(session, chosen)
