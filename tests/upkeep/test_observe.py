"""Gauges sampled by the relay: outbox lag, open batches, the broker queue's depth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.kit.broker import make_celery
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import OutboxMessage, utcnow
from gateway.upkeep import gauges as observe


def test_outbox_lag_is_the_age_of_the_oldest_unsent_message(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        old = OutboxMessage(task="t", payload={}, created_at=utcnow() - timedelta(seconds=90))
        session.add(old)
    try:
        with sessions() as session:
            observe.sample_database(session)
        assert 89 <= metrics.OUTBOX_LAG._value.get() < 200
        assert metrics.BATCHES_OPEN.labels("processing")._value.get() >= 0
    finally:
        with transaction(sessions) as session:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id == old.id))
    with sessions() as session:
        observe.sample_database(session)
    assert metrics.OUTBOX_LAG._value.get() < 89


def test_queue_depth_is_what_the_broker_holds(tmp_path: Path) -> None:
    settings = Settings(broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    celery = make_celery(settings)
    for _ in range(3):
        celery.send_task("gateway.price_document", kwargs={"document_id": "x"}, queue="depth-q")
    observe.sample_queue(celery, "depth-q")
    assert metrics.QUEUE_DEPTH.labels("depth-q")._value.get() == 3
    observe.sample_queue(celery, "no-such-queue")  # unknown to the broker: left alone
