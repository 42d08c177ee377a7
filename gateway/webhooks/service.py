"""Centres' webhooks: registration, listing, disabling and the record of deliveries.

Delivery itself is the worker's (``gateway/webhooks/delivery.py``); ``journal.record`` queues one
message per active webhook and status move. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.errors import GatewayError, NotFoundError
from gateway.storage.models import Webhook, WebhookDelivery, utcnow
from gateway.webhooks import repository as store
from gateway.webhooks.signing import new_secret

MAX_ACTIVE_PER_CENTRE = 10


@dataclass(frozen=True, slots=True)
class Registered:
    webhook: Webhook
    secret: str


def register(*, session: Session, centre_id: int, url: str, actor: str) -> Registered:
    """Store a webhook with a fresh secret, returned here and never again."""
    if store.count_active(session, centre_id) >= MAX_ACTIVE_PER_CENTRE:
        raise GatewayError(
            f"A centre may have at most {MAX_ACTIVE_PER_CENTRE} active webhooks; delete one first.",
            409,
        )
    secret = new_secret()
    webhook = store.add_webhook(session, centre_id=centre_id, url=url, secret=secret)
    _audit(session, actor, "webhook.create", webhook)
    return Registered(webhook, secret)


def centre_webhooks(*, session: Session, centre_id: int) -> Sequence[Webhook]:
    """The centre's webhooks, active and disabled."""
    return store.centre_webhooks(session, centre_id)


def disable(*, session: Session, centre_id: int, webhook_id: int, actor: str) -> None:
    """Stop deliveries to the centre's webhook; disabling twice changes nothing."""
    webhook = store.get_webhook(session, webhook_id, centre_id, for_update=True)
    if webhook is None:
        raise NotFoundError("Webhook")
    if webhook.disabled_at is None:
        webhook.disabled_at = utcnow()
        _audit(session, actor, "webhook.disable", webhook)


def deliveries(
    *, session: Session, centre_id: int, webhook_id: int, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """A page of the centre's webhook's delivery attempts, newest first, and their count."""
    if store.get_webhook(session, webhook_id, centre_id) is None:
        raise NotFoundError("Webhook")
    return store.deliveries(session, webhook_id, limit=limit, offset=offset)


def _audit(session: Session, actor: str, action: str, webhook: Webhook) -> None:
    audit.append(
        session,
        [audit.Record(actor, action, "webhook", str(webhook.id), {"url": webhook.url})],
    )
