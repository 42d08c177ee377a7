"""The SQL of the review queue and of claims: search, sort, page, claim, release."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Insert, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from gateway.storage.models import (
    Appeal,
    Centre,
    Document,
    LineDeduction,
    ReviewClaim,
    StaffUser,
)


class Sort(StrEnum):
    RECEIVED = "received"  # when the gateway received it; ascending is oldest first
    AMOUNT = "amount"  # requested rials
    CENTRE = "centre"
    STATUS = "status"
    NUMBER = "number"  # the centre's document number


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: str | None = None
    centre_code: str | None = None  # any case
    service_dates: tuple[date, date] | None = None  # inclusive
    min_amount: int | None = None  # requested rials
    reason: str | None = None  # has a deduction with this reason
    national_id: str | None = None  # a prefix
    number: str | None = None  # a prefix of the centre's document number
    holder_id: int | None = None  # claimed by this staff user, and not lapsed
    unclaimed: bool = False  # held by nobody (a lapsed claim holds nothing)
    appealed: bool = False  # the centre has appealed it


@dataclass(frozen=True, slots=True)
class QueueRow:
    document: Document
    centre_code: str
    appealed: bool
    holder_id: int | None
    holder_name: str | None
    held_until: datetime | None


_COLUMNS = {
    Sort.RECEIVED: Document.created_at,
    Sort.AMOUNT: Document.requested_amount,
    Sort.CENTRE: Centre.code,
    Sort.STATUS: Document.status,
    Sort.NUMBER: Document.external_id,
}


def _prefix(text: str) -> str:
    """A LIKE pattern matching what starts with ``text`` (its wildcards taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(ReviewClaim.document_id == Document.id, ReviewClaim.expires_at > now)


def _conditions(criteria: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if criteria.status:
        where.append(Document.status == criteria.status)
    if criteria.centre_code:
        where.append(func.lower(Centre.code) == criteria.centre_code.lower())
    if criteria.service_dates:
        where.append(Document.service_date.between(*criteria.service_dates))
    if criteria.min_amount is not None:
        where.append(Document.requested_amount >= criteria.min_amount)
    if criteria.national_id:
        where.append(Document.patient_national_id.like(_prefix(criteria.national_id), "\\"))
    if criteria.number:
        where.append(Document.external_id.like(_prefix(criteria.number), "\\"))
    if criteria.reason:
        where.append(
            select(LineDeduction.id)
            .where(
                LineDeduction.document_id == Document.id, LineDeduction.reason == criteria.reason
            )
            .exists()
        )
    if criteria.appealed:
        where.append(select(Appeal.id).where(Appeal.document_id == Document.id).exists())
    # An alias of its own: the page's query joins review_claims too, and would otherwise
    # correlate the subquery's only table away.
    held = aliased(ReviewClaim)
    live = and_(held.document_id == Document.id, held.expires_at > now)
    if criteria.holder_id is not None:
        where.append(
            select(held.document_id)
            .where(live, held.holder_id == criteria.holder_id)
            .correlate(Document)
            .exists()
        )
    if criteria.unclaimed:
        where.append(~select(held.document_id).where(live).correlate(Document).exists())
    return where


def count(session: Session, criteria: QueueFilter, *, now: datetime) -> int:
    """How many documents match every criterion."""
    counted = (
        select(func.count()).select_from(Document).join(Centre, Centre.id == Document.centre_id)
    )
    return session.scalar(counted.where(*_conditions(criteria, now))) or 0


def search(
    session: Session,
    criteria: QueueFilter,
    *,
    sort: Sort,
    descending: bool,
    limit: int,
    offset: int,
    now: datetime,
) -> list[QueueRow]:
    """One page of the documents matching every criterion, in the chosen order, with
    their centre, whether they were appealed and who holds them."""
    where = _conditions(criteria, now)
    appealed = select(Appeal.id).where(Appeal.document_id == Document.id).exists()
    column = _COLUMNS[sort]
    query = (
        select(
            Document,
            Centre.code,
            appealed,
            ReviewClaim.holder_id,
            StaffUser.display_name,
            ReviewClaim.expires_at,
        )
        .join(Centre, Centre.id == Document.centre_id)
        .outerjoin(ReviewClaim, _live(now))
        .outerjoin(StaffUser, StaffUser.id == ReviewClaim.holder_id)
        .where(*where)
        .order_by(column.desc() if descending else column.asc(), Document.created_at, Document.id)
        .limit(limit)
        .offset(offset)
    )
    return [QueueRow(*row) for row in session.execute(query).all()]


def matching_ids(
    session: Session,
    criteria: QueueFilter,
    *,
    sort: Sort,
    descending: bool,
    limit: int,
    now: datetime,
) -> list[uuid.UUID]:
    """The first ``limit`` documents of a filter, in its order (for claiming the next N)."""
    column = _COLUMNS[sort]
    query = (
        select(Document.id)
        .join(Centre, Centre.id == Document.centre_id)
        .where(*_conditions(criteria, now))
        .order_by(column.desc() if descending else column.asc(), Document.created_at, Document.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def centre_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Centre.code).order_by(Centre.code)))


def statuses_of(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    query = select(Document.id, Document.status).where(Document.id.in_(ids))
    return {row[0]: row[1] for row in session.execute(query)}


def holders(
    session: Session, ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, tuple[int, str]]:
    """Who holds each of these documents now: staff user id and display name."""
    if not ids:
        return {}
    query = (
        select(ReviewClaim.document_id, StaffUser.id, StaffUser.display_name)
        .join(StaffUser, StaffUser.id == ReviewClaim.holder_id)
        .where(ReviewClaim.document_id.in_(ids), ReviewClaim.expires_at > now)
    )
    return {row[0]: (row[1], row[2]) for row in session.execute(query)}


def take(
    session: Session,
    ids: Sequence[uuid.UUID],
    *,
    holder_id: int,
    now: datetime,
    until: datetime,
    over_others: bool = False,
) -> None:
    """Claim these documents for the holder until ``until``: a claim of nobody, a lapsed
    one or the holder's own is taken (another's live one too when ``over_others``)."""
    if not ids:
        return
    free = or_(ReviewClaim.expires_at <= now, ReviewClaim.holder_id == holder_id)
    session.execute(
        update(ReviewClaim)
        .where(ReviewClaim.document_id.in_(ids), *(() if over_others else (free,)))
        .values(holder_id=holder_id, claimed_at=now, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    held = set(
        session.scalars(select(ReviewClaim.document_id).where(ReviewClaim.document_id.in_(ids)))
    )
    fresh = [
        {"document_id": i, "holder_id": holder_id, "claimed_at": now, "expires_at": until}
        for i in ids
        if i not in held
    ]
    if fresh:  # a claim that another request inserted meanwhile is left as it is
        session.execute(_insert_new(session), fresh)
    session.flush()


def _insert_new(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(ReviewClaim).on_conflict_do_nothing(index_elements=["document_id"])
    return sqlite.insert(ReviewClaim).on_conflict_do_nothing(index_elements=["document_id"])


def drop(session: Session, ids: Sequence[uuid.UUID], *, holder_id: int | None) -> None:
    """Release these documents' claims (only the holder's, unless ``holder_id`` is None)."""
    if not ids:
        return
    query = delete(ReviewClaim).where(ReviewClaim.document_id.in_(ids))
    if holder_id is not None:
        query = query.where(ReviewClaim.holder_id == holder_id)
    session.execute(query.execution_options(synchronize_session=False))


def staff_user(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def auditors(session: Session) -> list[StaffUser]:
    """The accounts a document may be given to: auditors and admins not disabled."""
    query = select(StaffUser).where(
        StaffUser.role.in_(("auditor", "admin")), StaffUser.disabled_at.is_(None)
    )
    return list(session.scalars(query.order_by(StaffUser.display_name)))


def documents(session: Session, ids: Sequence[uuid.UUID]) -> list[tuple[Document, str]]:
    """These documents with their centre's code, in the order asked."""
    if not ids:
        return []
    query = (
        select(Document, Centre.code)
        .join(Centre, Centre.id == Document.centre_id)
        .where(Document.id.in_(ids))
    )
    found = {d.id: (d, code) for d, code in session.execute(query).all()}
    return [found[i] for i in ids if i in found]
