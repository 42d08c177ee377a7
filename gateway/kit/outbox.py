"""Hands outbox messages to the broker: right after the commit, and again by a relay.

A message is marked published only after the broker took it, so a crash between the
commit and the send loses nothing: the relay finds the row and sends it. Consumers are
idempotent, so a message sent twice does no harm.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs, metrics
from gateway.kit.db import transaction
from gateway.storage import repository
from gateway.storage.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)
MARK_AT_MOST = 1000  # sent messages marked published in one statement


@dataclass(frozen=True, slots=True)
class Pending:
    """An outbox message as committed: enough to send it without reading it back."""

    id: int
    task: str
    payload: dict[str, Any]
    attempts: int = 0
    request_id: str | None = None  # of the request that stored it: the task's log lines


class Gauges(Protocol):
    """What the relay's pass samples besides the outbox (gateway.upkeep.gauges does it)."""

    def sample_database(self, session: Session) -> None: ...

    def sample_queue(self, celery: Celery, queue: str) -> None: ...


class Publisher:
    def __init__(
        self,
        celery: Celery,
        sessions: sessionmaker[Session],
        queue: str,
        gauges: Gauges | None = None,
    ) -> None:
        self.celery = celery
        self.sessions = sessions
        self.queue = queue
        self.gauges = gauges

    def _send(self, messages: Sequence[Pending | OutboxMessage], via: str) -> list[int]:
        for message in messages:
            correlation = getattr(message, "request_id", None) or f"outbox-{message.id}"
            self.celery.send_task(
                message.task,
                kwargs=message.payload,
                queue=self.queue,
                task_id=f"outbox-{message.id}-{message.attempts}",
                headers={"request_id": correlation},
            )
        metrics.OUTBOX_PUBLISHED.labels(via).inc(len(messages))
        return [m.id for m in messages]

    def publish(self, messages: Sequence[Pending]) -> int:
        """Send freshly committed messages and mark them sent; on failure the relay will."""
        sent = self.send(messages)
        if sent and not self.mark(sent):
            return 0
        return len(sent)

    def send(self, messages: Sequence[Pending]) -> list[int]:
        """Send freshly committed messages; the ids sent (none when the broker failed: the
        relay will send them)."""
        if not messages:
            return []
        try:
            return self._send(messages, "commit")
        except Exception:
            metrics.OUTBOX_PUBLISH_FAILURES.inc()
            log.warning("outbox publish failed; the relay will retry", exc_info=True)
            return []

    def mark(self, ids: Sequence[int]) -> bool:
        """Mark sent messages published; False when the database failed (the relay will
        send them again after its grace period, and consumers ignore the repeat)."""
        try:
            with transaction(self.sessions) as session:
                repository.mark_published(session, ids)
            return True
        except Exception:
            metrics.OUTBOX_PUBLISH_FAILURES.inc()
            log.warning("marking %d outbox messages published failed", len(ids), exc_info=True)
            return False

    def relay_once(self, grace: timedelta, limit: int = 500) -> int:
        """Send messages left unpublished for longer than ``grace``."""
        with transaction(self.sessions) as session:
            messages = repository.pending_outbox(session, utcnow() - grace, limit)
            if messages:
                repository.mark_published(session, self._send(messages, "relay"))
            metrics.OUTBOX_PENDING.set(repository.count_pending_outbox(session))
            if self.gauges is not None:
                self.gauges.sample_database(session)
        if self.gauges is not None:
            self.gauges.sample_queue(self.celery, self.queue)
        return len(messages)


class OutboxDispatcher(threading.Thread):
    """Publishes what requests commit, in batches, off the request path; and runs the relay.

    A request hands over its committed messages with ``notify`` and answers at once. If
    this process dies before they are sent, the rows are still unpublished in the outbox
    and the relay (here or in another API process) sends them after the grace period.

    Messages are sent as soon as they come, but marked published together, at most every
    ``mark_interval`` seconds (one small transaction then, not one per group commit). A
    message sent but not yet marked when the process dies is sent again by the relay,
    which waits far longer than ``mark_interval``; consumers ignore the repeat.
    """

    def __init__(
        self,
        publisher: Publisher,
        interval: float,
        grace: float,
        mark_interval: float = 0.25,
    ) -> None:
        super().__init__(name="outbox-dispatcher", daemon=True)
        self.publisher = publisher
        self.interval = interval
        self.grace = timedelta(seconds=grace)
        self.mark_interval = min(mark_interval, grace / 4)
        self.unmarked: list[int] = []  # sent, not yet marked published
        self.mark_due = 0.0
        self.inbox: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self.stopping = False

    def notify(self, messages: Sequence[Pending]) -> None:
        """Called while answering a request: its id goes along to the tasks' log lines."""
        rid = logs.request_id.get()
        for message in messages:
            self.inbox.put(message if rid is None else replace(message, request_id=rid))

    def run(self) -> None:
        next_relay = time.monotonic() + self.interval
        while not self.stopping:
            wake = min(next_relay, self.mark_due) if self.unmarked else next_relay
            batch = self._drain(max(wake - time.monotonic(), 0))
            if batch:
                self._send(batch)
            if self.unmarked and (
                time.monotonic() >= self.mark_due or len(self.unmarked) >= MARK_AT_MOST
            ):
                self._mark()
            if time.monotonic() >= next_relay:
                self._mark()
                self._relay()
                next_relay = time.monotonic() + self.interval
        self._mark()

    def _drain(self, timeout: float) -> list[Pending]:
        try:
            first = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first] if first is not None else []
        while len(batch) < 1000:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        return batch

    def _send(self, batch: list[Pending]) -> None:
        if not self.unmarked:
            self.mark_due = time.monotonic() + self.mark_interval
        self.unmarked += self.publisher.send(batch)

    def _mark(self) -> None:
        if self.unmarked:
            ids, self.unmarked = self.unmarked, []
            self.publisher.mark(ids)

    def _relay(self) -> None:
        try:
            while self.publisher.relay_once(self.grace) > 0:
                pass
        except Exception:
            metrics.OUTBOX_PUBLISH_FAILURES.inc()
            log.warning("outbox relay pass failed", exc_info=True)

    def stop(self) -> None:
        """Send what is queued, then end."""
        self.stopping = True
        self.inbox.put(None)
        self.join(timeout=10)
        leftover = self._drain(0)
        if leftover:
            self._send(leftover)
        self._mark()
