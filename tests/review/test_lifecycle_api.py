"""After pricing: line review, decisions, appeals and settlement, with the audit chain,
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from gateway.audit import chain as audit
from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.pricing.engine.review import ReviewPolicy
from gateway.pricing.service import Policies
from gateway.storage.models import Document
from tests import factories as f
from tests.submissions.test_submissions import JSON, POLICIES, auth, price_all

# Every priced document goes to review: the lifecycle is what these tests are about.
ALWAYS_REVIEW = Policies(
    copay=POLICIES.copay,
    review=ReviewPolicy(amount_threshold=0, deduction_share=Decimal(1), sample_percent=Decimal(0)),
    clock_date=POLICIES.clock_date,
)
NEVER_REVIEW = Policies(
    copay=POLICIES.copay,
    review=ReviewPolicy(
        amount_threshold=10**15, deduction_share=Decimal(1), sample_percent=Decimal(0)
    ),
    clock_date=POLICIES.clock_date,
)


def submit_priced(
    client: TestClient, sessions, token: str, code: str, policies: Policies, **visit: Any
) -> str:
    lines = visit.pop("lines", None) or [f.line("970000", 1, 700_000), f.line("800010", 2, 300_000)]
    body = f.as_json(f.submission(code, f.outpatient_visit(lines, **visit)))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    document_id = str(answer["documents"][0]["id"])
    price_all(sessions, [document_id], policies)
    return document_id


def test_reduce_a_line_then_approve(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    url = f"/v1/documents/{document_id}"
    before = client.get(url, headers=auth(auditor)).json()
    assert before["status"] == "UNDER_REVIEW"
    # Line 2: CBC x2 at 300,000 (tariff 379,200): eligible 600,000; reduce to 1 unit.
    reduced = client.post(
        f"{url}/lines/2/review",
        json={"action": "reduce", "quantity": 1, "reason": "review-quantity-not-justified"},
        headers=auth(auditor),
    )
    assert reduced.status_code == 200, reduced.text
    line = reduced.json()["lines"][1]["pricing"]
    assert (line["eligible"], line["copayment"], line["insurer_share"]) == (
        300_000,
        90_000,
        210_000,
    )
    assert line["deductions"][-1] == {
        "reason": "review-quantity-not-justified",
        "amount": 300_000,
        "detail": line["deductions"][-1]["detail"],
    }
    totals = reduced.json()["totals"]
    assert totals["eligible"] == before["totals"]["eligible"] - 300_000
    assert totals["insurer_share"] == totals["eligible"] - totals["copayment"]
    # A second review of the same line replaces the first: accept restores it.
    restored = client.post(
        f"{url}/lines/2/review", json={"action": "accept"}, headers=auth(auditor)
    )
    assert restored.json()["totals"] == before["totals"]
    denied_line = client.post(
        f"{url}/lines/1/review",
        json={"action": "deny", "reason": "review-not-documented", "note": "no visit note"},
        headers=auth(auditor),
    ).json()
    assert denied_line["lines"][0]["pricing"]["eligible"] == 0
    assert [r["action"] for r in denied_line["reviews"]] == ["reduce", "accept", "deny"]
    approved = client.post(
        f"{url}/decision", json={"decision": "approve", "reason": "ok"}, headers=auth(auditor)
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "APPROVED"
    late = client.post(f"{url}/lines/2/review", json={"action": "accept"}, headers=auth(auditor))
    assert late.status_code == 409


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"action": "reduce", "quantity": 2, "reason": "review-other"}, "from 0 to 1"),
        ({"action": "reduce", "amount": 600_000, "reason": "review-other"}, "from 0 to 599,999"),
        ({"action": "reduce", "reason": "review-other"}, "either a payable quantity"),
        ({"action": "deny"}, "needs a reason code"),
    ],
)
def test_impossible_reviews_are_refused(client: TestClient, sessions, body, fragment) -> None:
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    answer = client.post(
        f"/v1/documents/{document_id}/lines/2/review", json=body, headers=auth(auditor)
    )
    assert answer.status_code == 422
    assert fragment in answer.json()["errors"][0]["message"]


def test_illegal_move_is_409_naming_the_allowed_ones(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, NEVER_REVIEW)
    answer = client.post(
        f"/v1/documents/{document_id}/decision", json={"decision": "deny"}, headers=auth(auditor)
    )
    assert answer.status_code == 409
    message = answer.json()["errors"][0]["message"]
    assert message == "Cannot move from APPROVED to DENIED; allowed: APPEALED, PAYMENT_ORDERED."


def test_appeal_returns_a_denied_document_to_review(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    url = f"/v1/documents/{document_id}"
    client.post(f"{url}/decision", json={"decision": "deny", "reason": "x"}, headers=auth(auditor))
    assert (
        client.post(f"{url}/appeal", json={"reason": "see notes"}, headers=auth(other)).status_code
        == 404
    )
    assert (
        client.post(
            f"{url}/appeal", json={"reason": "see notes"}, headers=auth(auditor)
        ).status_code
        == 403
    )
    bad_line = client.post(f"{url}/appeal", json={"reason": "x", "lines": [9]}, headers=auth(token))
    assert bad_line.status_code == 422
    appealed = client.post(
        f"{url}/appeal",
        json={"reason": "the visit note is attached", "lines": [1]},
        headers=auth(token),
    )
    assert appealed.status_code == 200, appealed.text
    body = appealed.json()
    assert body["status"] == "UNDER_REVIEW"
    assert [e["to_status"] for e in body["history"]][-3:] == ["DENIED", "APPEALED", "UNDER_REVIEW"]
    assert body["appeals"][0]["lines"] == [1]
    again = client.post(f"{url}/appeal", json={"reason": "again"}, headers=auth(token))
    assert again.status_code == 409


@pytest.mark.own_database  # closing a period settles every centre's documents of the month
def test_settlement_closes_once_orders_and_pays(client: TestClient, sessions, settings) -> None:
    centre, token = f.make_centre(sessions)
    finance = f.make_staff_token(sessions, Role.FINANCE)
    auditor = f.make_staff_token(sessions)
    approved = submit_priced(
        client, sessions, token, centre.code, NEVER_REVIEW, service_date="2026-09-10"
    )
    pending = submit_priced(
        client, sessions, token, centre.code, ALWAYS_REVIEW, service_date="2026-09-12"
    )
    period = "2026-09"
    assert (
        client.post("/v1/settlements", json={"period": period}, headers=auth(auditor)).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/settlements", json={"period": "2027-01"}, headers=auth(finance)
        ).status_code
        == 422
    )
    closed = client.post("/v1/settlements", json={"period": period}, headers=auth(finance))
    assert closed.status_code == 201, closed.text
    (order,) = closed.json()["orders"]  # the only centre of this database with documents
    assert order["centre"]["code"] == centre.code
    assert order["documents"] == 1
    again = client.post("/v1/settlements", json={"period": period}, headers=auth(finance))
    assert again.status_code == 409
    doc = client.get(f"/v1/documents/{approved}", headers=auth(token)).json()
    assert (doc["status"], doc["payment_order_id"]) == ("PAYMENT_ORDERED", order["id"])
    # The document under review at closing is late: it waits for a later period.
    client.post(
        f"/v1/documents/{pending}/decision", json={"decision": "approve"}, headers=auth(auditor)
    )
    assert (
        client.get(f"/v1/documents/{pending}", headers=auth(token)).json()["payment_order_id"]
        is None
    )
    statement = client.get(f"/v1/settlements/{order['id']}", headers=auth(token)).json()
    assert {row["external_id"] for row in statement["lines"]} == {doc["external_id"]}
    assert sum(row["deduction_amount"] for row in statement["lines"]) == order["totals"]["deducted"]
    csv_text = client.get(f"/v1/settlements/{order['id']}/statement.csv", headers=auth(token)).text
    assert csv_text.splitlines()[0].startswith("document_id,external_id,kind")
    _, other = f.make_centre(sessions)
    assert client.get(f"/v1/settlements/{order['id']}", headers=auth(other)).status_code == 404
    assert order["id"] not in [
        o["id"] for o in client.get("/v1/settlements", headers=auth(other)).json()
    ]
    paid = client.post(
        f"/v1/settlements/{order['id']}/paid", json={"reference": "SHEBA-77"}, headers=auth(finance)
    )
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid"
    assert client.get(f"/v1/documents/{approved}", headers=auth(token)).json()["status"] == "PAID"
    twice = client.post(
        f"/v1/settlements/{order['id']}/paid", json={"reference": "X"}, headers=auth(finance)
    )
    assert twice.status_code == 409


def test_every_move_is_in_an_unbroken_audit_chain(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    client.post(
        f"/v1/documents/{document_id}/decision", json={"decision": "approve"}, headers=auth(auditor)
    )
    client.get(f"/v1/documents/{document_id}", headers=auth(auditor))
    with sessions() as session:
        entries = audit.entries_for(session, "document", [document_id])
        assert [(e.action, e.details.get("to")) for e in entries] == [
            ("document.status", "RECEIVED"),
            ("document.status", "ACCEPTED"),
            ("document.status", "PRICED"),
            ("document.status", "UNDER_REVIEW"),
            ("document.status", "APPROVED"),
            ("patient.read", None),
        ]
        assert audit.verify(session).ok


def test_document_search_filters_and_scopes(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    other, other_token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    mine = submit_priced(
        client, sessions, token, centre.code, ALWAYS_REVIEW,
        lines=[f.line("970000", 1, 800_000)],
    )  # fmt: skip
    theirs = submit_priced(client, sessions, other_token, other.code, ALWAYS_REVIEW)
    queue = client.get(
        "/v1/documents",
        params={"status": "UNDER_REVIEW", "centre": centre.code, "reason": "above-tariff"},
        headers=auth(auditor),
    ).json()
    assert [item["id"] for item in queue["items"]] == [mine]
    assert queue["total"] == 1
    own = client.get("/v1/documents", params={"centre": other.code}, headers=auth(token)).json()
    assert theirs not in [item["id"] for item in own["items"]]  # centre filter ignored for centres
    assert {item["centre_code"] for item in own["items"]} == {centre.code}


@pytest.mark.own_database  # closing a period settles every centre's documents of the month
def test_paying_an_order_whose_document_moved_is_a_conflict_not_a_500(
    client: TestClient, sessions
) -> None:
    centre, token = f.make_centre(sessions)
    finance = f.make_staff_token(sessions, Role.FINANCE)
    approved = submit_priced(
        client, sessions, token, centre.code, NEVER_REVIEW, service_date="2026-09-11"
    )
    closed = client.post("/v1/settlements", json={"period": "2026-09"}, headers=auth(finance))
    (order,) = closed.json()["orders"]
    with transaction(sessions) as session:  # a document of the order no longer ordered
        session.execute(
            update(Document).where(Document.id == uuid.UUID(approved)).values(status="APPROVED")
        )
    paid = client.post(
        f"/v1/settlements/{order['id']}/paid", json={"reference": "SHEBA-78"}, headers=auth(finance)
    )
    assert paid.status_code == 409, paid.text
    assert "APPROVED" in paid.json()["errors"][0]["message"]
    again = client.get(f"/v1/settlements/{order['id']}", headers=auth(finance)).json()
    assert again["order"]["status"] != "paid"
