"""A Persian reader sees a service's refusal in Persian on the page that asked: the
catalogue's message for its code, numbers in Persian digits, states by their Persian
labels, and never the service's English sentence."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.centres import Role
from gateway.web import messages
from tests.web.conftest import csrf_of, log_in, make_user
from tests.web.test_workspace import under_review

LoggedIn = Callable[[Role], TestClient]
LATIN_SENTENCE = re.compile(r"[A-Za-z]{3,} [A-Za-z]{2,} [A-Za-z]{2,}")


def refusal_of(page: str) -> str:
    """The refusal's text as the page shows it (inside ``id="refusal"``)."""
    found = re.search(r'id="refusal">(.*?)</(?:span|p)>', page, re.S)
    assert found, page
    return found.group(1)


def persian(key: str) -> str:
    """The Persian message's words before its first value."""
    return messages.text("fa", key).split("{")[0].strip()


def test_a_decision_on_a_decided_document_is_refused_in_persian(
    web: TestClient, sessions: sessionmaker[Session], logged_in: LoggedIn
) -> None:
    _, document_id = under_review(web, sessions)
    client = logged_in(Role.AUDITOR)  # no language chosen: Persian
    url = f"/web/documents/{document_id}"
    token = csrf_of(client.get(url))
    approved = client.post(f"{url}/decision", data={"decision": "approve", "csrf_token": token})
    assert approved.status_code == 200
    again = client.post(f"{url}/decision", data={"decision": "approve", "csrf_token": token})
    assert again.status_code == 409
    said = refusal_of(again.text)
    assert persian("refusal.document.transition") in said
    assert said.count(f"<bdi>{messages.text('fa', 'status.APPROVED')}</bdi>") == 2
    assert "Cannot move" not in again.text
    assert not LATIN_SENTENCE.search(said), said


def test_a_figure_out_of_range_is_refused_with_persian_digits(
    web: TestClient, sessions: sessionmaker[Session], logged_in: LoggedIn
) -> None:
    _, document_id = under_review(web, sessions)
    client = logged_in(Role.AUDITOR)
    url = f"/web/documents/{document_id}"
    token = csrf_of(client.get(url))
    refused = client.post(
        f"{url}/lines/2/review",
        data={"action": "reduce", "quantity": "5", "reason": "review-other", "csrf_token": token},
    )
    assert refused.status_code == 422
    said = refusal_of(refused.text)
    assert persian("refusal.review.quantity-range") in said
    assert "<bdi>۱</bdi>" in said  # from 0 to 1
    assert "<bdi>۲</bdi>" in said  # pricing allowed 2
    assert "payable quantity" not in refused.text


def test_an_admin_is_refused_in_persian(web: TestClient, sessions: sessionmaker[Session]) -> None:
    me = make_user(sessions, Role.ADMIN)
    assert log_in(web, me).status_code == 303
    token = csrf_of(web.get("/web/users"))
    myself = web.post(f"/web/users/{me}/disable", data={"csrf_token": token})
    assert myself.status_code == 409
    assert refusal_of(myself.text) == messages.text("fa", "refusal.admin.self-disable")
    nobody = web.post("/web/users/no-such-user/disable", data={"csrf_token": token})
    assert nobody.status_code == 404
    said = refusal_of(nobody.text)
    assert persian("refusal.admin.no-user") in said
    assert '<bdi dir="ltr">no-such-user</bdi>' in said
    assert "There is no user" not in nobody.text


def test_finance_is_refused_in_persian_and_in_english(logged_in: LoggedIn) -> None:
    finance = logged_in(Role.FINANCE)
    token = csrf_of(finance.get("/web/settlements"))
    early = finance.post("/web/settlements/close", data={"period": "2027-01", "csrf_token": token})
    assert early.status_code == 422
    said = refusal_of(early.text)
    assert persian("refusal.settlement.period-not-begun") in said
    assert '<bdi dir="ltr">۲۰۲۷-۰۱</bdi>' in said
    assert "has not begun" not in early.text
    finance.get("/web/lang/en")
    early = finance.post("/web/settlements/close", data={"period": "2027-01", "csrf_token": token})
    assert refusal_of(early.text) == (
        'Period <bdi dir="ltr">2027-01</bdi> has not begun; it cannot be closed yet.'
    )


@pytest.mark.own_database  # closing a period settles every centre's documents of the month
def test_closing_a_closed_period_is_refused_in_persian(logged_in: LoggedIn) -> None:
    finance = logged_in(Role.FINANCE)
    token = csrf_of(finance.get("/web/settlements"))
    close = {"period": "2026-09", "csrf_token": token, "confirmed": "yes"}
    assert finance.post("/web/settlements/close", data=close, follow_redirects=False).is_redirect
    again = finance.post("/web/settlements/close", data=close)
    assert again.status_code == 409
    said = refusal_of(again.text)
    assert persian("refusal.settlement.period-closed") in said
    assert '<bdi dir="ltr">۲۰۲۶-۰۹</bdi>' in said
    assert "already closed" not in again.text


def test_a_refusal_on_a_page_of_its_own_is_persian_too(logged_in: LoggedIn) -> None:
    """A refusal the route does not catch (a donation that does not exist) gets the
    error page, with the refusal told from the catalogue."""
    finance = logged_in(Role.FINANCE)
    missing = finance.get("/web/donations/NO-SUCH-RECEIPT")
    assert missing.status_code == 404
    said = refusal_of(missing.text)
    assert persian("refusal.payers.no-donation") in said
    assert "not found" not in missing.text
    order = finance.get("/web/settlements/999999999/statement.csv")
    assert order.status_code == 404
    assert refusal_of(order.text) == messages.text("fa", "refusal.settlement.no-order")
