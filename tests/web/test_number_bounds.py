"""The workspace's forms and filters refuse numbers past what their column holds (they
used to reach the database driver and come back as 500), naming what was wrong."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from gateway.web import messages
from tests import factories as f
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.web.conftest import csrf_of

ENGLISH = {"Accept-Language": "en"}


def test_workspace_paid_and_statement_ids(logged_in: Callable[[Role], TestClient]) -> None:
    web = logged_in(Role.FINANCE)
    csrf = csrf_of(web.get("/web/settlements"))
    for order_id in (2**63, 2**64):
        paid = web.post(f"/web/settlements/{order_id}/paid", data={"csrf_token": csrf})
        assert paid.status_code == 422, paid.text
        assert "path/order_id" in paid.text
        csv = web.get(f"/web/settlements/{order_id}/statement.csv")
        assert (csv.status_code, "path/order_id" in csv.text) == (422, True)


def test_workspace_queue_filters_past_64_bits(logged_in: Callable[[Role], TestClient]) -> None:
    web = logged_in(Role.AUDITOR)
    amount = web.get("/web/queue", params={"min_amount": str(2**63)}, headers=ENGLISH)
    assert amount.status_code == 200, amount.text
    assert "The minimum amount is a whole number of rials." in amount.text
    huge_page = web.get("/web/queue", params={"page": "9" * 5000}, headers=ENGLISH)
    assert huge_page.status_code == 200, huge_page.text


def test_workspace_review_form_numbers(
    client: TestClient, sessions, logged_in: Callable[[Role], TestClient]
) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    web = logged_in(Role.AUDITOR)
    page = web.get(f"/web/documents/{document_id}")
    form = {"csrf_token": csrf_of(page), "action": "reduce", "reason": ""}
    for field, value in (("quantity", str(2**31)), ("amount", str(2**63))):
        answer = web.post(
            f"/web/documents/{document_id}/lines/1/review", data={**form, field: value}
        )
        assert answer.status_code == 422, answer.text
        # Told in the page's language (Persian by default), the bound in Persian digits.
        assert messages.text("fa", "refusal.review.figure-range").split("{")[0] in answer.text
        assert "whole number" not in answer.text
    assert (
        "<bdi>۲٬۱۴۷٬۴۸۳٬۶۴۷</bdi>"
        in web.post(
            f"/web/documents/{document_id}/lines/1/review", data={**form, "quantity": str(2**31)}
        ).text
    )
    line = web.post(f"/web/documents/{document_id}/lines/{2**63}/review", data=form)
    assert (line.status_code, "path/line_no" in line.text) == (422, True)
