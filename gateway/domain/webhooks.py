"""Webhook signatures and retry timing: pure functions, no I/O.

A delivery carries ``X-Gateway-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256 keyed with the webhook's secret over ``f"{t}."`` followed by the exact body
bytes. Signing the timestamp with the body lets a receiver refuse replays of old events.
``verify_signature`` uses only the standard library so receivers can copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
from enum import StrEnum

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a marker that makes secrets recognisable, not one
_jitter = random.Random()


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` + body under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The value of ``X-Gateway-Signature`` for a body sent at ``timestamp``."""
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
