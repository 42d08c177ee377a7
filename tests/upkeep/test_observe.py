"""Gauges sampled by the relay: outbox lag, open batches, the broker queue's depth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.kit.broker import make_celery
from gateway.kit.db import make_engine, session_factory, transaction, upgrade
from gateway.settings import Settings
from gateway.storage.models import OutboxMessage, utcnow
from gateway.upkeep import gauges as observe
from tests import services


@pytest.fixture(params=["sqlite", "postgresql"])
def own_sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A database of this test's own: the gauge reads the whole outbox, where other tests
    leave unsent messages of any age."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'own.sqlite'}"
        upgrade(url)
        yield session_factory(make_engine(url))
        return
    with services.migrated_postgres_database() as url:
        engine = make_engine(url)
        yield session_factory(engine)
        engine.dispose()


def test_outbox_lag_is_the_age_of_the_oldest_unsent_message(
    own_sessions: sessionmaker[Session],
) -> None:
    sessions = own_sessions
    began = utcnow()
    with transaction(sessions) as session:
        old = OutboxMessage(task="t", payload={}, created_at=began - timedelta(seconds=90))
        session.add(old)
    with sessions() as session:
        observe.sample_database(session)
    # 90 s old when written, plus however long this took (a busy machine is slow).
    waited = (utcnow() - began).total_seconds()
    assert 90 <= metrics.OUTBOX_LAG._value.get() <= 90 + waited
    assert metrics.BATCHES_OPEN.labels("processing")._value.get() == 0
    with transaction(sessions) as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id == old.id))
    with sessions() as session:
        observe.sample_database(session)
    assert metrics.OUTBOX_LAG._value.get() == 0


def test_queue_depth_is_what_the_broker_holds(tmp_path: Path) -> None:
    settings = Settings(broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    celery = make_celery(settings)
    for _ in range(3):
        celery.send_task("gateway.price_document", kwargs={"document_id": "x"}, queue="depth-q")
    observe.sample_queue(celery, "depth-q")
    assert metrics.QUEUE_DEPTH.labels("depth-q")._value.get() == 3
    observe.sample_queue(celery, "no-such-queue")  # unknown to the broker: left alone
