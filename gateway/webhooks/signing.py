"""Webhook signatures and retry timing: pure functions, no I/O.

A delivery is signed twice:

- the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64>``), HMAC-SHA256 over ``f"{id}.{timestamp}.{body}"``
  keyed with the bytes the ``whsec_<base64>`` secret encodes, made by the
  ``standardwebhooks`` library so that off-the-shelf verifiers in any language accept them;
- the older ``X-Gateway-Signature: t=<unix seconds>,v1=<hex>`` (deprecated, kept for this
  version), HMAC-SHA256 keyed with the whole secret text over ``f"{t}."`` and the body.

Secrets issued before the Standard Webhooks headers were written in base64's URL-safe
alphabet without padding; ``secret_key`` reads both spellings, so their webhooks keep
working and get both signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import secrets
import time
from datetime import UTC, datetime
from enum import StrEnum

from standardwebhooks.webhooks import Webhook

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a marker that makes secrets recognisable, not one
_jitter = random.Random()


def new_secret() -> str:
    """A fresh signing secret: 256 random bits, as Standard Webhooks writes them
    (``whsec_`` and standard base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature: the bytes the secret encodes.

    A secret of this version is standard base64 (with padding); an older one is URL-safe
    base64 without padding (``secrets.token_urlsafe``), read as such.
    """
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def standard_headers(secret: str, message_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The Standard Webhooks headers of a body sent at ``timestamp`` (unix seconds)."""
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = Webhook(secret_key(secret)).sign(message_id, at, body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` + body under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The value of the deprecated ``X-Gateway-Signature`` for a body sent at ``timestamp``."""
    return f"t={timestamp},{SIGNATURE_VERSION}={sign(secret, body, timestamp)}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of now.

    Several ``v1=`` values are accepted (any may match), so a sender can sign with an old
    and a new secret while a receiver switches over.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SIGNATURE_VERSION and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def retry_delay(
    attempt: int, *, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): exponential, capped, with jitter.

    The delay is drawn from the upper half of ``min(cap, base * 2**(attempt-1))`` so that
    receivers recovering from an outage are not hit by every sender at once, while each
    wait is still at least as long as the previous one.
    """
    ceiling = min(cap_s, base_s * 2.0 ** min(max(attempt - 1, 0), 60))
    return ceiling / 2 + (rng or _jitter).uniform(0, ceiling / 2)


class DeliveryError(StrEnum):
    """Why an attempt failed, as recorded and shown to the centre: a class, never the
    receiver's words or a socket message (which would let a centre probe networks)."""

    TIMEOUT = "timeout"
    REFUSED = "refused"  # no connection could be made
    TLS = "tls"
    BLOCKED_ADDRESS = "blocked-address"  # the address policy refused the URL or address
    UNRESOLVED = "unresolved"  # the host name did not resolve
    NETWORK = "network"  # the connection broke, or the answer was not HTTP


def error_class(status_code: int | None, error: str | None) -> str | None:
    """The class of a recorded failure; older rows kept raw texts, read here as classes."""
    if status_code is not None and not 200 <= status_code < 300:
        return f"http-{status_code // 100}xx"
    if error is None or status_code is not None:
        return None
    if error in {member.value for member in DeliveryError}:
        return error
    if "Timeout" in error.partition(":")[0]:
        return DeliveryError.TIMEOUT.value
    if error.startswith("ConnectError"):
        return DeliveryError.REFUSED.value
    return DeliveryError.NETWORK.value
