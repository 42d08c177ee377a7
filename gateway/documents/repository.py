"""The SQL of documents: the stored rows a document's view is built from (every statement
the view sends), one document with its rows, searching documents, the workspace
dashboard's totals, and the reads and writes of voiding and replacing.

The rows of all matching documents come in a fixed number of statements (documents,
centres, lines, pricings, deductions, tariff versions, and events, reviews and appeals
when history is wanted), each joined to the documents by the caller's condition, so the
count grows neither with the number of documents nor with their lines.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, func, select, tuple_, update
from sqlalchemy.orm import Session, selectinload

from gateway.domain.documents import Purpose
from gateway.domain.lifecycle import NOT_LIVE, DocumentStatus
from gateway.storage.models import (
    Appeal,
    Centre,
    Document,
    DocumentLine,
    LineDeduction,
    LinePricing,
    LineReview,
    StatusEvent,
    TariffVersion,
)

T = TypeVar("T")


@dataclass(slots=True)
class Rows:
    """Documents (centres loaded) with their rows, grouped by document or line id."""

    documents: list[Document]
    lines: dict[uuid.UUID, list[DocumentLine]] = field(default_factory=dict)
    pricings: dict[int, LinePricing] = field(default_factory=dict)
    deductions: dict[int, list[LineDeduction]] = field(default_factory=dict)
    tariffs: dict[int, TariffVersion] = field(default_factory=dict)
    events: dict[uuid.UUID, list[StatusEvent]] = field(default_factory=dict)
    reviews: dict[uuid.UUID, list[LineReview]] = field(default_factory=dict)
    appeals: dict[uuid.UUID, list[Appeal]] = field(default_factory=dict)


def load(session: Session, where: ColumnElement[bool], *, history: bool) -> Rows:
    """The rows of the documents matching ``where``, by service date then number."""
    documents = list(
        session.scalars(
            select(Document)
            .options(selectinload(Document.centre))
            .where(where)
            .order_by(Document.service_date, Document.external_id, Document.id)
        )
    )
    if not documents:
        return Rows(documents)
    deductions: dict[int, list[LineDeduction]] = defaultdict(list)
    for row in session.scalars(_of(LineDeduction, where).order_by(LineDeduction.id)):
        deductions[row.line_id].append(row)
    found = Rows(
        documents,
        lines=_by(session.scalars(_of(DocumentLine, where).order_by(DocumentLine.line_no))),
        pricings={p.line_id: p for p in session.scalars(_of(LinePricing, where))},
        deductions=deductions,
        tariffs=_tariffs(session, {d.tariff_version_id for d in documents}),
    )
    if history:
        found.events = _by(session.scalars(_of(StatusEvent, where).order_by(StatusEvent.id)))
        found.reviews = _by(session.scalars(_of(LineReview, where).order_by(LineReview.id)))
        found.appeals = _by(session.scalars(_of(Appeal, where).order_by(Appeal.id)))
    return found


def _of(model: type[T], where: ColumnElement[bool]) -> Select[T]:
    """Rows of ``model`` (a table with a ``document_id``) of the matching documents."""
    column = model.document_id  # type: ignore[attr-defined]
    return select(model).join(Document, column == Document.id).where(where)


def _by(rows: Iterable[T]) -> dict[uuid.UUID, list[T]]:
    grouped: dict[uuid.UUID, list[T]] = defaultdict(list)
    for row in rows:
        grouped[row.document_id].append(row)  # type: ignore[attr-defined]
    return grouped


def _tariffs(session: Session, ids: set[int | None]) -> dict[int, TariffVersion]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        v.id: v for v in session.scalars(select(TariffVersion).where(TariffVersion.id.in_(wanted)))
    }


# -- one document's rows, and searching documents (auditors' queue, a centre's list) --


def get_document(
    session: Session, document_id: uuid.UUID, centre_id: int | None
) -> Document | None:
    query = (
        select(Document)
        .options(
            selectinload(Document.lines),
            selectinload(Document.events),
            selectinload(Document.centre),
        )
        .where(Document.id == document_id)
    )
    if centre_id is not None:
        query = query.where(Document.centre_id == centre_id)
    return session.scalars(query).one_or_none()


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    status: str | None = None
    centre_code: str | None = None
    period: tuple[date, date] | None = None  # service dates, inclusive
    min_amount: int | None = None  # requested rials
    reason: str | None = None  # has a deduction with this reason
    national_id: str | None = None


def search_documents(
    session: Session,
    criteria: DocumentFilter,
    *,
    centre_scope: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[tuple[Document, str]]]:
    """Documents matching every given criterion, newest service first, with their centre's
    code; and how many match in all (within the caller's scope only)."""
    query = select(Document, Centre.code).join(Centre, Centre.id == Document.centre_id)
    if centre_scope is not None:
        query = query.where(Document.centre_id == centre_scope)
    if criteria.status:
        query = query.where(Document.status == criteria.status)
    if criteria.centre_code:
        query = query.where(Centre.code == criteria.centre_code)
    if criteria.period:
        query = query.where(Document.service_date.between(*criteria.period))
    if criteria.min_amount is not None:
        query = query.where(Document.requested_amount >= criteria.min_amount)
    if criteria.national_id:
        query = query.where(Document.patient_national_id == criteria.national_id)
    if criteria.reason:
        query = query.where(
            select(LineDeduction.id)
            .where(
                LineDeduction.document_id == Document.id,
                LineDeduction.reason == criteria.reason,
            )
            .exists()
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Document.service_date.desc(), Document.created_at.desc(), Document.id)
    rows = session.execute(page.limit(limit).offset(offset)).all()
    return total, [(document, code) for document, code in rows]


# -- the workspace's dashboard ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusTotals:
    status: str
    documents: int
    requested: int
    eligible: int
    deducted: int
    copayment: int
    insurer_share: int


def totals_by_status(session: Session) -> list[StatusTotals]:
    """Documents and their amounts, per status."""
    query = select(
        Document.status,
        func.count(),
        func.coalesce(func.sum(Document.requested_amount), 0),
        func.coalesce(func.sum(Document.eligible_amount), 0),
        func.coalesce(func.sum(Document.deduction_amount), 0),
        func.coalesce(func.sum(Document.copayment_amount), 0),
        func.coalesce(func.sum(Document.insurer_amount), 0),
    ).group_by(Document.status)
    return [
        StatusTotals(str(row[0]), *(int(value or 0) for value in row[1:]))
        for row in session.execute(query)
    ]


# -- voiding and replacing ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Original:
    """A live document of a centre that a replacement names, as its row was locked."""

    id: uuid.UUID
    external_id: str
    identifier_system: str
    status: str
    purpose: str


Service = tuple[str, str, date]  # patient, code, date


def lock_live_by_number(
    session: Session, centre_id: int, numbers: Collection[tuple[str, str]]
) -> list[Original]:
    """The centre's live documents of these (number, identifier system) pairs, row-locked
    where the database can (a decision on one waits for the replacement, or the reverse)."""
    if not numbers:
        return []
    query = (
        select(
            Document.id,
            Document.external_id,
            Document.identifier_system,
            Document.status,
            Document.purpose,
        )
        .where(
            Document.centre_id == centre_id,
            tuple_(Document.external_id, Document.identifier_system).in_(list(numbers)),
            Document.status.not_in(NOT_LIVE),
        )
        .order_by(Document.id)
        .with_for_update(of=Document)
    )
    return [Original(*row) for row in session.execute(query)]


def services_of(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[Service]]:
    """The (patient, code, date) of each of these bills' lines (an estimate bills none)."""
    found: dict[uuid.UUID, set[Service]] = {i: set() for i in ids}
    if not ids:
        return found
    query = (
        select(
            Document.id, Document.patient_national_id, DocumentLine.code, DocumentLine.service_date
        )
        .join(DocumentLine, DocumentLine.document_id == Document.id)
        .where(Document.id.in_(list(ids)), Document.purpose == Purpose.CLAIM.value)
    )
    for document_id, patient, code, day in session.execute(query):
        found[document_id].add((patient, code, day))
    return found


def services_held_by_others(
    session: Session, services: Collection[Service], excluded: Collection[uuid.UUID]
) -> set[Service]:
    """Which of these services a live bill other than ``excluded`` lists too."""
    if not services:
        return set()
    patients = {patient for patient, _, _ in services}
    days = {day for _, _, day in services}
    query = (
        select(Document.patient_national_id, DocumentLine.code, DocumentLine.service_date)
        .join(DocumentLine, DocumentLine.document_id == Document.id)
        .where(
            Document.patient_national_id.in_(patients),
            DocumentLine.service_date.in_(days),
            Document.status.not_in(NOT_LIVE),
            Document.purpose == Purpose.CLAIM.value,
            Document.id.not_in(list(excluded)),
        )
    )
    wanted = set(services)
    return {(a, b, c) for a, b, c in session.execute(query) if (a, b, c) in wanted}


def mark_voided(session: Session, ids: Collection[uuid.UUID], at: datetime) -> None:
    """Set these (locked, live) documents VOIDED: they no longer hold their numbers."""
    if ids:
        session.execute(
            update(Document)
            .where(Document.id.in_(list(ids)))
            .values(status=DocumentStatus.VOIDED.value, updated_at=at)
            .execution_options(synchronize_session=False)
        )
