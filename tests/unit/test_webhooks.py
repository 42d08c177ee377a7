"""Webhook signatures and retry timing (gateway/domain/webhooks.py)."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import time
from typing import Any

import pytest

from gateway.domain.webhooks import (
    SECRET_PREFIX,
    new_secret,
    retry_delay,
    sign,
    signature_header,
    verify_signature,
)
from gateway.settings import PROJECT_ROOT

SECRET = "whsec_test-secret"
BODY = b'{"id":"e1","type":"document.status_changed","data":{"to_status":"ACCEPTED"}}'
T = 1_790_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == expected
    assert signature_header(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    header = signature_header(SECRET, BODY, T)
    assert verify_signature(SECRET, header, BODY, now=T)
    assert verify_signature(SECRET, header, BODY, tolerance_s=300, now=T + 300)
    assert verify_signature(SECRET, header.replace(",", ", "), BODY, now=T)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_another", BODY, T),  # wrong key
        (SECRET, BODY + b" ", T),  # body changed
        (SECRET, BODY.replace(b"ACCEPTED", b"APPROVED"), T),
        (SECRET, BODY, T + 301),  # too old: a replay
        (SECRET, BODY, T - 301),  # from the future
    ],
)
def test_anything_changed_fails(secret: str, body: bytes, now: int) -> None:
    assert not verify_signature(secret, signature_header(SECRET, BODY, T), body, 300, now)


def test_the_timestamp_is_signed_too() -> None:
    header = signature_header(SECRET, BODY, T).replace(f"t={T}", f"t={T + 60}")
    assert not verify_signature(SECRET, header, BODY, now=T + 60)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", f"t={T}", f"v1={sign(SECRET, BODY, T)}", f"t=abc,v1={sign(SECRET, BODY, T)}"],
)
def test_malformed_headers_fail(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=T)


def test_any_of_several_signatures_may_match() -> None:
    header = f"t={T},v1={sign('whsec_old', BODY, T)},v1={sign(SECRET, BODY, T)}"
    assert verify_signature(SECRET, header, BODY, now=T)
    assert verify_signature("whsec_old", header, BODY, now=T)


def test_secrets_are_fresh_and_long() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(s.startswith(SECRET_PREFIX) and len(s) >= 40 for s in secrets)


def test_retry_delays_grow_exponentially_within_their_jitter() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, base_s=10, cap_s=10_000, rng=rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        ceiling = 10 * 2 ** (n - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert delays == sorted(delays)


def test_retry_delays_are_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [retry_delay(40, base_s=30, cap_s=3600, rng=rng) for _ in range(50)]
    assert all(1800 <= d <= 3600 for d in delays)
    assert len(set(delays)) == 50
    assert retry_delay(10_000, base_s=30, cap_s=3600) <= 3600


def test_the_receiver_code_in_the_docs_verifies_what_we_sign() -> None:
    page = (PROJECT_ROOT / "docs" / "webhooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    (code,) = [b for b in blocks if "def verify_signature" in b]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own docs, to keep its example honest
    readme_verify = namespace["verify_signature"]
    now = int(time.time())
    header = signature_header(SECRET, BODY, now)
    assert readme_verify(SECRET, header, BODY)
    assert not readme_verify(SECRET, header, BODY + b" ")
    assert not readme_verify("whsec_other", header, BODY)
    assert not readme_verify(SECRET, signature_header(SECRET, BODY, now - 301), BODY)
    assert not readme_verify(SECRET, "garbage", BODY)
