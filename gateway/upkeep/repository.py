"""The SQL of upkeep: the business signals (``gateway.upkeep.signals``: levels only a
query can tell, each read by an index; tests/storage/test_query_plans.py plans them on
millions of rows), the sweeper's stuck work and outbox pruning, the gauges, the dead
letters, the planner statistics and the monthly partitions (PostgreSQL's catalogue).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, text
from sqlalchemy.orm import Session

from gateway.domain.centres import CentreKind
from gateway.domain.lifecycle import DocumentStatus
from gateway.storage.models import (
    Appeal,
    Batch,
    Centre,
    DeadLetter,
    Document,
    OutboxMessage,
    Submission,
)

S = DocumentStatus
# The advisory lock the collector holds while it is the one collector of all API
# processes on a PostgreSQL database (any fixed number; "signals" in ASCII).
COLLECTOR_LOCK = 0x7369676E616C73


@dataclass(frozen=True, slots=True)
class Waiting:
    """How many wait, and since when the longest-waiting one has (None when none)."""

    count: int
    since: datetime | None


@dataclass(frozen=True, slots=True)
class Review:
    backlog: Waiting
    appeals: Waiting


# Age of money owed, in whole days since approval: the bucket's label and the first whole
# day past it; older than every bound is OLDEST (91 days or more).
AGE_BUCKETS = (("0-30", 31), ("31-60", 61), ("61-90", 91))
OLDEST = "90+"
STAGES = ("approved", "ordered")


@dataclass(frozen=True, slots=True)
class Owed:
    stage: str  # approved (not yet in a payment order) | ordered (in one not yet paid)
    age: str  # a label of AGE_BUCKETS, or OLDEST
    rials: int


@dataclass(frozen=True, slots=True)
class CentreDay:
    code: str
    documents: int
    rejected: int
    deducted: int


def try_lock_collector(session: Session) -> bool:
    """Take the collector's lock for this session's connection, if no other holds it.

    A session-level lock: it stays while the connection lives (across commits), and the
    database lets it go when the connection ends, with its process or otherwise.
    """
    return bool(session.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": COLLECTOR_LOCK}))


def unlock_collector(session: Session) -> None:
    """Let the collector's lock go now (closing the connection frees it too, but only once
    the server has noticed, which another process could race)."""
    session.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": COLLECTOR_LOCK})


def review(session: Session) -> Review:
    """Documents under review, waiting since they were priced or, when appealed, since
    their latest appeal (the appeal that put them back in review)."""
    appealed = (
        select(func.max(Appeal.created_at))
        .where(Appeal.document_id == Document.id)
        .correlate(Document)
        .scalar_subquery()
    )
    waiting = (
        select(Document.priced_at.label("priced"), appealed.label("appealed"))
        .where(Document.status == S.UNDER_REVIEW)
        .subquery()
    )
    count, since, appeals, appealed_since = session.execute(
        select(
            func.count(),
            func.min(func.coalesce(waiting.c.appealed, waiting.c.priced)),
            func.count(waiting.c.appealed),
            func.min(waiting.c.appealed),
        )
    ).one()
    return Review(Waiting(count, since), Waiting(appeals, appealed_since))


def awaiting_pricing(session: Session) -> Waiting:
    """Documents accepted and not yet priced, and the oldest one's arrival (its creation:
    the sweeper touches ``updated_at`` when it re-queues one)."""
    count, since = session.execute(
        select(func.count(), func.min(Document.created_at)).where(Document.status == S.ACCEPTED)
    ).one()
    return Waiting(count, since)


def owed(session: Session, now: datetime) -> list[Owed]:
    """The insurer's share of contracted centres' bills approved and not yet paid, by
    stage and age (estimates are never owed)."""
    stage = case((Document.status == S.APPROVED, "approved"), else_="ordered")
    approved = func.coalesce(Document.decided_at, Document.priced_at)
    age = case(
        *[(approved > now - timedelta(days=days), label) for label, days in AGE_BUCKETS],
        else_=OLDEST,
    )
    query = (
        select(stage, age, func.sum(Document.insurer_amount))
        .join(Centre, Centre.id == Document.centre_id)
        .where(
            Document.status.in_((S.APPROVED, S.PAYMENT_ORDERED)),
            Document.purpose == "claim",
            Centre.kind == CentreKind.CONTRACTED,
        )
        .group_by(stage, age)
    )
    return [Owed(s, a, int(rials or 0)) for s, a, rials in session.execute(query)]


def centres_lately(session: Session, now: datetime) -> list[CentreDay]:
    """Per centre with documents in the last two days: the last day's documents, those
    rejected, and the rials deducted from them so far. Centres quiet on the last day come
    with zeros, so a figure once reported falls back to zero before it is dropped."""
    day = now - timedelta(days=1)
    recent = Submission.received_at >= day
    query = (
        select(
            Centre.code,
            func.count().filter(recent),
            func.count().filter(recent, Document.status == S.REJECTED),
            func.coalesce(func.sum(Document.deduction_amount).filter(recent), 0),
        )
        .select_from(Centre)
        .join(
            Submission,
            (Submission.centre_id == Centre.id)
            & (Submission.received_at >= now - timedelta(days=2)),
        )
        .join(Document, Document.submission_id == Submission.id)
        .group_by(Centre.code)
        .order_by(Centre.code)
    )
    return [
        CentreDay(code, documents, rejected, int(deducted or 0))
        for code, documents, rejected, deducted in session.execute(query)
    ]


# The sweeper (``gateway.upkeep.sweeper``).


def stuck_documents(session: Session, cutoff: datetime, limit: int) -> list[uuid.UUID]:
    """Documents accepted and untouched since ``cutoff``, the first ``limit`` by id."""
    return list(
        session.scalars(
            select(Document.id)
            .where(Document.status == DocumentStatus.ACCEPTED, Document.updated_at < cutoff)
            .order_by(Document.id)
            .limit(limit)
        )
    )


def stuck_batches(session: Session, cutoff: datetime) -> list[uuid.UUID]:
    """Batches received or processing with no heartbeat since ``cutoff`` (nor any, and
    received before it)."""
    return list(
        session.scalars(
            select(Batch.id).where(
                Batch.status.in_(("received", "processing")),
                or_(
                    Batch.heartbeat_at < cutoff,
                    Batch.heartbeat_at.is_(None) & (Batch.received_at < cutoff),
                ),
            )
        )
    )


def documents(session: Session, ids: Iterable[uuid.UUID]) -> Sequence[Document]:
    return session.scalars(select(Document).where(Document.id.in_(list(ids)))).all()


def batches(session: Session, ids: Iterable[uuid.UUID]) -> Sequence[Batch]:
    return session.scalars(select(Batch).where(Batch.id.in_(list(ids)))).all()


def delete_published(session: Session, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` outbox messages published before ``before``, oldest first
    (ids rise with time, so the primary key finds them first); how many."""
    oldest = (
        select(OutboxMessage.id)
        .where(OutboxMessage.published_at < before)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    ids = list(session.scalars(oldest))
    if ids:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    return len(ids)


# The gauges (``gateway.upkeep.gauges``).


def oldest_unpublished(session: Session) -> datetime | None:
    """When the oldest outbox message not yet published was written."""
    return session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
    )


def open_batches(session: Session, statuses: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per status among ``statuses``: how many batches, and their documents read so far."""
    rows = session.execute(
        select(Batch.status, func.count(), func.coalesce(func.sum(Batch.documents_read), 0))
        .where(Batch.status.in_(statuses))
        .group_by(Batch.status)
    ).all()
    return {status: (count, read) for status, count, read in rows}


# Dead letters (``gateway.upkeep.deadletters``).


def open_letters(session: Session, limit: int) -> Sequence[DeadLetter]:
    query = (
        select(DeadLetter)
        .where(DeadLetter.replayed_at.is_(None))
        .order_by(DeadLetter.id)
        .limit(limit)
    )
    return session.scalars(query).all()


def count_open_letters(session: Session) -> int:
    query = select(func.count()).select_from(DeadLetter).where(DeadLetter.replayed_at.is_(None))
    return session.scalar(query) or 0


def lock_open_letters(session: Session, ids: Sequence[int] | None) -> list[DeadLetter]:
    """The open dead letters among ``ids`` (all when None), locked, by id."""
    query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None)).with_for_update()
    if ids is not None:
        query = query.where(DeadLetter.id.in_(list(ids)))
    return list(session.scalars(query.order_by(DeadLetter.id)))


# Planner statistics (``gateway.upkeep.statistics``), on PostgreSQL.

# Plain tables and partitions (relkind 'r'): autovacuum never analyzes a partitioned
# table's parent either, and the planner reads the partitions' own statistics.
_STALE_SQL = (
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE s.schemaname = current_schema() AND c.relkind = 'r'"
    " AND s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8"
    " + :more * greatest(c.reltuples, 0)"
    " ORDER BY s.relname"
)


def grown_tables(session: Session, growth: int) -> list[str]:
    """The schema's tables with more rows changed since their last ANALYZE than
    ``autovacuum_analyze_threshold`` + (``growth`` - 1) x the rows their statistics
    counted."""
    return list(session.scalars(text(_STALE_SQL).bindparams(more=growth - 1)))


def analyze(session: Session, tables: Sequence[str]) -> None:
    """ANALYZE these tables, skipping those another session is analyzing or vacuuming."""
    names = ", ".join(session.connection().dialect.identifier_preparer.quote(t) for t in tables)
    session.execute(text(f"ANALYZE (SKIP_LOCKED) {names}"))


# Monthly partitions (``gateway.upkeep.partitions``), on PostgreSQL.


def make_month_partitions(session: Session, table: str, start: datetime, end: datetime) -> int:
    """Make ``table``'s missing monthly partitions from ``start``'s month to ``end``'s
    (the function of migration 0009); how many were made."""
    made = session.scalar(
        text("SELECT gateway_month_partitions(:table, :start, :end)"),
        {"table": table, "start": start, "end": end},
    )
    return int(made or 0)


def partitions_of(session: Session, tables: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """Every partition of these tables, in order: table, partition, bounds, and the
    planner's estimate of its rows."""
    query = text(
        "SELECT parent.relname, child.relname, pg_get_expr(child.relpartbound, child.oid),"
        " greatest(child.reltuples, 0)::bigint"
        " FROM pg_inherits i"
        " JOIN pg_class parent ON parent.oid = i.inhparent"
        " JOIN pg_class child ON child.oid = i.inhrelid"
        " WHERE parent.relname = ANY(:tables) AND child.relkind = 'r'"
        " ORDER BY parent.relname, child.relname"
    )
    found = session.execute(query, {"tables": list(tables)}).all()
    return [(table, name, bounds, rows) for table, name, bounds, rows in found]
