"""Administrative services: centres, tokens, tariff imports. Callers own the transaction."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.domain.centres import CentreKind, Role, Sector
from gateway.errors import GatewayError
from gateway.storage import repository
from gateway.storage.models import ApiToken, Centre
from workers.pricing.tariff_csv import read_book

SAMPLE_TARIFF_DIR = Path(__file__).resolve().parent.parent / "schemas" / "tariff" / "sample"


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
    return centre


def add_token(
    *,
    session: Session,
    role: Role,
    centre: Centre | None,
    label: str = "",
    token: str | None = None,
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
            )
        )
        session.flush()
    return token


def import_tariff(*, session: Session, directory: Path, label: str | None = None) -> int:
    """Load a tariff book as a new version, all or nothing; GatewayError lists every problem."""
    book = read_book(directory)
    if book.problems:
        raise GatewayError(f"The tariff in {directory} has problems.", 422, book.problems)
    return repository.add_tariff_version(
        session,
        label=label or directory.name,
        sha256=book.sha256,
        book=book.to_book(0, label or directory.name),
    )
