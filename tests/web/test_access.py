"""Every workspace route decides who may use it: the table below names each one, a new
route without a row fails the first test, and every role not in a row gets 403."""

from __future__ import annotations

import uuid

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from gateway.web.routes import SECTIONS
from tests.web.conftest import csrf_of, log_in, make_user

AUDITOR, FINANCE, ADMIN = Role.AUDITOR, Role.FINANCE, Role.ADMIN
STAFF = frozenset({AUDITOR, FINANCE, ADMIN})
REVIEWERS = frozenset({AUDITOR, ADMIN})
SETTLERS = frozenset({FINANCE, ADMIN})
ADMINS = frozenset({ADMIN})
ANYONE = None  # no login needed
DOCUMENT = str(uuid.uuid4())

WEB_ROUTES: dict[tuple[str, str], frozenset[Role] | None] = {
    ("GET", "/web/login"): ANYONE,
    ("POST", "/web/login"): ANYONE,
    ("GET", "/web/lang/{lang}"): ANYONE,
    ("GET", "/web/static/{name}"): ANYONE,
    ("GET", "/web/{rest}"): ANYONE,  # any other address: a 404 page
    ("POST", "/web/{rest}"): ANYONE,
    ("POST", "/web/logout"): STAFF,
    ("GET", "/web/"): STAFF,
    ("GET", "/web/queue"): REVIEWERS,
    ("GET", "/web/queue/export.{extension}"): REVIEWERS,
    ("POST", "/web/queue/selected"): REVIEWERS,
    ("POST", "/web/queue/claim-next"): REVIEWERS,
    ("POST", "/web/queue/decide"): REVIEWERS,
    ("POST", "/web/documents/{document_id}/claim"): REVIEWERS,
    ("GET", "/web/documents/{document_id}"): REVIEWERS,
    ("POST", "/web/documents/{document_id}/lines/{line_no}/review"): REVIEWERS,
    ("POST", "/web/documents/{document_id}/decision"): REVIEWERS,
    ("POST", "/web/documents/{document_id}/information-requests"): REVIEWERS,
    ("POST", "/web/documents/{document_id}/information-requests/{request_id}/withdraw"): REVIEWERS,
    ("GET", "/web/attachments/{sha256}"): REVIEWERS,
    ("GET", "/web/referrals"): STAFF,
    ("GET", "/web/settlements"): SETTLERS,
    ("POST", "/web/settlements/close"): SETTLERS,
    ("POST", "/web/settlements/{order_id}/paid"): SETTLERS,
    ("GET", "/web/settlements/{order_id}/statement.csv"): SETTLERS,
    ("GET", "/web/settlements/{order_id}/statement"): SETTLERS,
    ("GET", "/web/batches"): REVIEWERS,
    ("GET", "/web/batches/{batch_id}"): REVIEWERS,
    ("GET", "/web/donations"): SETTLERS,
    ("GET", "/web/donations/{receipt}"): SETTLERS,
    ("GET", "/web/users"): ADMINS,
    ("POST", "/web/users/{username}/disable"): ADMINS,
    ("POST", "/web/users/{username}/enable"): ADMINS,
    ("GET", "/web/users/{username}/password"): ADMINS,
    ("POST", "/web/users/{username}/password"): ADMINS,
    ("GET", "/web/tokens"): ADMINS,
    ("GET", "/web/tokens/{token_id}/revoke"): ADMINS,
    ("POST", "/web/tokens/{token_id}/revoke"): ADMINS,
    ("GET", "/web/centres"): ADMINS,
    ("POST", "/web/centres/{code}/tokens"): ADMINS,
}
BODIES = {
    "/web/documents/{document_id}/lines/{line_no}/review": {"action": "accept"},
    "/web/documents/{document_id}/decision": {"decision": "approve"},
    "/web/documents/{document_id}/information-requests": {"question": "Why?"},
    "/web/settlements/close": {"period": "2026-01"},
    "/web/settlements/{order_id}/paid": {"reference": "R"},
    "/web/users/{username}/password": {"password": "x" * 20, "repeat": "x" * 20},
}
FORBIDDEN = [
    (method, path, role)
    for (method, path), allowed in WEB_ROUTES.items()
    if allowed is not None
    for role in sorted(STAFF - allowed)
]


def concrete(path: str) -> str:
    return path.format(
        document_id=DOCUMENT,
        line_no=1,
        order_id=1,
        lang="en",
        rest="x",
        username="someone",
        token_id=1,
        code="ANY-01",
        extension="csv",
        name="workspace.css",
        receipt="CF-2026-0000001",
        sha256="0" * 64,
        request_id=DOCUMENT,
        batch_id=DOCUMENT,
    )


def test_every_workspace_route_has_a_rule() -> None:
    routes = {
        (method, route.path.replace(":path", ""))
        for section in SECTIONS
        for route in section.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert routes == set(WEB_ROUTES)


@pytest.mark.parametrize(("method", "path", "role"), FORBIDDEN)
def test_a_role_outside_the_rule_gets_403(
    web: TestClient, sessions, method: str, path: str, role: Role
) -> None:
    assert log_in(web, make_user(sessions, role)).status_code == 303
    token = csrf_of(web.get("/web/"))
    if method == "GET":
        answer = web.get(concrete(path))
    else:
        answer = web.post(concrete(path), data={**BODIES.get(path, {}), "csrf_token": token})
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"), [key for key, allowed in WEB_ROUTES.items() if allowed is not None]
)
def test_without_a_login_pages_lead_to_it_and_posts_are_refused(
    web: TestClient, method: str, path: str
) -> None:
    if method == "GET":
        answer = web.get(concrete(path), follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/web/login?next=")
        return
    data = BODIES.get(path, {})
    assert web.post(concrete(path), data=data).status_code == 403  # no CSRF token
    token = csrf_of(web.get("/web/login"))  # a visitor's token is no login
    answer = web.post(concrete(path), data={**data, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/login?next=/web/"


def test_an_unknown_address_is_a_workspace_page(web: TestClient) -> None:
    answer = web.get("/web/no/such/page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-frame-options"] == "DENY"
    assert web.get("/web/logout").status_code == 404  # logout is a POST
