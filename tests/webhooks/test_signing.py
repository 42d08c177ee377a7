"""Webhook signatures and retry timing (gateway/webhooks/signing.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import secrets as random_secrets
import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.settings import PROJECT_ROOT
from gateway.webhooks.signing import (
    SECRET_PREFIX,
    new_secret,
    retry_delay,
    secret_key,
    sign,
    signature_header,
    standard_headers,
    verify_signature,
)

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
    # Standard Webhooks secrets: standard base64 of 32 random bytes after the prefix.
    assert all(len(base64.b64decode(s[6:], validate=True)) == 32 for s in secrets)


def test_the_standard_signature_is_hmac_of_id_timestamp_body_under_the_decoded_key() -> None:
    secret = new_secret()
    headers = standard_headers(secret, "evt_1", BODY, T)
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"evt_1.{T}.".encode() + BODY, hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(T),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def test_the_standard_webhooks_library_verifies_fresh_signatures() -> None:
    secret = new_secret()
    now = int(time.time())
    headers = standard_headers(secret, "evt_2", BODY, now)
    assert Webhook(secret).verify(BODY, headers)["data"] == {"to_status": "ACCEPTED"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, standard_headers(secret, "evt_2", BODY, now - 301))


def test_secrets_issued_before_the_standard_headers_keep_working() -> None:
    # What new_secret() used to return: URL-safe base64 without padding, with - and _.
    old = SECRET_PREFIX + random_secrets.token_urlsafe(32)
    while "-" not in old and "_" not in old:
        old = SECRET_PREFIX + random_secrets.token_urlsafe(32)
    assert len(secret_key(old)) == 32
    now = int(time.time())
    # The old header is signed as before, with the secret's text as the key.
    assert verify_signature(old, signature_header(old, BODY, now), BODY)
    # The standard one with the bytes the secret encodes; written in standard base64 (as
    # docs/webhooks.md tells such a registrant), any Standard Webhooks library takes it.
    converted = SECRET_PREFIX + base64.b64encode(secret_key(old)).decode()
    headers = standard_headers(old, "evt_3", BODY, now)
    assert Webhook(converted).verify(BODY, headers)
    assert standard_headers(converted, "evt_3", BODY, now) == headers


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


def test_the_standard_webhooks_example_in_the_docs_verifies_what_we_sign() -> None:
    page = (PROJECT_ROOT / "docs" / "webhooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    (code,) = [b for b in blocks if "receiver.verify(body, headers)" in b]
    secret = new_secret()
    headers = standard_headers(secret, "evt_9", BODY, int(time.time()))
    namespace: dict[str, Any] = {"secret": secret, "body": BODY, "headers": headers}
    exec(code, namespace)  # noqa: S102 - our own docs, to keep its example honest
    assert namespace["event"]["id"] == "e1"
    namespace = {"secret": new_secret(), "body": BODY, "headers": headers}
    exec(code, namespace)  # noqa: S102 - the wrong secret: the except branch, no event
    assert "event" not in namespace
