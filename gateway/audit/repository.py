"""The SQL of the audit trail: the chain's head and entries (``gateway.audit.chain``),
the webhooks and outbox rows of a status move (``gateway.audit.journal``) and the reads
behind "who read this patient's documents" (``gateway.audit.reads``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, Text, and_, insert, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from gateway.kit import bulk
from gateway.storage.models import (
    AuditEntry,
    AuditHead,
    Batch,
    Document,
    OutboxMessage,
    StatusEvent,
    Webhook,
)

HEAD_ID = 1
# Statements on the table itself: the head is read and moved on every commit of a move, and
# an ORM statement costs three times as much to build and run.
HEAD = cast(Table, AuditHead.__table__)
# On PostgreSQL the head is locked and moved by prepared plain statements: even a Core
# statement costs ~0.1 ms of CPU to build and run, on every commit that moves a document.
_LOCK_HEAD_SQL = "SELECT seq, hash FROM audit_head WHERE id = %s FOR UPDATE"
_MOVE_HEAD_SQL = "UPDATE audit_head SET seq = %s, hash = %s WHERE id = %s"
# Ids per LIKE clause group: SQLite refuses expressions nested deeper than 1,000.
_LIKE_GROUP = 200


# The chain.


def lock_head(session: Session) -> tuple[int, str]:
    """The head's sequence number and hash, locked until the transaction ends."""
    raw = bulk.psycopg_connection(session)
    if raw is not None:
        found = raw.execute(_LOCK_HEAD_SQL, [HEAD_ID], prepare=True).fetchone()
        assert found is not None, "the audit head row is created by the migrations"
        return found[0], found[1]
    # A write first, so the head is read under the database's write lock: SQLite has no
    # row lock, and a plain read (outside any transaction until the first write) lets
    # another process move the head before this append inserts.
    head = session.execute(
        update(HEAD)
        .where(HEAD.c.id == HEAD_ID)
        .values(seq=HEAD.c.seq)
        .returning(HEAD.c.seq, HEAD.c.hash)
    ).one()
    return head.seq, head.hash


def add_entries(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk.insert_dicts(session, AuditEntry, rows)


def move_head(session: Session, seq: int, hash_: str) -> None:
    raw = bulk.psycopg_connection(session)
    if raw is not None:
        raw.execute(_MOVE_HEAD_SQL, [seq, hash_, HEAD_ID], prepare=True)
    else:
        session.execute(update(HEAD).where(HEAD.c.id == HEAD_ID).values(seq=seq, hash=hash_))


def head(session: Session) -> AuditHead:
    return session.get_one(AuditHead, HEAD_ID)


def every_entry(session: Session, batch: int) -> Iterator[AuditEntry]:
    """The whole chain in sequence order, read ``batch`` entries at a time."""
    query = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    yield from session.scalars(query)


def entries_between(session: Session, first: int, last: int) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.seq >= first, AuditEntry.seq <= last)
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(query))


def entries_for(
    session: Session, subject_type: str, subject_ids: Iterable[str]
) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.subject_type == subject_type, AuditEntry.subject_id.in_(list(subject_ids))
        )
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(query))


# The journal of status moves.


def add_status_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    bulk.insert_dicts(session, StatusEvent, rows)


def live_webhooks(session: Session, centre_ids: Iterable[int]) -> dict[int, list[int]]:
    """The live webhooks' ids of these centres, by centre (centres with none left out)."""
    hooks: dict[int, list[int]] = {}
    query = select(Webhook.id, Webhook.centre_id).where(
        Webhook.centre_id.in_(set(centre_ids)), Webhook.disabled_at.is_(None)
    )
    for hook_id, centre_id in session.execute(query):
        hooks.setdefault(centre_id, []).append(hook_id)
    return hooks


def live_webhooks_of(session: Session, centre_id: int) -> list[int]:
    query = select(Webhook.id).where(Webhook.centre_id == centre_id, Webhook.disabled_at.is_(None))
    return list(session.scalars(query))


def add_outbox(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert the outbox messages; their ids, in the rows' order."""
    return list(
        session.scalars(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
            list(rows),
        ).all()
    )


# Who read a patient's documents.


def documents_of_patient(
    session: Session, national_id: str
) -> list[tuple[object, object, object, object]]:
    """The patient's documents, each with its payment order, batch and submission."""
    rows = session.execute(
        select(Document.id, Document.payment_order_id, Batch.id, Document.submission_id)
        .outerjoin(Batch, Batch.submission_id == Document.submission_id)
        .where(Document.patient_national_id == national_id)
    )
    return [(document, order, batch, submission) for document, order, batch, submission in rows]


def reads_naming(
    session: Session,
    action: str,
    *,
    one: tuple[str, Sequence[str]],
    scopes: Mapping[str, set[str]],
    page: tuple[str, Sequence[str]],
) -> list[AuditEntry]:
    """Entries of ``action`` naming any of these documents, newest first: as the one
    document (``one``: subject type and ids), through a scope that holds them (``scopes``:
    subject type to ids) or listed in a page of results (``page``: subject type and ids)."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.action == action, or_(*_naming(one, scopes, page)))
        .order_by(AuditEntry.seq.desc())
    )
    return list(session.scalars(query))


def _naming(
    one: tuple[str, Sequence[str]],
    scopes: Mapping[str, set[str]],
    page: tuple[str, Sequence[str]],
) -> Iterator[ColumnElement[bool]]:
    kind, ids = one
    yield and_(AuditEntry.subject_type == kind, AuditEntry.subject_id.in_(ids))
    for kind, held in scopes.items():
        if held:
            yield and_(AuditEntry.subject_type == kind, AuditEntry.subject_id.in_(held))
    # A page of results lists its ids in the details; document ids are UUIDs (hex and
    # hyphens only), so a plain substring test on the JSON text cannot match by accident.
    kind, ids = page
    text = sql_cast(AuditEntry.details, Text)
    for start in range(0, len(ids), _LIKE_GROUP):
        group = ids[start : start + _LIKE_GROUP]
        yield and_(AuditEntry.subject_type == kind, or_(*(text.like(f"%{d}%") for d in group)))
