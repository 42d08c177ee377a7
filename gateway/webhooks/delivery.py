"""Delivering status events to centres' webhooks: signed POSTs, each attempt recorded.

``journal.record`` queues one ``gateway.deliver_webhook`` message per webhook and status
move. An attempt is delivered on a 2xx; anything else (another status, a redirect, a
timeout, a refused connection, an address the policy refuses) is recorded as a status and
a short class, never the receiver's words, and retried later with exponential backoff
and jitter, up to ``GATEWAY_WEBHOOK_MAX_ATTEMPTS``. The outbox may hand a message over twice,
so an event already delivered to a webhook is not sent again; receivers still see an
event at least once and should ignore a repeated ``X-Gateway-Delivery``.
"""

from __future__ import annotations

import ssl
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.domain.webhook_addresses import AddressPolicy
from gateway.kit.db import engine_for, session_factory, transaction
from gateway.settings import Settings, get_settings
from gateway.storage.models import utcnow
from gateway.webhooks import repository as store
from gateway.webhooks.signing import retry_delay, signature_header, standard_headers
from gateway.webhooks.transport import Answer, post

USER_AGENT = "rasa-gateway-webhooks/1"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    ABANDONED = "abandoned"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_s: float
    max_attempts: int
    base_delay_s: float
    max_delay_s: float
    addresses: AddressPolicy = field(default_factory=AddressPolicy)  # what webhooks may reach
    tls: ssl.SSLContext | None = None  # None: the default roots (tests bring their own)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            base_delay_s=settings.webhook_retry_base_s,
            max_delay_s=settings.webhook_retry_max_s,
            addresses=settings.webhook_address_policy(),
        )


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    retry_in: float | None = None  # seconds, when the outcome is RETRYING


def deliver(
    *,
    sessions: sessionmaker[Session],
    webhook_id: int,
    event: dict[str, Any],
    attempt: int,
    policy: DeliveryPolicy,
) -> Result:
    """Make delivery attempt ``attempt`` (1-based) of ``event``, record it, say what next."""
    event_id = str(event["id"])
    with sessions() as session:
        webhook = store.active_webhook(session, webhook_id)
        if webhook is None or store.was_delivered(session, webhook_id, event_id):
            metrics.WEBHOOK_DELIVERIES.labels(Outcome.SKIPPED.value).inc()
            return Result(Outcome.SKIPPED)
        url, secret = webhook.url, webhook.secret
    body = orjson.dumps(event)
    sent_at = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **standard_headers(secret, event_id, body, sent_at),
        "X-Gateway-Event": str(event.get("type", "")),
        "X-Gateway-Delivery": event_id,
        # Deprecated: the Standard Webhooks headers above replace it; kept for this version.
        "X-Gateway-Signature": signature_header(secret, body, sent_at),
    }
    answer = post(
        url, body, headers, timeout_s=policy.timeout_s, policy=policy.addresses, tls=policy.tls
    )
    with transaction(sessions) as session:
        store.record_delivery(
            session,
            webhook_id=webhook_id,
            event_id=event_id,
            document_id=_document_id(event),
            attempt=attempt,
            status_code=answer.status_code,
            error=answer.error,
            delivered=answer.delivered,
            duration_ms=answer.duration_ms,
            at=utcnow(),
        )
    return _next_step(answer, attempt, policy)


def _next_step(answer: Answer, attempt: int, policy: DeliveryPolicy) -> Result:
    if answer.delivered:
        metrics.WEBHOOK_DELIVERIES.labels(Outcome.DELIVERED.value).inc()
        return Result(Outcome.DELIVERED)
    metrics.WEBHOOK_FAILURES.labels(answer.error or "unknown").inc()
    if attempt >= policy.max_attempts:
        metrics.WEBHOOK_DELIVERIES.labels(Outcome.ABANDONED.value).inc()
        return Result(Outcome.ABANDONED)
    metrics.WEBHOOK_DELIVERIES.labels(Outcome.RETRYING.value).inc()
    delay = retry_delay(attempt, base_s=policy.base_delay_s, cap_s=policy.max_delay_s)
    return Result(Outcome.RETRYING, delay)


def _document_id(event: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event["data"]["document_id"]))
    except (KeyError, TypeError, ValueError):
        return None


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker[Session]:
    # Created lazily, so each forked worker child opens its own connections.
    return session_factory(engine_for(get_settings().database_url))


@lru_cache(maxsize=1)
def _policy() -> DeliveryPolicy:
    return DeliveryPolicy.from_settings(get_settings())


def deliver_webhook(task: Any, webhook_id: int, event: dict[str, Any]) -> str:
    """One attempt per run; a failure asks Celery to run the task again after a delay."""
    policy = _policy()
    result = deliver(
        sessions=_sessions(),
        webhook_id=webhook_id,
        event=event,
        attempt=task.request.retries + 1,
        policy=policy,
    )
    if result.retry_in is not None:
        raise task.retry(countdown=result.retry_in, max_retries=policy.max_attempts)
    return result.outcome.value
