"""Gauges read from the database and the broker, sampled by the outbox relay's pass.

Counters are incremented where things happen; these are levels (a backlog, an age, a
queue's depth) that only a query can tell, so one process samples them every few seconds
rather than every scrape of every process. Gauges keep the maximum across processes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Celery
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.storage.models import utcnow
from gateway.upkeep import repository as store

log = logging.getLogger(__name__)
OPEN_BATCH_STATUSES = ("received", "processing")


def sample_database(session: Session) -> None:
    """Outbox lag and batch progress."""
    oldest: datetime | None = store.oldest_unpublished(session)
    lag = 0.0
    if oldest is not None:
        now = utcnow()
        lag = max(0.0, (now - oldest.replace(tzinfo=now.tzinfo)).total_seconds())
    metrics.OUTBOX_LAG.set(lag)
    found = store.open_batches(session, OPEN_BATCH_STATUSES)
    for status in OPEN_BATCH_STATUSES:
        metrics.BATCHES_OPEN.labels(status).set(found.get(status, (0, 0))[0])
    metrics.BATCH_DOCUMENTS_READ.set(sum(read for _, read in found.values()))


def sample_queue(celery: Celery, queue: str) -> None:
    """The broker's count of messages waiting in ``queue`` (a passive declare)."""
    try:
        with celery.connection_for_read() as connection:
            declared = connection.default_channel.queue_declare(queue=queue, passive=True)
        metrics.QUEUE_DEPTH.labels(queue).set(declared.message_count)
    except Exception:
        log.debug("queue depth of %s unavailable", queue, exc_info=True)
