"""Numbers past what their column holds are refused where they arrive, with 422 naming the
parameter (they used to reach the database driver and come back as 500), on SQLite and
PostgreSQL. The workspace's forms: tests/web/test_number_bounds.py."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.domain.bounds import INT32_MAX, INT64_MAX
from gateway.domain.centres import Role
from tests import factories as f
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import auth


def paths(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [problem["path"] for problem in answer.json()["errors"]]


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ({"offset": 2**63}, "query/offset"),
        ({"offset": 10**40}, "query/offset"),
        ({"min_amount": 2**63}, "query/min_amount"),
        ({"min_amount": 2**64}, "query/min_amount"),
    ],
)
def test_search_numbers_past_64_bits(
    client: TestClient, sessions, query: dict[str, int], where: str
) -> None:
    token = f.make_staff_token(sessions, Role.AUDITOR)
    assert paths(client.get("/v1/documents", params=query, headers=auth(token))) == [where]


def test_search_at_the_largest_numbers(client: TestClient, sessions) -> None:
    token = f.make_staff_token(sessions, Role.AUDITOR)
    query = {"offset": INT64_MAX, "min_amount": INT64_MAX}
    answer = client.get("/v1/documents", params=query, headers=auth(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []


@pytest.mark.parametrize("order_id", [2**31, 2**63, 2**64, 0, -(2**63) - 1])
def test_settlement_ids_out_of_range(client: TestClient, sessions, order_id: int) -> None:
    finance = auth(f.make_staff_token(sessions, Role.FINANCE))
    paid = client.post(
        f"/v1/settlements/{order_id}/paid", json={"reference": "R1"}, headers=finance
    )
    assert paths(paid) == ["path/order_id"]
    assert paths(client.get(f"/v1/settlements/{order_id}", headers=finance)) == ["path/order_id"]
    csv = client.get(f"/v1/settlements/{order_id}/statement.csv", headers=finance)
    assert paths(csv) == ["path/order_id"]


def test_settlement_id_at_the_largest_is_not_found(client: TestClient, sessions) -> None:
    finance = auth(f.make_staff_token(sessions, Role.FINANCE))
    answer = client.get(f"/v1/settlements/{INT32_MAX}", headers=finance)
    assert answer.status_code == 404, answer.text


@pytest.mark.parametrize(
    ("url", "body", "where"),
    [
        ("lines/{line}/review", {"action": "reduce", "quantity": 2**31}, "body/quantity"),
        ("lines/{line}/review", {"action": "reduce", "amount": 2**63}, "body/amount"),
        ("lines/{big}/review", {"action": "accept"}, "path/line_no"),
    ],
)
def test_line_review_numbers(
    client: TestClient, sessions, url: str, body: dict[str, Any], where: str
) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    auditor = auth(f.make_staff_token(sessions, Role.AUDITOR))
    address = f"/v1/documents/{document_id}/" + url.format(line=1, big=2**63)
    assert paths(client.post(address, json=body, headers=auditor)) == [where]
