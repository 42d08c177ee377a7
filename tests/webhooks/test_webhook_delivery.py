"""Delivering events to a real HTTP receiver on localhost (gateway/webhooks/delivery.py).

The task runs in-process: ``deliver`` for one attempt, and the Celery task through
``apply()``, where Celery runs each retry at once instead of after its countdown. The
receiver listens on 127.0.0.1, which the address policy refuses unless a deployment opts
in: these tests opt in (``LOCAL``) as such a deployment would, through its settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from celery import signals
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.audit import journal
from gateway.audit.journal import WEBHOOK_TASK
from gateway.domain.lifecycle import DocumentStatus, transition
from gateway.domain.webhook_addresses import AddressPolicy
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import Webhook, WebhookDelivery, utcnow
from gateway.webhooks import delivery
from gateway.webhooks import service as webhooks
from gateway.webhooks.delivery import DeliveryPolicy, Outcome
from gateway.webhooks.signing import verify_signature
from tests import factories as f
from tests.receiver import Received, running_receiver
from workers import tasks

# What a deployment that delivers to a receiver on its own host would set.
LOCAL = Settings(
    webhook_allow_http=True, webhook_allowed_private_hosts=["127.0.0.1"]
).webhook_address_policy()
FAST = DeliveryPolicy(timeout_s=5, max_attempts=4, base_delay_s=1, max_delay_s=60, addresses=LOCAL)


def add_webhook(
    sessions: sessionmaker[Session], url: str, policy: AddressPolicy = LOCAL
) -> tuple[int, str]:
    centre, _ = f.make_centre(sessions)
    with transaction(sessions) as session:
        done = webhooks.register(
            session=session, centre_id=centre.id, url=url, actor="test", policy=policy
        )
    return done.webhook.id, done.secret


def an_event() -> dict[str, Any]:
    move = transition(
        DocumentStatus.RECEIVED, DocumentStatus.ACCEPTED, actor="test", reason="valid"
    )
    return journal.event_of(journal.Move(uuid.uuid4(), 1, "OV-1", move))


def attempts(sessions: sessionmaker[Session], webhook_id: int) -> list[WebhookDelivery]:
    with sessions() as session:
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id)
        )
        return list(session.scalars(query))


def assert_signed(request: Received, secret: str, event: dict[str, Any]) -> None:
    assert request.body == orjson.dumps(event)
    assert orjson.loads(request.body) == event
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-gateway-event"] == "document.status_changed"
    assert request.headers["x-gateway-delivery"] == event["id"]
    assert verify_signature(secret, request.headers["x-gateway-signature"], request.body, 60)
    assert not verify_signature("whsec_wrong", request.headers["x-gateway-signature"], request.body)
    # The Standard Webhooks headers, checked by that specification's own library with the
    # secret exactly as the registrant was shown it.
    assert request.headers["webhook-id"] == event["id"]
    assert StandardWebhook(secret).verify(request.body, request.headers) == event
    with pytest.raises(WebhookVerificationError):
        StandardWebhook("whsec_" + "A" * 44).verify(request.body, request.headers)


def test_an_event_arrives_signed_and_the_attempt_is_recorded(sessions) -> None:
    with running_receiver() as receiver:
        webhook_id, secret = add_webhook(sessions, receiver.url)
        event = an_event()
        result = delivery.deliver(
            sessions=sessions, webhook_id=webhook_id, event=event, attempt=1, policy=FAST
        )
    assert result.outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert request.path == "/events"
    assert_signed(request, secret, event)
    (row,) = attempts(sessions, webhook_id)
    assert (row.attempt, row.status_code, row.delivered, row.error) == (1, 200, True, None)
    assert row.event_id == event["id"]
    assert str(row.document_id) == event["data"]["document_id"]
    assert row.duration_ms >= 0


def test_failed_attempts_are_recorded_and_retried_later_each_time(sessions) -> None:
    with running_receiver([500, 503]) as receiver:
        webhook_id, _ = add_webhook(sessions, receiver.url)
        event = an_event()
        results = [
            delivery.deliver(
                sessions=sessions, webhook_id=webhook_id, event=event, attempt=n, policy=FAST
            )
            for n in (1, 2, 3)
        ]
    assert [r.outcome for r in results] == [Outcome.RETRYING, Outcome.RETRYING, Outcome.DELIVERED]
    first, second = results[0].retry_in, results[1].retry_in
    assert first is not None
    assert second is not None
    assert 0.5 <= first <= 1 <= second <= 2
    rows = attempts(sessions, webhook_id)
    assert [(r.attempt, r.status_code, r.delivered) for r in rows] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert [r.error for r in rows] == ["http-5xx", "http-5xx", None]  # never "not now"


@pytest.fixture
def task_retries() -> Iterator[list[float]]:
    """Countdowns the Celery task asked for, in order."""
    countdowns: list[float] = []

    def noted(sender: Any = None, reason: Any = None, **_: Any) -> None:
        if getattr(sender, "name", None) == WEBHOOK_TASK:
            countdowns.append(reason.when)

    signals.task_retry.connect(noted, weak=False)
    yield countdowns
    signals.task_retry.disconnect(noted)


def run_task(
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
    webhook_id: int,
    event: dict[str, Any],
    policy: DeliveryPolicy = FAST,
) -> Any:
    monkeypatch.setattr(delivery, "_sessions", lambda: sessions)
    monkeypatch.setattr(delivery, "_policy", lambda: policy)
    # Not throw=True: that re-raises Retry instead of applying the retry at once.
    return tasks.deliver_webhook_task.apply(kwargs={"webhook_id": webhook_id, "event": event}).get()


def test_the_task_retries_with_growing_countdowns_until_delivered(
    sessions, monkeypatch: pytest.MonkeyPatch, task_retries: list[float]
) -> None:
    with running_receiver([500, 500]) as receiver:
        webhook_id, secret = add_webhook(sessions, receiver.url)
        event = an_event()
        outcome = run_task(monkeypatch, sessions, webhook_id, event)
    assert outcome == "delivered"
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert_signed(request, secret, event)
    rows = attempts(sessions, webhook_id)
    assert [(r.attempt, r.status_code, r.delivered) for r in rows] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert len(task_retries) == 2
    assert 0.5 <= task_retries[0] <= 1 <= task_retries[1] <= 2


def test_the_task_gives_up_after_the_last_attempt(
    sessions, monkeypatch: pytest.MonkeyPatch, task_retries: list[float]
) -> None:
    policy = DeliveryPolicy(
        timeout_s=5, max_attempts=3, base_delay_s=1, max_delay_s=60, addresses=LOCAL
    )
    with running_receiver([500] * 10) as receiver:
        webhook_id, _ = add_webhook(sessions, receiver.url)
        outcome = run_task(monkeypatch, sessions, webhook_id, an_event(), policy)
    assert outcome == "abandoned"
    assert len(receiver.requests) == 3
    assert [r.attempt for r in attempts(sessions, webhook_id)] == [1, 2, 3]
    assert len(task_retries) == 2


def test_an_unreachable_receiver_is_a_failed_attempt(sessions) -> None:
    with running_receiver() as receiver:
        url = receiver.url
    webhook_id, _ = add_webhook(sessions, url)  # nothing listens there any more
    result = delivery.deliver(
        sessions=sessions, webhook_id=webhook_id, event=an_event(), attempt=1, policy=FAST
    )
    assert result.outcome is Outcome.RETRYING
    (row,) = attempts(sessions, webhook_id)
    assert row.status_code is None
    assert row.delivered is False
    assert row.error == "refused"  # a class, not the socket's message


def test_a_disabled_webhook_gets_nothing(sessions) -> None:
    with running_receiver() as receiver:
        webhook_id, _ = add_webhook(sessions, receiver.url)
        with transaction(sessions) as session:
            hook = session.get_one(Webhook, webhook_id)
            hook.disabled_at = utcnow()
        result = delivery.deliver(
            sessions=sessions, webhook_id=webhook_id, event=an_event(), attempt=1, policy=FAST
        )
        gone = delivery.deliver(
            sessions=sessions, webhook_id=2**31 - 1, event=an_event(), attempt=1, policy=FAST
        )
    assert result.outcome is Outcome.SKIPPED
    assert gone.outcome is Outcome.SKIPPED
    assert receiver.requests == []
    assert attempts(sessions, webhook_id) == []


def test_an_event_already_delivered_is_not_sent_again(sessions) -> None:
    with running_receiver() as receiver:
        webhook_id, _ = add_webhook(sessions, receiver.url)
        event = an_event()
        outcomes = [
            delivery.deliver(
                sessions=sessions, webhook_id=webhook_id, event=event, attempt=1, policy=FAST
            ).outcome
            for _ in range(2)
        ]
    assert outcomes == [Outcome.DELIVERED, Outcome.SKIPPED]
    assert len(receiver.requests) == 1
    assert len(attempts(sessions, webhook_id)) == 1
