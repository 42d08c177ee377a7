"""The SQL of batches. Functions take a session and never commit: callers own that."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    Uuid,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from gateway.domain.lifecycle import DocumentStatus
from gateway.kit import bulk
from gateway.kit.outbox import Pending
from gateway.storage.models import (
    Batch,
    BatchRejection,
    Centre,
    Document,
    DocumentLine,
    OutboxMessage,
    Submission,
    utcnow,
)

DOCUMENTS: Table = cast(Table, Document.__table__)
BATCHES: Table = cast(Table, Batch.__table__)

DOCUMENT_COLUMNS = (
    "id", "submission_id", "centre_id", "ordinal", "kind", "external_id", "status",
    "source_path", "patient_national_id", "insurance_number", "physician_number",
    "physician_grade", "referral_code", "tracking_code", "category", "package_code",
    "service_date", "admission_date", "discharge_date", "total_amount", "requested_amount",
    "problems", "created_at", "updated_at", "physician_specialty", "self_referred", "emergency",
)  # fmt: skip
LINE_COLUMNS = (
    "document_id", "line_no", "code_type", "code", "description", "service_date",
    "quantity", "unit_price", "amount",
)  # fmt: skip
REJECTION_COLUMNS = ("batch_id", "ordinal", "external_id", "kind", "source_path", "problems")


def by_sha256(session: Session, centre_id: int, sha256: str) -> Batch | None:
    query = select(Batch).where(Batch.centre_id == centre_id, Batch.sha256 == sha256)
    return session.scalars(query).one_or_none()


def get(session: Session, batch_id: uuid.UUID, centre_id: int | None) -> Batch | None:
    """A batch; None when absent or another centre's (``centre_id`` None: any centre's)."""
    query = select(Batch).where(Batch.id == batch_id)
    if centre_id is not None:
        query = query.where(Batch.centre_id == centre_id)
    return session.scalars(query).one_or_none()


def priced_count(session: Session, batch: Batch) -> int:
    """The batch's documents that pricing has reached (priced, or any status after,
    denied on review included): its accepted documents less those still awaiting
    pricing (ACCEPTED moves to PRICED only). Read by a partial index holding only the
    documents awaiting pricing, so asking costs what is left to price, not the batch's
    size.

    Both counts come from one statement (one snapshot): a chunk committed between
    reading ``batch`` and this count adds to both. The answer is at most
    ``batch.accepted_count``, the accepted figure shown beside it; it never falls from one
    request to the next."""
    awaiting = (
        select(func.count())
        .where(
            Document.submission_id == Batch.submission_id,
            Document.status == DocumentStatus.ACCEPTED.value,
        )
        .scalar_subquery()
    )
    priced = session.scalar(select(Batch.accepted_count - awaiting).where(Batch.id == batch.id))
    return max(0, min(batch.accepted_count, priced or 0))


def add(session: Session, *, batch: Batch, submission: Submission, task: str) -> Pending:
    """The batch, its submission and the outbox message that starts its processing."""
    session.add(submission)
    session.flush()
    session.add(batch)
    message = OutboxMessage(task=task, payload={"batch_id": str(batch.id)}, attempts=0)
    session.add(message)
    session.flush()
    return Pending(message.id, message.task, message.payload)


def start_run(session: Session, batch_id: uuid.UUID) -> tuple[Batch, Centre] | None:
    """Marks the batch processing (one more run) and returns it with its centre; None when
    it is finished or unknown."""
    now = utcnow()
    done = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status.in_(("received", "processing")))
        .values(
            status="processing",
            runs=Batch.runs + 1,
            started_at=func.coalesce(Batch.started_at, now),
            heartbeat_at=now,
        )
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return None
    batch = session.get_one(Batch, batch_id, populate_existing=True)
    return batch, session.get_one(Centre, batch.centre_id)


def claim_chunk(session: Session, batch_id: uuid.UUID, read: int) -> bool:
    """Locks the batch row for this chunk if no other run has moved it past ``read``."""
    done = session.execute(
        update(BATCHES)
        .where(
            BATCHES.c.id == batch_id,
            BATCHES.c.documents_read == read,
            BATCHES.c.status == "processing",
        )
        .values(heartbeat_at=utcnow())
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def advance(session: Session, batch: Batch, *, read: int, accepted: int, rejected: int) -> None:
    """Counts a committed chunk: the resume point moves to the chunk's end."""
    session.execute(
        update(BATCHES)
        .where(BATCHES.c.id == batch.id)
        .values(
            documents_read=BATCHES.c.documents_read + read,
            last_ordinal=BATCHES.c.documents_read + read - 1,
            accepted_count=BATCHES.c.accepted_count + accepted,
            rejected_count=BATCHES.c.rejected_count + rejected,
        )
    )
    session.execute(
        update(cast(Table, Submission.__table__))
        .where(Submission.id == batch.submission_id)
        .values(
            document_count=Submission.document_count + read,
            accepted_count=Submission.accepted_count + accepted,
            rejected_count=Submission.rejected_count + rejected,
        )
    )


def finish(
    session: Session,
    batch_id: uuid.UUID,
    status: str,
    errors: list[dict[str, Any]] | None = None,
    submission_number: str | None = None,
) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == "processing")
        .values(status=status, errors=errors, finished_at=utcnow())
    )
    if submission_number is not None:
        session.execute(
            update(Submission)
            .where(Submission.id == select(Batch.submission_id).where(Batch.id == batch_id))
            .values(submission_number=submission_number)
        )


def store_rows(
    session: Session,
    *,
    documents: Iterable[Sequence[Any]],
    lines: Iterable[Sequence[Any]],
    rejections: Iterable[Sequence[Any]],
) -> None:
    """A chunk's rows in bulk (COPY on PostgreSQL); the JSON columns come as JSON text."""
    bulk.insert_rows(session, Document, DOCUMENT_COLUMNS, documents, json_text=("problems",))
    bulk.insert_rows(session, DocumentLine, LINE_COLUMNS, lines)
    bulk.insert_rows(
        session, BatchRejection, REJECTION_COLUMNS, rejections, json_text=("problems",)
    )


def add_messages(session: Session, task: str, payloads: list[dict[str, Any]]) -> list[Pending]:
    if not payloads:
        return []
    now = utcnow()
    rows = [{"task": task, "payload": p, "created_at": now, "attempts": 0} for p in payloads]
    ids = session.scalars(
        insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows
    ).all()
    return [Pending(i, task, p) for i, p in zip(ids, payloads, strict=True)]


def acknowledgement_rows(
    session: Session, batch: Batch, chunk: int = 2000
) -> Iterator[tuple[int, str | None, str | None, Any, str, str, Any]]:
    """(ordinal, number, kind, document id, status, path, problems) of every document of the
    batch in file order, read in pieces: stored documents and those the schema refused."""
    stored = select(
        Document.ordinal,
        Document.external_id,
        Document.kind,
        Document.id,
        Document.status,
        Document.source_path,
        Document.problems,
    ).where(Document.submission_id == batch.submission_id)
    refused = select(
        BatchRejection.ordinal,
        BatchRejection.external_id,
        BatchRejection.kind,
        sql_cast(null(), Uuid),
        literal(DocumentStatus.REJECTED.value),
        BatchRejection.source_path,
        BatchRejection.problems,
    ).where(BatchRejection.batch_id == batch.id)
    both = union_all(stored, refused).subquery()
    query = select(*both.c).order_by(both.c.ordinal)
    result = session.execute(query.execution_options(yield_per=chunk))
    for row in result:
        yield row[0], row[1], row[2], row[3], row[4], row[5], row[6]


GROWN = ("documents", "document_lines", "status_events", "audit_log")


def analyze_grown(session: Session) -> None:
    """Fresh planner statistics for the tables a batch grows. Until autovacuum comes round,
    PostgreSQL plans with what it saw when they were small: a chunk's lookups by patient
    or by document then scan the whole table (seconds a chunk at 70,000 documents)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE " + ", ".join(GROWN)))


def backlog(session: Session, *, since: datetime, recent: int) -> tuple[int, int, float]:
    """(bytes of the batches not finished, bytes and seconds of up to ``recent`` batches
    stored since ``since``): what waits, and how fast the last ones went."""
    waiting = session.scalar(
        select(func.coalesce(func.sum(Batch.size), 0)).where(
            Batch.status.in_(("received", "processing"))
        )
    )
    finished = (
        select(Batch.size, Batch.started_at, Batch.finished_at)
        .where(
            Batch.status == "done",
            Batch.finished_at >= since,
            Batch.started_at.is_not(None),
        )
        .order_by(Batch.finished_at.desc())
        .limit(recent)
    )
    size = seconds = 0.0
    for row in session.execute(finished):
        size += row.size
        seconds += max(0.0, (row.finished_at - row.started_at).total_seconds())
    return int(waiting or 0), int(size), seconds


# -- the workspace's batch pages ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A batch as the workspace lists it: its centre and how many of its documents pricing
    has reached."""

    batch: Batch
    centre_code: str
    centre_name: str
    priced: int


def _awaiting_pricing() -> Any:
    return (
        select(func.count())
        .where(
            Document.submission_id == Batch.submission_id,
            Document.status == DocumentStatus.ACCEPTED.value,
        )
        .correlate(Batch)
        .scalar_subquery()
    )


def _listed(centre_code: str | None, status: str | None) -> Any:
    query = select(Batch, Centre.code, Centre.name).join(Centre, Centre.id == Batch.centre_id)
    if centre_code:
        query = query.where(func.lower(Centre.code) == centre_code.lower())
    if status:
        query = query.where(Batch.status == status)
    return query


def count_batches(session: Session, *, centre_code: str | None, status: str | None) -> int:
    listed = _listed(centre_code, status).subquery()
    return session.scalar(select(func.count()).select_from(listed)) or 0


def list_batches(
    session: Session, *, centre_code: str | None, status: str | None, limit: int, offset: int
) -> list[BatchRow]:
    """A page of batches, newest first (centre code in any case), with their priced counts."""
    query = (
        _listed(centre_code, status)
        .add_columns(Batch.accepted_count - _awaiting_pricing())
        .order_by(Batch.received_at.desc(), Batch.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        BatchRow(batch, code, name, max(0, min(batch.accepted_count, priced or 0)))
        for batch, code, name, priced in session.execute(query)
    ]


def batch_centre(session: Session, batch: Batch) -> Centre:
    return session.get_one(Centre, batch.centre_id)


def statuses_of(session: Session, batch: Batch) -> dict[str, int]:
    """How many of the batch's stored documents are in each status now."""
    query = (
        select(Document.status, func.count())
        .where(Document.submission_id == batch.submission_id)
        .group_by(Document.status)
    )
    return {str(row[0]): int(row[1]) for row in session.execute(query)}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One document of a batch, in file order: stored (with its id) or refused by the
    schema (no id), with its problems."""

    ordinal: int
    external_id: str | None
    kind: str | None
    document_id: uuid.UUID | None
    status: str
    problems: list[dict[str, Any]]


def _outcomes(batch: Batch, rejected_only: bool) -> Any:
    stored = select(
        Document.ordinal,
        Document.external_id,
        Document.kind,
        Document.id,
        Document.status,
        Document.problems,
    ).where(Document.submission_id == batch.submission_id)
    if rejected_only:
        stored = stored.where(Document.status == DocumentStatus.REJECTED.value)
    refused = select(
        BatchRejection.ordinal,
        BatchRejection.external_id,
        BatchRejection.kind,
        sql_cast(null(), Uuid),
        literal(DocumentStatus.REJECTED.value),
        BatchRejection.problems,
    ).where(BatchRejection.batch_id == batch.id)
    return union_all(stored, refused).subquery()


def count_outcomes(session: Session, batch: Batch, *, rejected_only: bool) -> int:
    both = _outcomes(batch, rejected_only)
    return session.scalar(select(func.count()).select_from(both)) or 0


def outcomes(
    session: Session, batch: Batch, *, rejected_only: bool, limit: int, offset: int
) -> list[Outcome]:
    """A page of the batch's documents in file order (only the rejected ones if asked)."""
    both = _outcomes(batch, rejected_only)
    query = select(*both.c).order_by(both.c.ordinal).limit(limit).offset(offset)
    return [
        Outcome(ordinal, number, kind, document_id, status, problems or [])
        for ordinal, number, kind, document_id, status, problems in session.execute(query)
    ]
