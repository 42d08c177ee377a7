"""The SQL of requests for information, their answers and attachments. Functions take the
caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.storage.models import (
    AnswerAttachment,
    Attachment,
    Document,
    InformationAnswer,
    InformationRequest,
)

OVERDUE_BATCH = 500  # requests marked overdue in one sweep at most


@dataclass(frozen=True, slots=True)
class Linked:
    """An attachment as one answer carries it."""

    answer_id: int
    position: int
    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Waiting:
    """Open requests: how many, since when the oldest waits, how many are past due."""

    count: int
    since: datetime | None
    overdue: int


def add(session: Session, row: InformationRequest | InformationAnswer | AnswerAttachment) -> None:
    session.add(row)


def request(session: Session, request_id: uuid.UUID) -> InformationRequest | None:
    return session.get(InformationRequest, request_id)


def open_request(session: Session, document_id: uuid.UUID) -> InformationRequest | None:
    """The document's open request: neither answered nor withdrawn (one at a time)."""
    query = (
        select(InformationRequest)
        .where(
            InformationRequest.document_id == document_id,
            InformationRequest.answered_at.is_(None),
            InformationRequest.withdrawn_at.is_(None),
        )
        .order_by(InformationRequest.requested_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def requests_of(session: Session, document_id: uuid.UUID) -> list[InformationRequest]:
    query = (
        select(InformationRequest)
        .where(InformationRequest.document_id == document_id)
        .order_by(InformationRequest.requested_at, InformationRequest.id)
    )
    return list(session.scalars(query))


def open_requests_of_centre(
    session: Session, centre_id: int, limit: int
) -> list[InformationRequest]:
    query = (
        select(InformationRequest)
        .where(
            InformationRequest.centre_id == centre_id,
            InformationRequest.answered_at.is_(None),
            InformationRequest.withdrawn_at.is_(None),
        )
        .order_by(InformationRequest.due_at, InformationRequest.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def answers_of(session: Session, request_ids: Sequence[uuid.UUID]) -> list[InformationAnswer]:
    if not request_ids:
        return []
    query = (
        select(InformationAnswer)
        .where(InformationAnswer.request_id.in_(request_ids))
        .order_by(InformationAnswer.id)
    )
    return list(session.scalars(query))


def attachments_of(session: Session, answer_ids: Sequence[int]) -> list[Linked]:
    if not answer_ids:
        return []
    query = (
        select(
            AnswerAttachment.answer_id,
            AnswerAttachment.position,
            AnswerAttachment.sha256,
            AnswerAttachment.filename,
            Attachment.content_type,
            Attachment.size,
        )
        .join(Attachment, Attachment.sha256 == AnswerAttachment.sha256)
        .where(AnswerAttachment.answer_id.in_(answer_ids))
        .order_by(AnswerAttachment.answer_id, AnswerAttachment.position)
    )
    return [Linked(*row) for row in session.execute(query)]


def store_attachments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert attachments by their SHA-256; one already stored (by any sender, at any
    time, concurrently too) is kept as it is: the same digest is the same bytes."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Attachment).on_conflict_do_nothing(index_elements=["sha256"])
    session.execute(statement, list(rows))


def attachment(
    session: Session, sha256: str, centre_id: int | None
) -> tuple[Attachment, str] | None:
    """The attachment and the name it was sent under, if any answer the caller may see
    carries it (a centre: its own documents' answers; staff: any)."""
    query = (
        select(Attachment, AnswerAttachment.filename)
        .join(AnswerAttachment, AnswerAttachment.sha256 == Attachment.sha256)
        .where(Attachment.sha256 == sha256)
        .order_by(AnswerAttachment.answer_id.desc(), AnswerAttachment.position)
        .limit(1)
    )
    if centre_id is not None:
        query = (
            query.join(InformationAnswer, InformationAnswer.id == AnswerAttachment.answer_id)
            .join(InformationRequest, InformationRequest.id == InformationAnswer.request_id)
            .where(InformationRequest.centre_id == centre_id)
        )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])


def documents_carrying(session: Session, sha256: str) -> list[uuid.UUID]:
    """The documents whose answers carry the attachment (for the staff read's audit entry)."""
    query = (
        select(InformationRequest.document_id)
        .join(InformationAnswer, InformationAnswer.request_id == InformationRequest.id)
        .join(AnswerAttachment, AnswerAttachment.answer_id == InformationAnswer.id)
        .where(AnswerAttachment.sha256 == sha256)
        .distinct()
    )
    return list(session.scalars(query))


def newly_overdue(session: Session, now: datetime) -> list[tuple[InformationRequest, Document]]:
    """Unanswered requests past their deadline not yet told of, oldest deadline first,
    locked so that two sweepers do not tell twice."""
    query = (
        select(InformationRequest, Document)
        .join(Document, Document.id == InformationRequest.document_id)
        .where(
            InformationRequest.answered_at.is_(None),
            InformationRequest.withdrawn_at.is_(None),
            InformationRequest.overdue_at.is_(None),
            InformationRequest.due_at < now,
        )
        .order_by(InformationRequest.due_at)
        .limit(OVERDUE_BATCH)
        .with_for_update(of=InformationRequest, skip_locked=True)
    )
    return [(request, document) for request, document in session.execute(query)]


def waiting(session: Session, now: datetime) -> Waiting:
    """The open requests' figures, by the partial index of open requests."""
    count, since, overdue = session.execute(
        select(
            func.count(),
            func.min(InformationRequest.requested_at),
            func.count().filter(InformationRequest.due_at < now),
        ).where(InformationRequest.answered_at.is_(None), InformationRequest.withdrawn_at.is_(None))
    ).one()
    return Waiting(int(count or 0), since, int(overdue or 0))
