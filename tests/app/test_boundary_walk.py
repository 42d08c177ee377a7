"""Every route of the app's OpenAPI document, and every workspace route, walked with
boundary and oversized values in each parameter (0, -1, 2**31, 2**63, 2**64, a 40-digit
number, a huge string, wrong types), as every role, on SQLite and PostgreSQL: no answer is
a 5xx. The submission doors get the same numbers in their line quantities and amounts."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gateway.app import create_app
from gateway.domain.centres import Role
from gateway.kit.db import engine_for, session_factory
from gateway.settings import Settings
from tests import factories as f
from tests.fhir import claims
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.web.conftest import log_in, make_user

HUGE = "9" * 5000
BAD: list[Any] = [0, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**40, 1.5, "abc", "", HUGE]
ROLES = [Role.CENTRE, Role.AUDITOR, Role.FINANCE, Role.ADMIN]
_FORM_FIELD = re.compile(r'<(?:input|select|textarea)[^>]*name="([a-z_]+)"')
# The workspace's forms and filters by address (their names as the pages post them).
WORKSPACE = [
    ("GET", "/web/queue", ["status", "centre", "period", "min_amount", "national_id", "page"]),
    ("GET", "/web/documents/{document_id}", ["done"]),
    ("POST", "/web/documents/{document_id}/lines/{line_no}/review", ["quantity", "amount"]),
    ("POST", "/web/documents/{document_id}/decision", ["decision", "reason"]),
    ("GET", "/web/settlements", ["period", "centre"]),
    ("POST", "/web/settlements/close", ["period"]),
    ("POST", "/web/settlements/{order_id}/paid", ["reference", "period"]),
    ("GET", "/web/settlements/{order_id}/statement.csv", []),
    ("GET", "/web/settlements/{order_id}/statement", []),
    ("GET", "/web/batches", ["centre", "status", "size", "page"]),
    ("GET", "/web/batches/{batch_id}", ["rejected", "size", "page"]),
    ("GET", "/web/lang/{lang}", []),
]


class Walk:
    """The app with one priced document under review, and a caller per role."""

    def __init__(self, client: TestClient, url: str) -> None:
        self.client = client
        sessions = session_factory(engine_for(url))
        centre, token = f.make_centre(sessions)
        self.centre_code = centre.code
        self.tokens = {Role.CENTRE: token} | {
            role: f.make_staff_token(sessions, role) for role in ROLES[1:]
        }
        self.document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
        self.users = {role: make_user(sessions, role) for role in ROLES[1:]}

    def path_value(self, name: str) -> Any:
        known = {"document_id": self.document_id, "line_no": 1, "lang": "fa"}
        return known.get(name, 1 if name.endswith(("_no", "order_id", "webhook_id")) else "x")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def walk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Walk]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    folder = tmp_path_factory.mktemp("walk")
    settings = Settings(
        database_url=url,
        broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
        max_body_bytes=256 * 1024,
        clock_date=f.TODAY,
        batch_spool_dir=Path(folder / "spool"),
        secret_key=SecretStr("walk-secret"),
        cookie_secure=False,  # the test client speaks plain http
        rate_limit_per_minute=0,
    )
    with TestClient(create_app(settings, relay=False), raise_server_exceptions=False) as client:
        yield Walk(client, url)


def operations(app_openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in app_openapi["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def fill(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def json_body(app_openapi: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    """The body's properties at plausible values (a string, 1), or None without a model."""
    content = operation.get("requestBody", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref")
    if ref is None:
        return None
    schema = app_openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    out: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        kinds = {s.get("type") for s in spec.get("anyOf", [spec])}
        out[name] = 1 if "integer" in kinds else spec.get("enum", ["reduce"])[0]
    return out


class Failures(list[str]):
    """Every 5xx of a walk, so one run names them all."""

    def check(self, answer: Any, what: str) -> None:
        if answer.status_code >= 500:
            self.append(f"{what}: {answer.status_code} {answer.text[:200]}")


def api_requests(walk: Walk, spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each operation with one parameter or body field at one bad value, the rest plausible."""
    for method, path, operation in operations(spec):
        places = {p["name"]: p["in"] for p in operation.get("parameters", [])}
        body = json_body(spec, operation)
        for name in [*places, *(body or {})]:
            place = places.get(name, "body")
            for value in BAD:
                if place == "path" and value == "":
                    continue
                values = {n: walk.path_value(n) for n, where in places.items() if where == "path"}
                sent = copy.deepcopy(body)
                query, headers = {}, {}
                if place == "path":
                    values[name] = value
                elif place == "query":
                    query[name] = value
                elif place == "header":
                    headers[name] = str(value)
                elif sent is not None:
                    sent[name] = value
                request = {"params": query, "headers": headers, "json": sent}
                yield (
                    f"{method} {path} {name}={str(value)[:20]}",
                    {
                        "method": method,
                        "url": fill(path, values),
                        **request,
                    },
                )


def test_every_api_parameter(walk: Walk) -> None:
    failures = Failures()
    spec = walk.client.app.openapi()  # type: ignore[attr-defined]
    for what, request in api_requests(walk, spec):
        for role in ROLES:
            bearer = {"Authorization": f"Bearer {walk.tokens[role]}"}
            sent = {**request, "headers": {**bearer, **request["headers"]}}
            failures.check(walk.client.request(**sent), f"{role} {what}")
    assert not failures, "\n".join(failures)


def logged_in(walk: Walk, role: Role) -> tuple[TestClient, str]:
    walk.client.cookies.clear()
    assert log_in(walk.client, walk.users[role]).status_code == 303
    page = walk.client.get("/web/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return walk.client, found.group(1)


def test_every_workspace_parameter(walk: Walk) -> None:
    failures = Failures()
    for role in ROLES[1:]:
        client, csrf = logged_in(walk, role)
        for method, path, fields in WORKSPACE:
            names = re.findall(r"\{(\w+)\}", path)
            for name in [*names, *fields]:
                for value in BAD:
                    if name in names and value == "":
                        continue
                    values = {n: walk.path_value(n) for n in names}
                    sent = dict.fromkeys(fields, "1")
                    if name in names:
                        values[name] = value
                    else:
                        sent[name] = str(value)
                    url = fill(path, values)
                    if method == "GET":
                        answer = client.get(url, params=sent, follow_redirects=False)
                    else:
                        answer = client.post(
                            url, data={**sent, "csrf_token": csrf}, follow_redirects=False
                        )
                    failures.check(answer, f"{role} {method} {path} {name}={str(value)[:20]}")
    assert not failures, "\n".join(failures)


NUMBERS = [2**31, 2**63, 2**64, 10**40, -1]


def test_submission_numbers(walk: Walk) -> None:
    """Line quantities, prices and amounts past 64 bits, in the JSON and the XML door."""
    failures = Failures()
    headers = {"Authorization": f"Bearer {walk.tokens[Role.CENTRE]}"}
    xml = f.as_xml(f.submission(walk.centre_code, f.outpatient_visit([f.line("970000", 1, 7)])))
    for key in ("quantity", "unitPrice", "amount", "totalAmount"):
        for value in NUMBERS:
            data = f.submission(walk.centre_code, f.outpatient_visit([f.line("970000", 1, 7)]))
            visit = data["documents"][0]["outpatientVisit"]
            (visit if key == "totalAmount" else visit["lines"][0])[key] = value
            answer = walk.client.post(
                "/v1/submissions",
                content=json.dumps(data),
                headers={**headers, "Content-Type": "application/json"},
            )
            failures.check(answer, f"JSON submission {key}={value}")
            tag = re.compile(rf"<{key}>\d+</{key}>".encode())
            answer = walk.client.post(
                "/v1/submissions",
                content=tag.sub(f"<{key}>{value}</{key}>".encode(), xml, count=1),
                headers={**headers, "Content-Type": "application/xml"},
            )
            failures.check(answer, f"XML submission {key}={value}")
    assert not failures, "\n".join(failures)


def test_fhir_numbers(walk: Walk) -> None:
    failures = Failures()
    headers = claims.auth(walk.tokens[Role.CENTRE])
    for quantity, price in [(2**63, 1000), (1, 2**63), (10**40, 1), (1, 10**40), (2**31, 1)]:
        claim = claims.claim(f.national_id(), [claims.item(1, "970000", quantity, price)])
        answer = walk.client.post("/fhir/Claim", content=json.dumps(claim), headers=headers)
        failures.check(answer, f"FHIR Claim quantity={quantity} price={price}")
    assert not failures, "\n".join(failures)
