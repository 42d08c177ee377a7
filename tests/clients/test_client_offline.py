"""The client package without a server: retries after Retry-After, webhook verification of
what the gateway's own signing code produces, content detection and the replaces mark."""

from __future__ import annotations

import ast
import base64
import re
import secrets
import sys
import time
import tomllib

import httpx
import orjson
import pytest
from lxml import etree
from rasa_client import (
    Client,
    Format,
    RateLimited,
    Unavailable,
    UnknownContent,
    WebhookVerificationError,
    detect_format,
    verify_webhook,
    with_replaces,
)

from gateway.settings import PROJECT_ROOT
from gateway.webhooks.signing import new_secret, standard_headers
from tests import factories as f
from validators.schema import NAMESPACE

ACCEPTED = {"id": "s1", "status": "ACCEPTED", "documents": [], "url": "/v1/submissions/s1"}


def scripted(*answers: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(answer), seen


def test_429_and_503_are_retried_after_the_wait_they_ask_for() -> None:
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"errors": []}),
        httpx.Response(503, headers={"Retry-After": "1"}, json={"errors": []}),
        httpx.Response(202, json=ACCEPTED),
    )
    waits: list[float] = []
    with Client("http://gw", "t", transport=transport, sleep=waits.append) as client:
        submission = client.submit(b"<submission/>")
    assert submission.id == "s1"
    assert waits == [3.0, 1.0]
    assert len(seen) == 3
    assert all(r.content == b"<submission/>" for r in seen)  # the same body each time
    assert seen[0].headers["content-type"] == "application/xml"
    assert seen[0].headers["authorization"] == "Bearer t"


def test_retries_stop_after_max_retries_with_the_typed_error() -> None:
    refusal = {"errors": [{"code": "rate-limited", "message": "Too many.", "path": None}]}
    transport, seen = scripted(
        *[httpx.Response(429, headers={"Retry-After": "2"}, json=refusal) for _ in range(3)]
    )
    waits: list[float] = []
    client = Client("http://gw", "t", transport=transport, sleep=waits.append, max_retries=2)
    with client, pytest.raises(RateLimited) as refused:
        client.submit(b"{}")
    assert (refused.value.retry_after, refused.value.codes, waits) == (
        2.0,
        ["rate-limited"],
        [2, 2],
    )
    assert len(seen) == 3


def test_a_503_without_retry_after_is_not_retried() -> None:
    transport, seen = scripted(httpx.Response(503, text="down"))
    client = Client("http://gw", "t", transport=transport, sleep=lambda _: None)
    with client, pytest.raises(Unavailable):
        client.document("d")
    assert len(seen) == 1


def test_the_client_verifies_what_the_gateway_signs() -> None:
    secret = new_secret()
    body = orjson.dumps({"id": "e1", "type": "document.status_changed", "data": {}})
    now = int(time.time())
    headers = standard_headers(secret, "e1", body, now)
    assert verify_webhook(secret, headers, body)["id"] == "e1"
    # Header names in any case, as frameworks hand them over.
    assert verify_webhook(secret, {k.upper(): v for k, v in headers.items()}, body)
    for wrong in (
        lambda: verify_webhook(secret, headers, body + b"\n"),
        lambda: verify_webhook(new_secret(), headers, body),
        lambda: verify_webhook(secret, standard_headers(secret, "e1", body, now - 301), body),
        lambda: verify_webhook(secret, {**headers, "webhook-id": "e2"}, body),
        lambda: verify_webhook(secret, {"webhook-id": "e1"}, body),
    ):
        with pytest.raises(WebhookVerificationError):
            wrong()


def test_a_secret_issued_before_standard_webhooks_verifies_too() -> None:
    old = "whsec_" + secrets.token_urlsafe(32)
    body = b'{"id":"e1"}'
    headers = standard_headers(old, "e1", body, int(time.time()))
    assert verify_webhook(old, headers, body) == {"id": "e1"}
    key = base64.urlsafe_b64decode(old[6:] + "=")
    assert verify_webhook("whsec_" + base64.b64encode(key).decode(), headers, body)


def test_content_is_told_by_its_first_character() -> None:
    assert detect_format(b"\xef\xbb\xbf  <?xml version='1.0'?><a/>") is Format.XML
    assert detect_format(b'\n {"header": {}}') is Format.JSON
    with pytest.raises(UnknownContent):
        detect_format(b"centre,number\n")


def test_replaces_goes_right_after_the_document_number() -> None:
    data = f.submission("C1", f.outpatient_visit(number="OV-2"))
    marked = orjson.loads(with_replaces(f.as_json(data), "OV-1"))
    body = marked["documents"][0]["outpatientVisit"]
    assert list(body)[:2] == ["documentNumber", "replaces"]
    assert body["replaces"] == "OV-1"
    root = etree.fromstring(with_replaces(f.as_xml(data), "OV-1"))
    ns = "{" + NAMESPACE + "}"
    (document,) = root.find(ns + "documents")
    assert [child.tag for child in document][:2] == [ns + "documentNumber", ns + "replaces"]
    assert document[1].text == "OV-1"
    with pytest.raises(ValueError, match="one document"):
        with_replaces(
            f.as_json(f.submission("C1", f.outpatient_visit(), f.outpatient_visit())), "X"
        )


def test_the_client_needs_httpx_and_lxml_only() -> None:
    root = PROJECT_ROOT / "clients" / "python"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert [re.split(r"[<>=!~ ]", d)[0] for d in project["dependencies"]] == ["httpx", "lxml"]
    allowed = set(sys.stdlib_module_names) | {"httpx", "lxml", "rasa_client", "__future__"}
    imported: set[str] = set()
    for source in (root / "src" / "rasa_client").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert imported - allowed == set()
    assert (root / "src" / "rasa_client" / "py.typed").exists()
