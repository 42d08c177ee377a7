"""The SQL of storing submissions: their rows laid out as tuples and written in bulk
(COPY on PostgreSQL), whatever the number of submissions in the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, selectinload

from gateway.batches import repository as batches
from gateway.batches.repository import LINE_COLUMNS
from gateway.kit import bulk
from gateway.kit.outbox import Pending
from gateway.storage.models import (
    Document,
    DocumentLine,
    OutboxMessage,
    RawPayload,
    Submission,
    utcnow,
)

__all__ = [
    "DOCUMENT_COLUMNS",
    "LINE_COLUMNS",
    "Rows",
    "add_messages",
    "get_submission",
    "raw_payload",
    "store",
    "submission_by_idempotency_key",
]

SUBMISSION_COLUMNS = (
    "id", "centre_id", "format", "submission_number", "received_at", "document_count",
    "accepted_count", "rejected_count", "idempotency_key",
)  # fmt: skip
RAW_COLUMNS = ("submission_id", "content_type", "sha256", "size", "body")
OUTBOX = cast(Table, OutboxMessage.__table__)
_ADD_MESSAGE_SQL = (
    "INSERT INTO outbox (task, payload, created_at, attempts)"
    " VALUES (%s, %s::json, %s, 0) RETURNING id"
)
# A batch holds bills only (its documents take the column's default, "claim"); a
# submission's documents may be estimates and carry an identifier system (the FHIR door).
DOCUMENT_COLUMNS = (
    *batches.DOCUMENT_COLUMNS,
    "purpose",
    "identifier_system",
)


@dataclass(slots=True)
class Rows:
    """Rows of one transaction's submissions, each in its table's column order above
    (documents' problems as JSON text)."""

    submissions: list[list[Any]] = field(default_factory=list)
    raws: list[list[Any]] = field(default_factory=list)
    documents: list[list[Any]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)


def store(session: Session, rows: Rows) -> None:
    """Insert the rows, parents first."""
    bulk.insert_rows(session, Submission, SUBMISSION_COLUMNS, rows.submissions)
    bulk.insert_rows(session, RawPayload, RAW_COLUMNS, rows.raws)
    bulk.insert_rows(session, Document, DOCUMENT_COLUMNS, rows.documents, json_text=("problems",))
    bulk.insert_rows(session, DocumentLine, LINE_COLUMNS, rows.lines)


def add_messages(session: Session, task: str, payloads: list[dict[str, Any]]) -> list[Pending]:
    """Outbox rows for ``task``, one per payload, with their new ids (a statement on the
    table, not the ORM: it runs on every commit of the API's group commit)."""
    if not payloads:
        return []
    now = utcnow()
    raw = bulk.psycopg_connection(session)
    if raw is not None:
        with raw.pipeline():
            cursors = [
                raw.execute(_ADD_MESSAGE_SQL, [task, orjson.dumps(p).decode(), now], prepare=True)
                for p in payloads
            ]
        ids = [row[0] for cursor in cursors for row in cursor.fetchall()]
    else:
        rows = [{"task": task, "payload": p, "created_at": now, "attempts": 0} for p in payloads]
        statement = insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True)
        ids = list(session.scalars(statement, rows))
    return [Pending(i, task, p) for i, p in zip(ids, payloads, strict=True)]


# -- reading submissions back ----------------------------------------------------------


def get_submission(
    session: Session, submission_id: uuid.UUID, centre_id: int | None
) -> Submission | None:
    """A submission with its documents; None when absent or another centre's."""
    query = (
        select(Submission)
        .options(selectinload(Submission.documents))
        .where(Submission.id == submission_id)
    )
    if centre_id is not None:
        query = query.where(Submission.centre_id == centre_id)
    return session.scalars(query).one_or_none()


def submission_by_idempotency_key(
    session: Session, centre_id: int, key: str
) -> tuple[Submission, str] | None:
    """An earlier submission of this centre under this key, with its body's SHA-256."""
    query = (
        select(Submission, RawPayload.sha256)
        .join(RawPayload, RawPayload.submission_id == Submission.id)
        .options(selectinload(Submission.documents))
        .where(Submission.centre_id == centre_id, Submission.idempotency_key == key)
    )
    row = session.execute(query).one_or_none()
    return None if row is None else (row[0], row[1])


def raw_payload(session: Session, submission_id: uuid.UUID) -> RawPayload | None:
    query = select(RawPayload).where(RawPayload.submission_id == submission_id)
    return session.scalars(query).one_or_none()
