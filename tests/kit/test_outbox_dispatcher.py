"""The outbox dispatcher sends committed messages at once and marks them published
together, a few times a second; whatever it sent is marked by the time it stops, and what
the broker refused stays unpublished for the relay. The API's upkeep (the sweep, the
statistics) runs beside it, on a thread of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway import app
from gateway.kit.db import transaction
from gateway.kit.outbox import OutboxDispatcher, Pending, Publisher
from gateway.settings import Settings
from gateway.storage.models import OutboxMessage
from gateway.upkeep.signals import Collector


class Broker:
    """Stands in for Celery's send_task: records what was sent, or refuses."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.sent: list[str] = []

    def send_task(self, name: str, **options: Any) -> None:
        if self.refuse:
            raise ConnectionError("broker unreachable")
        self.sent.append(options["task_id"])


class CountingPublisher(Publisher):
    def __init__(self, broker: Broker, sessions: sessionmaker[Session]) -> None:
        super().__init__(broker, sessions, "q")  # type: ignore[arg-type]
        self.marks: list[list[int]] = []

    def mark(self, ids: Sequence[int]) -> bool:
        self.marks.append(list(ids))
        return super().mark(ids)


def committed(sessions: sessionmaker[Session], count: int) -> list[Pending]:
    marker = uuid.uuid4().hex
    with transaction(sessions) as session:
        rows = [
            OutboxMessage(
                task="t", payload={"m": marker, "n": n}, created_at=datetime.now(UTC), attempts=0
            )
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [Pending(row.id, row.task, row.payload) for row in rows]


def published(sessions: sessionmaker[Session], messages: list[Pending]) -> list[bool]:
    with sessions() as session:
        query = select(OutboxMessage.id, OutboxMessage.published_at).where(
            OutboxMessage.id.in_([m.id for m in messages])
        )
        found = {row.id: row.published_at for row in session.execute(query)}
    return [found[m.id] is not None for m in messages]


def dispatcher(publisher: Publisher, mark_interval: float) -> OutboxDispatcher:
    # No relay pass during the test: only what is notified is sent.
    return OutboxDispatcher(publisher, interval=3600, grace=3600, mark_interval=mark_interval)


def test_messages_sent_at_once_are_marked_together(sessions: sessionmaker[Session]) -> None:
    broker = Broker()
    publisher = CountingPublisher(broker, sessions)
    runner = dispatcher(publisher, mark_interval=2)
    runner.start()
    try:
        groups = [committed(sessions, 2) for _ in range(5)]
        for group in groups:
            runner.notify(group)
        every = [m for group in groups for m in group]
        deadline = time.monotonic() + 120  # generous: each wait ends when its condition holds
        while len(broker.sent) < len(every) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broker.sent == [f"outbox-{m.id}-0" for m in every]
        while not all(published(sessions, every)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(published(sessions, every))
        # Five group commits' messages, marked in fewer statements than groups.
        assert sorted(i for ids in publisher.marks for i in ids) == sorted(m.id for m in every)
        assert len(publisher.marks) < len(groups)
    finally:
        runner.stop()


def test_stopping_marks_what_was_sent(sessions: sessionmaker[Session]) -> None:
    broker = Broker()
    runner = dispatcher(Publisher(broker, sessions, "q"), mark_interval=3600)  # type: ignore[arg-type]
    runner.start()
    messages = committed(sessions, 3)
    runner.notify(messages)
    deadline = time.monotonic() + 120  # generous: each wait ends when its condition holds
    while len(broker.sent) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(published(sessions, messages))  # sent, the marks wait for their turn
    runner.stop()
    assert all(published(sessions, messages))


def test_what_the_broker_refused_is_left_for_the_relay(sessions: sessionmaker[Session]) -> None:
    runner = dispatcher(Publisher(Broker(refuse=True), sessions, "q"), mark_interval=0.01)  # type: ignore[arg-type]
    runner.start()
    messages = committed(sessions, 2)
    runner.notify(messages)
    runner.stop()
    assert published(sessions, messages) == [False, False]


def test_the_api_analyzes_grown_tables_unless_told_not_to(sessions: sessionmaker[Session]) -> None:
    collector = Collector(sessions.kw["bind"], Settings())
    on = app.chores(sessions, Settings(analyze_interval_s=5), collector)
    off = app.chores(sessions, Settings(analyze_interval_s=0), collector)
    assert [(c.name, c.interval) for c in on][2:] == [("analysis of grown tables", 5)]
    assert [c.name for c in off] == ["sweep for stuck work", "reading of the business signals"]


def test_the_api_runs_its_upkeep_beside_the_dispatcher_where_it_relays(
    settings: Settings,
) -> None:
    def running() -> set[str]:
        return {t.name for t in threading.enumerate() if t.is_alive()}

    before = running()
    with TestClient(app.create_app(settings)):
        assert {"outbox-dispatcher", "chores"} <= running() - before
    assert not {"outbox-dispatcher", "chores"} & (running() - before)
    with TestClient(app.create_app(settings, relay=False)):
        assert not {"outbox-dispatcher", "chores"} & (running() - before)
