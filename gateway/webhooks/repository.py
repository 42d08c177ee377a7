"""SQL of webhooks and their delivery attempts. Functions never commit: callers own that."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gateway.storage.models import Webhook, WebhookDelivery


def add_webhook(session: Session, *, centre_id: int, url: str, secret: str) -> Webhook:
    webhook = Webhook(centre_id=centre_id, url=url, secret=secret)
    session.add(webhook)
    session.flush()
    return webhook


def count_active(session: Session, centre_id: int) -> int:
    query = select(func.count()).where(
        Webhook.centre_id == centre_id, Webhook.disabled_at.is_(None)
    )
    return session.scalar(query) or 0


def centre_webhooks(session: Session, centre_id: int) -> Sequence[Webhook]:
    """A centre's webhooks, active and disabled, oldest first."""
    query = select(Webhook).where(Webhook.centre_id == centre_id).order_by(Webhook.id)
    return session.scalars(query).all()


def get_webhook(
    session: Session, webhook_id: int, centre_id: int, *, for_update: bool = False
) -> Webhook | None:
    """The centre's webhook; None when absent or another centre's."""
    query = select(Webhook).where(Webhook.id == webhook_id, Webhook.centre_id == centre_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def active_webhook(session: Session, webhook_id: int) -> Webhook | None:
    """A webhook to deliver to; None when it was deleted or disabled."""
    query = select(Webhook).where(Webhook.id == webhook_id, Webhook.disabled_at.is_(None))
    return session.scalars(query).one_or_none()


def was_delivered(session: Session, webhook_id: int, event_id: str) -> bool:
    query = select(WebhookDelivery.id).where(
        WebhookDelivery.event_id == event_id,
        WebhookDelivery.webhook_id == webhook_id,
        WebhookDelivery.delivered.is_(True),
    )
    return session.scalars(query.limit(1)).first() is not None


def record_delivery(
    session: Session,
    *,
    webhook_id: int,
    event_id: str,
    document_id: uuid.UUID | None,
    attempt: int,
    status_code: int | None,
    error: str | None,
    delivered: bool,
    duration_ms: int,
    at: datetime,
) -> None:
    session.execute(
        insert(WebhookDelivery).values(
            webhook_id=webhook_id,
            event_id=event_id,
            document_id=document_id,
            attempt=attempt,
            status_code=status_code,
            error=error,
            delivered=delivered,
            duration_ms=duration_ms,
            created_at=at,
        )
    )


def deliveries(
    session: Session, webhook_id: int, *, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """One page of a webhook's delivery attempts, newest first, and how many there are."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(select(func.count()).where(WebhookDelivery.webhook_id == webhook_id))
    return session.scalars(query).all(), total or 0
