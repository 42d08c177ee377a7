"""The workspace in plain HTTP: sessions and CSRF, roles, pages, review and settlement
through forms, Persian and English; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.domain.centres import Role
from gateway.storage.models import AuditEntry
from gateway.web import messages
from gateway.web import sessions as web_sessions
from gateway.web.i18n import Locale
from gateway.web.kit import SECURITY_HEADERS
from tests import factories as f
from tests.fhir.claims import auth, claim, item
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import price_all
from tests.web.conftest import PASSWORD, csrf_of, log_in, make_user

LoggedIn = Callable[[Role], TestClient]


def under_review(client: TestClient, sessions, **visit) -> tuple[str, str]:
    """A document priced into review (lines: 970000 x1 at 700,000; 800010 x2 at 300,000)."""
    centre, token = f.make_centre(sessions)
    return centre.code, submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW, **visit)


def audit_actions(sessions, subject_id: str) -> list[str]:
    with sessions() as session:
        query = select(AuditEntry.action).where(AuditEntry.subject_id == subject_id)
        return list(session.scalars(query.order_by(AuditEntry.seq)))


# -- sessions, cookies, CSRF ------------------------------------------------------------


def test_the_session_cookie_is_httponly_samesite_and_expires(web: TestClient) -> None:
    page = web.get("/web/login")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{web_sessions.COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/web" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_cookie_is_secure_unless_turned_off(web_settings, monkeypatch) -> None:
    from gateway.app import create_app
    from gateway.settings import Settings

    monkeypatch.delenv("GATEWAY_COOKIE_SECURE", raising=False)
    default = Settings(**web_settings.model_dump(exclude={"cookie_secure"}))
    assert default.cookie_secure
    with TestClient(create_app(default, relay=False)) as client:
        assert "Secure" in client.get("/web/login").headers["set-cookie"]
    monkeypatch.setenv("GATEWAY_COOKIE_SECURE", "false")
    assert not Settings().cookie_secure


def test_a_post_without_the_csrf_token_is_refused(web: TestClient, sessions) -> None:
    username = make_user(sessions, Role.AUDITOR)
    web.get("/web/login")
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}):
        answer = web.post("/web/login", data={"username": username, "password": PASSWORD, **data})
        assert answer.status_code == 403
    assert log_in(web, username).status_code == 303
    _, document_id = under_review(web, sessions)
    answer = web.post(f"/web/documents/{document_id}/decision", data={"decision": "approve"})
    assert answer.status_code == 403
    assert messages.text("fa", "error.csrf") in answer.text  # Persian: no Accept-Language
    page = web.get(f"/web/documents/{document_id}")
    assert 'data-status="UNDER_REVIEW"' in page.text


def test_login_and_failures_are_audited(web: TestClient, sessions) -> None:
    username = make_user(sessions, Role.AUDITOR)
    wrong = log_in(web, username, "not the password")
    assert wrong.status_code == 401
    unknown = log_in(web, f"nobody-{uuid.uuid4().hex[:6]}", "whatever it is")
    assert unknown.status_code == 401
    assert messages.text("fa", "login.failed") in wrong.text
    assert messages.text("fa", "login.failed") in unknown.text
    assert log_in(web, username).status_code == 303
    assert audit_actions(sessions, username)[-2:] == ["login.failed", "login"]
    with sessions() as session:
        failed = session.scalars(
            select(AuditEntry).where(
                AuditEntry.subject_id == username, AuditEntry.action == "login.failed"
            )
        ).one()
    assert failed.details["reason"] == "wrong-password"


def test_logging_in_renews_the_csrf_token_and_logout_ends_the_session(
    web: TestClient, sessions
) -> None:
    before = csrf_of(web.get("/web/login"))
    assert log_in(web, make_user(sessions, Role.AUDITOR)).status_code == 303
    home = web.get("/web/")
    assert home.status_code == 200
    token = csrf_of(home)
    assert token != before
    answer = web.post("/web/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    later = web.get("/web/queue", follow_redirects=False)
    assert later.status_code == 303
    assert later.headers["location"] == "/web/login?next=/web/queue"


def test_logout_ends_every_session_of_the_account_copies_of_the_cookie_too(
    web: TestClient, sessions, web_settings
) -> None:
    username = make_user(sessions, Role.AUDITOR)
    assert log_in(web, username).status_code == 303
    copied = web.cookies[web_sessions.COOKIE]
    with TestClient(web.app) as elsewhere:  # the same user in another browser
        assert log_in(elsewhere, username).status_code == 303
        assert elsewhere.get("/web/", follow_redirects=False).status_code == 200
        token = csrf_of(web.get("/web/"))
        assert web.post("/web/logout", data={"csrf_token": token}).status_code == 200
        assert elsewhere.get("/web/", follow_redirects=False).status_code == 303
    with TestClient(web.app) as thief:  # a copy of the cookie: still signed and unexpired
        thief.cookies.set(web_sessions.COOKIE, copied, path="/web")
        assert thief.get("/web/", follow_redirects=False).status_code == 303
    assert log_in(web, username).status_code == 303  # logging in again starts anew
    assert web.get("/web/", follow_redirects=False).status_code == 200
    assert audit_actions(sessions, username)[-3:] == ["login", "logout", "login"]


def test_a_tampered_or_idle_cookie_is_no_session(web: TestClient, sessions, web_settings) -> None:
    assert log_in(web, make_user(sessions, Role.AUDITOR)).status_code == 303
    genuine = web.cookies[web_sessions.COOKIE]
    body, _, signature = genuine.partition(".")
    web.cookies.set(web_sessions.COOKIE, body + "." + signature[::-1], path="/web")
    assert web.get("/web/", follow_redirects=False).status_code == 303
    key = web_sessions.secret_key(web_settings)
    state = web_sessions.decode(genuine, key, web_settings, web_sessions.now_s())
    assert state is not None
    assert state.user_id is not None
    idle = web_settings.session_idle_minutes * 60 + 1
    stale = web_sessions.WebSession(
        state.csrf, state.issued - idle, state.seen - idle, state.user_id, state.fingerprint
    )
    web.cookies.set(web_sessions.COOKIE, web_sessions.encode(stale, key), path="/web")
    assert web.get("/web/", follow_redirects=False).status_code == 303
    web.cookies.set(web_sessions.COOKIE, web_sessions.encode(state, key), path="/web")
    assert web.get("/web/", follow_redirects=False).status_code == 200


def test_next_never_leaves_the_workspace(web: TestClient, sessions) -> None:
    username = make_user(sessions, Role.AUDITOR)
    form = web.get("/web/login")
    answer = web.post(
        "/web/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf_of(form),
            "next": "//evil.example/web",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/web/"
    switch = web.get("/web/lang/en?next=https://evil.example/", follow_redirects=False)
    assert switch.headers["location"] == "/web/"


# -- roles ------------------------------------------------------------------------------


def test_finance_cannot_review(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    _, document_id = under_review(web, sessions)
    client = logged_in(Role.FINANCE)
    token = csrf_of(client.get("/web/settlements"))
    assert client.get("/web/queue").status_code == 403
    assert client.get(f"/web/documents/{document_id}").status_code == 403
    for url, data in (
        (f"/web/documents/{document_id}/lines/2/review", {"action": "accept"}),
        (f"/web/documents/{document_id}/decision", {"decision": "approve"}),
    ):
        answer = client.post(url, data={**data, "csrf_token": token})
        assert answer.status_code == 403
    assert "patient.read" not in audit_actions(sessions, document_id)


def test_an_auditor_cannot_close_a_period(web: TestClient, logged_in: LoggedIn) -> None:
    client = logged_in(Role.AUDITOR)
    token = csrf_of(client.get("/web/queue"))
    assert client.get("/web/settlements").status_code == 403
    assert client.get("/web/settlements/1/statement.csv").status_code == 403
    for url, data in (
        ("/web/settlements/close", {"period": "2026-10"}),
        ("/web/settlements/1/paid", {"reference": "X"}),
    ):
        answer = client.post(url, data={**data, "csrf_token": token})
        assert answer.status_code == 403
        assert messages.text("fa", "error.forbidden") in answer.text


def test_pages_need_a_login(web: TestClient) -> None:
    for url in ("/web/", "/web/queue", f"/web/documents/{uuid.uuid4()}", "/web/settlements"):
        answer = web.get(url, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/web/login?next=/web/")


# -- languages --------------------------------------------------------------------------


def test_persian_pages_are_rtl_and_show_both_calendars(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _, document_id = under_review(web, sessions, service_date="2026-11-10")
    client = logged_in(Role.AUDITOR)
    page = client.get(f"/web/documents/{document_id}")
    assert page.status_code == 200
    assert '<html lang="fa" dir="rtl">' in page.text
    assert "۱۴۰۵/۰۸/۱۹" in page.text  # Solar Hijri, Persian digits
    assert "۲۰۲۶-۱۱-۱۰" in page.text  # Gregorian
    assert "در حال رسیدگی" in page.text
    assert "۱٬۳۰۰٬۰۰۰" in page.text  # requested, with thousands separators
    why = Locale("fa").t("why.amount", requested=1_300_000)
    assert why in page.text  # told from the criterion's code and the figures, in Persian
    history = page.text.split('id="history"')[1].split("</table>")[0]
    assert "rials is above" not in history  # not pricing's English sentence
    assert why in history
    assert messages.text("fa", "said.received") in history  # the gateway's own reasons too
    assert messages.text("fa", "said.checks_passed") in history
    assert ">received<" not in history
    audit = page.text.split('id="audit"')[1].split("</table>")[0]
    assert messages.text("fa", "action.document.status") in audit  # actions in words
    assert f"{messages.text('fa', 'component.professional')}: " in page.text  # tariff terms
    assert "سهم بیمار" in page.text
    assert "٪" in page.text
    assert "%" not in page.text
    client.get(f"/web/lang/en?next=/web/documents/{document_id}")
    english = client.get(f"/web/documents/{document_id}")
    assert '<html lang="en" dir="ltr">' in english.text
    assert "2026-11-10" in english.text
    assert "1405/08/19" in english.text
    assert "1,300,000" in english.text
    assert "Under review" in english.text
    assert str(Locale("en").t("why.amount", requested=1_300_000)) in english.text


def test_the_browser_language_is_the_default(web: TestClient, sessions) -> None:
    page = web.get("/web/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en" dir="ltr">' in page.text
    page = web.get("/web/login", headers={"Accept-Language": "de-DE"})
    assert '<html lang="fa" dir="rtl">' in page.text


# -- pages ------------------------------------------------------------------------------


def english(client: TestClient) -> TestClient:
    client.get("/web/lang/en")
    return client


def test_the_queue_filters_and_pages(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    code, first = under_review(web, sessions)
    centre, token = f.make_centre(sessions)
    second = submit_priced(
        web, sessions, token, centre.code, ALWAYS_REVIEW,
        lines=[f.line("970000", 1, 700_000), f.line("800010", 5, 300_000)],
    )  # fmt: skip
    client = english(logged_in(Role.AUDITOR))
    page = client.get(f"/web/queue?centre={code}")
    assert first in page.text
    assert second not in page.text
    assert "Showing <bdi>1</bdi>–<bdi>1</bdi> of <bdi>1</bdi>" in page.text
    both = f"/web/queue?status=UNDER_REVIEW&min_amount=1,500,000&centre={centre.code}"
    assert second in client.get(both).text
    assert "No documents match" in client.get(f"/web/queue?centre={code}&status=PAID").text
    detail = web.get(f"/v1/documents/{second}", headers={"Authorization": f"Bearer {token}"})
    patient = detail.json()["patient_national_id"]
    assert second in client.get(f"/web/queue?status=&national_id={patient}").text
    by_reason = client.get(f"/web/queue?centre={centre.code}&reason=quantity-above-limit").text
    assert (second in by_reason) == any(
        d["reason"] == "quantity-above-limit" for d in detail.json()["deductions_by_reason"]
    )
    bad = client.get("/web/queue?period=2026-13&national_id=12x")
    assert "A month is written YYYY-MM" in bad.text
    assert "A national ID (or its start) is up to 10 digits" in bad.text
    paged = client.get("/web/queue?status=&page=1")
    assert re.search(r"Page <bdi>1</bdi> of <bdi>\d+</bdi>", paged.text)


def test_the_dashboard_counts_by_status(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    under_review(web, sessions)
    page = english(logged_in(Role.FINANCE)).get("/web/")
    assert page.status_code == 200
    assert "Documents and amounts by status" in page.text
    assert 'id="count-UNDER_REVIEW"' in page.text
    assert "/web/queue" not in page.text  # finance has no queue


def test_review_and_decision_through_the_forms(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _, document_id = under_review(web, sessions)
    client = english(logged_in(Role.AUDITOR))
    url = f"/web/documents/{document_id}"
    page = client.get(url)
    assert "1,300,000" in page.text
    assert "&#34;documentNumber&#34;" in page.text  # the original document, escaped
    token = csrf_of(page)
    refused = client.post(
        f"{url}/lines/2/review",
        data={"action": "reduce", "quantity": "5", "reason": "review-other", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "The action was refused" in refused.text
    assert "from 0 to <bdi>1</bdi>" in refused.text
    reduced = client.post(
        f"{url}/lines/2/review",
        data={
            "action": "reduce",
            "quantity": "۱",
            "reason": "review-quantity-not-justified",
            "note": "one is enough",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert reduced.status_code == 303
    page = client.get(reduced.headers["location"])
    assert 'id="total-eligible">1,000,000<' in page.text
    assert "The line review was saved." in page.text
    approved = client.post(f"{url}/decision", data={"decision": "approve", "csrf_token": token})
    assert approved.status_code == 200
    assert 'data-status="APPROVED"' in approved.text
    again = client.post(f"{url}/decision", data={"decision": "deny", "csrf_token": token})
    assert again.status_code == 409
    assert "The document is <bdi>Approved</bdi>; it cannot become <bdi>Denied</bdi>" in again.text
    actions = audit_actions(sessions, document_id)
    assert {"patient.read", "review.line", "document.status"} <= set(actions)
    with sessions() as session:
        line = session.scalars(
            select(AuditEntry).where(
                AuditEntry.subject_id == document_id, AuditEntry.action == "review.line"
            )
        ).one()
    assert line.actor.startswith("user:auditor-")
    assert client.get(f"/web/documents/{uuid.uuid4()}").status_code == 404
    assert client.get("/web/documents/not-a-uuid").status_code == 404


@pytest.mark.own_database  # closing a period settles every centre's documents of the month
def test_settlement_through_the_pages(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    code, document_id = under_review(web, sessions, service_date="2026-10-20")
    auditor = english(logged_in(Role.AUDITOR))
    token = csrf_of(auditor.get(f"/web/documents/{document_id}"))
    decision = {"decision": "approve", "csrf_token": token}
    auditor.post(f"/web/documents/{document_id}/decision", data=decision)
    finance = english(logged_in(Role.FINANCE))
    token = csrf_of(finance.get("/web/settlements"))
    early = finance.post("/web/settlements/close", data={"period": "2027-01", "csrf_token": token})
    assert early.status_code == 422
    assert "has not begun" in early.text
    asked = finance.post("/web/settlements/close", data={"period": "2026-10", "csrf_token": token})
    assert asked.status_code == 200  # first what closing would order, per centre
    assert f'<td dir="ltr">{code}</td>' in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert "order-" not in finance.get(f"/web/settlements?period=2026-10&centre={code}").text
    close = {"period": "2026-10", "csrf_token": token, "confirmed": "yes"}
    closed = finance.post("/web/settlements/close", data=close, follow_redirects=False)
    assert closed.status_code == 303
    assert "The period was closed." in finance.get(closed.headers["location"]).text
    listing = finance.get(f"/web/settlements?period=2026-10&centre={code}")
    found = re.search(r'id="order-(\d+)"', listing.text)
    assert found, listing.text
    order_id = int(found.group(1))
    csv = finance.get(f"/web/settlements/{order_id}/statement.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert document_id in csv.text
    assert 'id="orders-total"' in listing.text
    ask = finance.post(
        f"/web/settlements/{order_id}/paid", data={"reference": "PAY-1", "csrf_token": token}
    )
    assert ask.status_code == 200
    assert 'id="paid-reference">PAY-1<' in ask.text
    paid = finance.post(
        f"/web/settlements/{order_id}/paid",
        data={"reference": "PAY-1", "csrf_token": token, "confirmed": "yes"},
        follow_redirects=False,
    )
    assert paid.status_code == 303
    shown = finance.get(paid.headers["location"])
    assert "The payment was recorded." in shown.text
    assert "PAY-1" in shown.text
    twice = finance.post(
        f"/web/settlements/{order_id}/paid",
        data={"reference": "PAY-2", "csrf_token": token, "confirmed": "yes"},
    )
    assert twice.status_code == 409
    assert "already paid" in twice.text
    again = finance.post("/web/settlements/close", data=close)
    assert again.status_code == 409
    assert "already closed" in again.text
    unknown = finance.get("/web/settlements?centre=NO-SUCH-CENTRE")
    assert unknown.status_code == 404


def test_an_estimate_says_so_on_its_page(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    """A FHIR preauthorization, priced: the page names it an estimate that is never paid
    (in the page's language, Persian by default)."""
    _, token = f.make_centre(sessions)
    resource = claim(f.new_national_id(), [item(1, "970000", 1, 700_000)], use="preauthorization")
    answer = web.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token)).json()
    price_all(sessions, [answer["id"]])
    client = logged_in(Role.AUDITOR)
    page = client.get(f"/web/documents/{answer['id']}")
    assert page.status_code == 200
    assert messages.text("fa", "purpose.preauthorization") in page.text
    assert 'data-status="PRICED"' in page.text
