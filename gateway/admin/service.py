"""Administrative services: centres, tokens, tariff imports. Callers own the transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.domain.centres import CentreKind, Role, Sector
from gateway.errors import GatewayError
from gateway.pricing.tariff_csv import read_book
from gateway.storage import repository
from gateway.storage.models import ApiToken, Centre, StaffUser

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
        raise GatewayError(f"Centre {code} already exists.", 409)
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
    if role is Role.CENTRE and centre is None:
        raise GatewayError("A centre token needs a centre.", 400)
    token = token or new_token()
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    if repository.find_token(session, token_hash) is None:
        session.add(
            ApiToken(
                token_hash=token_hash,
                role=role.value,
                centre_id=centre.id if centre else None,
                label=label,
                expires_at=expires_at,
            )
        )
        session.flush()
        audit.append(
            session,
            [
                audit.Record(
                    actor,
                    "token.create",
                    "token",
                    token_hash[:12],
                    {
                        "role": role.value,
                        "centre": centre.code if centre else None,
                        "label": label,
                        "expires_at": expires_at.isoformat() if expires_at else None,
                    },
                )
            ],
        )
    return token


def revoke_token(*, session: Session, token: str, actor: str = "cli") -> None:
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    found = repository.find_token(session, token_hash)
    if found is None:
        raise GatewayError("No such live token.", 404)
    found.revoked_at = datetime.now(UTC)
    audit.append(session, [audit.Record(actor, "token.revoke", "token", token_hash[:12])])


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
        raise GatewayError("Centres use tokens, not workspace accounts.", 400)
    if len(password) < 12:
        raise GatewayError("A password has at least 12 characters.", 422)
    if session.scalars(select(StaffUser).where(StaffUser.username == username)).first():
        raise GatewayError(f"User {username} already exists.", 409)
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
        raise GatewayError(f"The tariff in {directory} has problems.", 422, book.problems)
    version = repository.add_tariff_version(
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
