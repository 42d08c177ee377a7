"""Re-queues work that got stuck: documents ACCEPTED but not priced, and batches whose
processing stopped (no heartbeat), after a threshold. Deletes outbox messages published
more than GATEWAY_OUTBOX_KEEP_DAYS ago (what was sent is in the status history and the
broker's hands; the table stays the size of a few days' traffic).

Both consumers are idempotent (pricing skips documents already priced; a batch resumes
after its last committed chunk), so a re-queue of work that was merely slow is harmless.
The sweep writes outbox messages, which the relay publishes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.domain.lifecycle import DocumentStatus
from gateway.information import service as information
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import Batch, Document, OutboxMessage, utcnow
from gateway.upkeep import deadletters, partitions, statistics

log = logging.getLogger(__name__)
PRICE_DOCUMENTS = "gateway.price_documents"
PROCESS_BATCH = "gateway.process_batch"
CHUNK = 200
PRUNE_LIMIT = 10_000  # outbox rows deleted per pass at most: a pass stays short


@dataclass(frozen=True, slots=True)
class Swept:
    documents: int
    batches: int


def sweep(session: Session, *, stuck_after: timedelta, now: datetime | None = None) -> Swept:
    moment = now or utcnow()
    cutoff = moment - stuck_after
    ids = list(
        session.scalars(
            select(Document.id)
            .where(Document.status == DocumentStatus.ACCEPTED, Document.updated_at < cutoff)
            .order_by(Document.id)
            .limit(10_000)
        )
    )
    rows = [
        {
            "task": PRICE_DOCUMENTS,
            "payload": {"document_ids": [str(i) for i in ids[start : start + CHUNK]]},
            "created_at": cutoff,  # old enough for the relay's next pass
            "attempts": 0,
        }
        for start in range(0, len(ids), CHUNK)
    ]
    batches = list(
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
    rows += [
        {
            "task": PROCESS_BATCH,
            "payload": {"batch_id": str(batch_id)},
            "created_at": cutoff,
            "attempts": 0,
        }
        for batch_id in batches
    ]
    for row in rows:
        session.add(OutboxMessage(**row))
    if ids:
        # Touch them, so the next sweep waits a full threshold before sending them again.
        for document in session.scalars(select(Document).where(Document.id.in_(ids))):
            document.updated_at = moment
    for batch in session.scalars(select(Batch).where(Batch.id.in_(batches))):
        batch.heartbeat_at = moment
    return Swept(len(ids), len(batches))


def prune_outbox(session: Session, *, keep: timedelta, now: datetime | None = None) -> int:
    """Delete up to PRUNE_LIMIT messages published before ``keep`` ago, oldest first
    (ids rise with time, so the primary key finds them first); how many."""
    cutoff = (now or utcnow()) - keep
    oldest = (
        select(OutboxMessage.id)
        .where(OutboxMessage.published_at < cutoff)
        .order_by(OutboxMessage.id)
        .limit(PRUNE_LIMIT)
    )
    ids = list(session.scalars(oldest))
    if ids:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    return len(ids)


def periodic(sessions: sessionmaker[Session], settings: Settings) -> Callable[[], None]:
    """The API process's sweep, run by its upkeep thread every sweep interval; it also
    tells of requests for information past their deadline, deletes long-published outbox
    messages, makes the coming months' partitions and refreshes the dead-letter gauge."""

    def run() -> None:
        with transaction(sessions) as session:
            swept = sweep(session, stuck_after=timedelta(seconds=settings.stuck_after_s))
        if swept.documents or swept.batches:
            metrics.SWEPT.labels("document").inc(swept.documents)
            metrics.SWEPT.labels("batch").inc(swept.batches)
            log.warning(
                "re-queued stuck work: %d document(s), %d batch(es)",
                swept.documents,
                swept.batches,
            )
        with transaction(sessions) as session:
            overdue = information.mark_overdue(session)
        if overdue:
            log.info("%d request(s) for information passed their deadline unanswered", overdue)
        with sessions() as session:
            metrics.DEAD_LETTERS.set(deadletters.count_open(session))
        with transaction(sessions) as session:
            pruned = prune_outbox(session, keep=timedelta(days=settings.outbox_keep_days))
        if pruned:
            log.info("deleted %d outbox message(s) published long ago", pruned)
        with transaction(sessions) as session:
            made = partitions.ensure_months(session)
        if made:
            log.info("made %d monthly partition(s) ahead", made)

    return run


def analysis(sessions: sessionmaker[Session]) -> Callable[[], None]:
    """The API process's statistics upkeep (``gateway.upkeep.statistics``), run by its
    upkeep thread every GATEWAY_ANALYZE_INTERVAL_S. A table left stale is told once
    per process: each pass tries it again."""
    told: set[str] = set()

    def run() -> None:
        with transaction(sessions) as session:
            done = statistics.analyze_stale(session)
        for table in done.analyzed:
            metrics.ANALYZED.labels(table).inc()
        if done.analyzed:
            log.info("analyzed %s: grown fourfold since their statistics", ", ".join(done.analyzed))
        new = [t for t in done.left if t not in told]
        if new:
            told.update(new)
            log.warning(
                "could not analyze %s (analyzed by another session, or not owned by the"
                " gateway's database role); stale statistics slow the lookups",
                ", ".join(new),
            )

    return run
