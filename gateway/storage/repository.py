"""The SQL several features share; each feature's own SQL is in its ``repository.py``.

What is here, and why it is shared (docs/architecture.md, "Sessions and SQL"):
- centres, tokens and staff roles: every request's authentication (``kit.deps``), the
  admin feature, the workspace's pages, and the staff names a centre is shown;
- ingest's reference reads (coverages, live document numbers, billed services): asked by
  the API's ingest (``submissions``) and a batch's chunks (``batches``) alike, and
  coverages by ``pricing``; ``submissions`` already builds on ``batches``, so neither can
  hold them for the other;
- locking a document for a status move: every feature that moves one locks it the same
  way, and reads under that lock who holds it (``review`` and ``information`` refuse a
  document another auditor holds; ``assignment`` builds on ``review``, so neither can
  ask the other);
- the outbox: ``kit.outbox`` (plumbing under the features) publishes and counts it.

Functions take a session and never commit: callers own that."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from gateway.domain.centres import CentreKind, Sector
from gateway.domain.documents import Purpose, number_key
from gateway.domain.lifecycle import NOT_LIVE
from gateway.domain.registry import CentreInfo, Coverage
from gateway.kit import bulk
from gateway.storage.models import (
    ApiToken,
    Centre,
    Document,
    DocumentLine,
    InsuredCoverage,
    OutboxMessage,
    ReviewClaim,
    StaffUser,
    utcnow,
)

# -- centres, tokens and staff ---------------------------------------------------------


def get_centre_by_code(session: Session, code: str) -> Centre | None:
    return session.scalars(select(Centre).where(Centre.code == code)).one_or_none()


def centres_by_id(session: Session, ids: set[int]) -> dict[int, Centre]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Centre).where(Centre.id.in_(ids)))}


def find_token(session: Session, token_hash: str) -> ApiToken | None:
    query = (
        select(ApiToken)
        .options(selectinload(ApiToken.centre))
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )
    return session.scalars(query).one_or_none()


def staff_roles(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """The role of each of these workspace users (names not on the books are left out)."""
    wanted = sorted(set(usernames))
    if not wanted:
        return {}
    query = select(StaffUser.username, StaffUser.role).where(StaffUser.username.in_(wanted))
    return {row[0]: row[1] for row in session.execute(query)}


def centre_info(centre: Centre) -> CentreInfo:
    return CentreInfo(
        code=centre.code,
        name=centre.name,
        kind=CentreKind(centre.kind),
        sector=Sector(centre.sector),
        province=centre.province,
        contract_from=centre.contract_from,
        contract_to=centre.contract_to,
    )


# -- ingest's reference reads ---------------------------------------------------------


def one_of(
    session: Session, column: InstrumentedAttribute[Any], values: list[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``, whose text is the same
    whatever the number of values, so the server plans it once (a prepared statement) where
    an IN list of each length is planned anew, which costs more than running it."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def coverages_of(session: Session, national_ids: Iterable[str]) -> dict[str, list[Coverage]]:
    """The registered coverage periods of these people (absent: not registered)."""
    found: dict[str, list[Coverage]] = {}
    wanted = list(set(national_ids))
    for start in range(0, len(wanted), 500):
        query = select(
            InsuredCoverage.national_id,
            InsuredCoverage.insurance_number,
            InsuredCoverage.valid_from,
            InsuredCoverage.valid_to,
        ).where(one_of(session, InsuredCoverage.national_id, wanted[start : start + 500]))
        for row in session.execute(query):
            found.setdefault(row[0], []).append(Coverage(*row))
    return found


def stored_services(
    session: Session, national_ids: Iterable[str], dates: Iterable[date]
) -> set[tuple[str, str, date]]:
    """(patient, code, date) of the live bills (not estimates) of any centre for these
    patients on these dates (only those can match a new line; a patient's whole history is
    not read). Any centre: pricing deducts a service another centre billed first, and the
    warning says so beforehand (docs/pricing.md, "Duplicates")."""
    days = list(set(dates))
    wanted = list(set(national_ids))
    found: set[tuple[str, str, date]] = set()
    for start in range(0, len(wanted), 500):
        query = (
            select(Document.patient_national_id, DocumentLine.code, DocumentLine.service_date)
            .join(DocumentLine, DocumentLine.document_id == Document.id)
            .where(
                one_of(session, Document.patient_national_id, wanted[start : start + 500]),
                Document.status.not_in(NOT_LIVE),
                Document.purpose == Purpose.CLAIM.value,
                one_of(session, DocumentLine.service_date, days),
            )
        )
        found.update((a, b, c) for a, b, c in session.execute(query))
    return found


@dataclass(frozen=True, slots=True)
class CentreLookup:
    """What a group of submissions asks about one centre's stored documents."""

    numbers: set[str]
    national_ids: set[str]
    dates: set[date]


@dataclass(slots=True)
class IngestLookups:
    coverages: dict[str, list[Coverage]]
    numbers: dict[int, set[str]]
    services: dict[int, set[tuple[str, str, date]]]
    webhooks: dict[int, list[int]] | None = None  # live webhooks by centre, when read here


# Plain text, so that the server prepares each once (the tables' names are fixed by the
# migrations).
_COVERAGES_SQL = (
    "SELECT national_id, insurance_number, valid_from, valid_to FROM insured_coverages"
    " WHERE national_id = ANY(%s::text[])"
)
_NUMBERS_SQL = (
    "SELECT external_id, identifier_system FROM documents WHERE centre_id = %s"
    " AND external_id = ANY(%s::text[]) AND status <> ALL(%s::text[])"
)
# The patients' documents by index, then each one's lines by index. As a plain join,
# PostgreSQL reads every line of the wanted dates and hashes them whenever that looks
# cheap, which it does while document_lines is below a few million rows: 7 ms a group at
# 85,000 lines, growing with the table. OFFSET 0 keeps the lateral subquery a subquery, so
# the plan stays a nested loop over the patients' own documents (0.4 ms at any size).
_SERVICES_SQL = (
    "SELECT d.patient_national_id, l.code, l.service_date FROM documents d"
    " CROSS JOIN LATERAL (SELECT code, service_date FROM document_lines"
    " WHERE document_id = d.id AND service_date = ANY(%s::date[]) OFFSET 0) l"
    " WHERE d.patient_national_id = ANY(%s::text[])"
    " AND d.status <> ALL(%s::text[]) AND d.purpose = 'claim'"
)

_WEBHOOKS_SQL = (
    "SELECT centre_id, id FROM webhooks WHERE centre_id = ANY(%s::int[]) AND disabled_at IS NULL"
)


def ingest_lookups(
    session: Session, national_ids: set[str], centres: dict[int, CentreLookup]
) -> IngestLookups:
    """``coverages_of``, ``accepted_numbers`` and ``stored_services`` for a group of
    submissions at once. On PostgreSQL the statements go out together, prepared, and are
    answered in one round trip (the API's group commit asks them on every transaction;
    built as Core statements they cost more than the rest of a small group's reads), with
    the centres' live webhooks, which the journal needs later in the transaction."""
    raw = bulk.psycopg_connection(session)
    # One set for every centre of the group, since services count across centres: what
    # one centre's submission adds is seen by the next one's.
    patients = {n for q in centres.values() for n in q.national_ids}
    days = {d for q in centres.values() for d in q.dates}
    if raw is None:
        stored = stored_services(session, patients, days)
        return IngestLookups(
            coverages_of(session, national_ids),
            {c: accepted_numbers(session, c, q.numbers) for c, q in centres.items()},
            dict.fromkeys(centres, stored),
        )
    not_live = sorted(status.value for status in NOT_LIVE)
    with raw.pipeline():
        coverages = raw.execute(_COVERAGES_SQL, [list(national_ids)], prepare=True)
        numbers = {
            c: raw.execute(_NUMBERS_SQL, [c, list(q.numbers), not_live], prepare=True)
            for c, q in centres.items()
        }
        services = raw.execute(_SERVICES_SQL, [list(days), list(patients), not_live], prepare=True)
        hooks = raw.execute(_WEBHOOKS_SQL, [list(centres)], prepare=True)
    stored = {(a, b, c) for a, b, c in services.fetchall()}
    found: dict[str, list[Coverage]] = {}
    for row in coverages.fetchall():
        found.setdefault(row[0], []).append(Coverage(*row))
    webhooks: dict[int, list[int]] = {}
    for centre_id, hook_id in hooks.fetchall():
        webhooks.setdefault(centre_id, []).append(hook_id)
    return IngestLookups(
        found,
        {c: {number_key(*row) for row in cursor.fetchall()} for c, cursor in numbers.items()},
        dict.fromkeys(centres, stored),
        webhooks,
    )


def accepted_numbers(session: Session, centre_id: int, numbers: Iterable[str]) -> set[str]:
    """Which of these document numbers this centre already has live (not rejected or voided), as
    duplicate keys (the number, with its identifier system for a FHIR Claim's)."""
    wanted = list(set(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(Document.external_id, Document.identifier_system).where(
            Document.centre_id == centre_id,
            one_of(session, Document.external_id, chunk),
            Document.status.not_in(NOT_LIVE),
        )
        found.update(number_key(*row) for row in session.execute(query))
    return found


# -- locking a document for a status move ---------------------------------------------


def lock_document(session: Session, document_id: uuid.UUID) -> Document | None:
    """The document with its lines and centre, row-locked where the database can."""
    query = (
        select(Document)
        .options(selectinload(Document.lines), selectinload(Document.centre))
        .where(Document.id == document_id)
        .with_for_update(of=Document)
    )
    return session.scalars(query).one_or_none()


@dataclass(frozen=True, slots=True)
class LiveClaim:
    """Who holds a document now, and until when."""

    username: str
    display_name: str
    role: str
    until: datetime


def live_claim(session: Session, document_id: uuid.UUID, now: datetime) -> LiveClaim | None:
    """The document's claim if it has not lapsed; read it after ``lock_document``, so a
    claim taken or given meanwhile is seen by the move that waited for the lock."""
    query = (
        select(StaffUser.username, StaffUser.display_name, StaffUser.role, ReviewClaim.expires_at)
        .join(StaffUser, StaffUser.id == ReviewClaim.holder_id)
        .where(ReviewClaim.document_id == document_id, ReviewClaim.expires_at > now)
    )
    row = session.execute(query).one_or_none()
    return LiveClaim(*row) if row is not None else None


# -- outbox ---------------------------------------------------------------------------


def pending_outbox(session: Session, created_before: datetime, limit: int) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.published_at.is_(None), OutboxMessage.created_at < created_before)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def outbox_messages(session: Session, ids: Sequence[int]) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.id.in_(ids), OutboxMessage.published_at.is_(None)
    )
    return list(session.scalars(query))


def mark_published(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(published_at=utcnow(), attempts=OutboxMessage.attempts + 1)
        )


def count_pending_outbox(session: Session) -> int:
    query = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.published_at.is_(None))
    )
    return session.scalar(query) or 0
