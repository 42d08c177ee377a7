"""Verifying the gateway's webhook deliveries (the Standard Webhooks signature).

A delivery carries ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``: one or
more space-separated ``v1,<base64>``, each an HMAC-SHA256 of
``"<webhook-id>.<webhook-timestamp>.<body>"`` keyed with the bytes the ``whsec_<base64>``
secret encodes. Only the standard library is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - the marker of a secret, not one
TOLERANCE_S = 300.0


class WebhookVerificationError(ValueError):
    """The delivery is not signed by this secret, or is too old or too new (a replay)."""


def secret_key(secret: str) -> bytes:
    """The key a ``whsec_`` secret encodes: standard base64, or, for secrets the gateway
    issued before it sent Standard Webhooks headers, URL-safe base64 without padding."""
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise WebhookVerificationError("the secret is not base64") from exc
    if not key:
        raise WebhookVerificationError("the secret is empty")
    return key


def sign_webhook(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a body: ``v1,<base64>``."""
    message = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> Any:
    """The delivery's event (parsed JSON) when ``headers`` sign ``body`` with ``secret``
    within ``tolerance_s`` of now; WebhookVerificationError otherwise. Pass the body
    exactly as received, before any parsing."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (message_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not unix seconds") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("the timestamp is too old or too new")
    expected = sign_webhook(secret, message_id, timestamp, body).encode()
    for candidate in signatures.split():
        version, _, _ = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, candidate.encode()):
            return json.loads(body)
    raise WebhookVerificationError("no signature matches")
