"""Centres' webhooks: registration, listing, disabling and the record of deliveries.

Delivery itself is the worker's (``workers/webhooks.py``); ``journal.record`` queues one
message per active webhook and status move. Nothing here commits. A URL is vetted against
the address policy (``gateway/domain/webhook_addresses.py``) here, on its host as written
and as resolved now, and again by the worker on each delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway import audit
from gateway.domain.webhook_addresses import AddressPolicy, AddressRefused, IPAddress
from gateway.domain.webhooks import new_secret
from gateway.errors import GatewayError, NotFoundError
from gateway.storage import webhooks as store
from gateway.storage.models import Webhook, WebhookDelivery, utcnow
from validators.problems import Problem

MAX_ACTIVE_PER_CENTRE = 10


@dataclass(frozen=True, slots=True)
class Registered:
    webhook: Webhook
    secret: str


def register(
    *, session: Session, centre_id: int, url: str, actor: str, policy: AddressPolicy
) -> Registered:
    """Store a webhook with a fresh secret, returned here and never again.

    Refused (422) when ``policy`` does not allow its URL: its scheme, or an address its
    host is or resolves to now. A name that does not resolve yet is taken; the worker
    vets the address again on every delivery.
    """
    vet_url(url, policy)
    if store.count_active(session, centre_id) >= MAX_ACTIVE_PER_CENTRE:
        raise GatewayError(
            f"A centre may have at most {MAX_ACTIVE_PER_CENTRE} active webhooks; delete one first.",
            409,
        )
    secret = new_secret()
    webhook = store.add_webhook(session, centre_id=centre_id, url=url, secret=secret)
    _audit(session, actor, "webhook.create", webhook)
    return Registered(webhook, secret)


def vet_url(url: str, policy: AddressPolicy) -> None:
    """Raise a 422 naming the rule when ``policy`` does not allow ``url``."""
    try:
        target = policy.check_url(url)
        if target.address is None:
            policy.check_addresses(target.host, resolve(target.host, target.port))
    except AddressRefused as refused:
        problem = Problem(refused.code, refused.message, "/url")
        raise GatewayError(refused.message, 422, [problem]) from None


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (the system resolver); empty when it does not."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):  # ValueError: names no resolver takes (too long, NUL)
        return []
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


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
