"""Hands outbox messages to the broker: right after the commit, and again by a relay.

A message is marked published only after the broker took it, so a crash between the
commit and the send loses nothing: the relay finds the row and sends it. Consumers are
idempotent, so a message sent twice does no harm.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.storage import repository
from gateway.storage.db import transaction
from gateway.storage.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, celery: Celery, sessions: sessionmaker[Session], queue: str) -> None:
        self.celery = celery
        self.sessions = sessions
        self.queue = queue

    def _send(self, session: Session, messages: Sequence[OutboxMessage], via: str) -> int:
        for message in messages:
            self.celery.send_task(
                message.task,
                kwargs=message.payload,
                queue=self.queue,
                task_id=f"outbox-{message.id}-{message.attempts}",
            )
        repository.mark_published(session, [m.id for m in messages])
        metrics.OUTBOX_PUBLISHED.labels(via).inc(len(messages))
        return len(messages)

    def publish(self, ids: Sequence[int]) -> int:
        """Send these freshly committed messages; on failure the relay will."""
        if not ids:
            return 0
        try:
            with transaction(self.sessions) as session:
                return self._send(session, repository.outbox_messages(session, ids), "commit")
        except Exception:
            metrics.OUTBOX_PUBLISH_FAILURES.inc()
            log.warning("outbox publish failed; the relay will retry", exc_info=True)
            return 0

    def relay_once(self, grace: timedelta, limit: int = 500) -> int:
        """Send messages left unpublished for longer than ``grace``."""
        with transaction(self.sessions) as session:
            messages = repository.pending_outbox(session, utcnow() - grace, limit)
            sent = self._send(session, messages, "relay") if messages else 0
            metrics.OUTBOX_PENDING.set(repository.count_pending_outbox(session))
            return sent


class RelayThread(threading.Thread):
    """Runs the relay every ``interval`` seconds until stopped."""

    def __init__(self, publisher: Publisher, interval: float, grace: float) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.publisher = publisher
        self.interval = interval
        self.grace = timedelta(seconds=grace)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                while self.publisher.relay_once(self.grace) > 0:
                    pass
            except Exception:
                metrics.OUTBOX_PUBLISH_FAILURES.inc()
                log.warning("outbox relay pass failed", exc_info=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
