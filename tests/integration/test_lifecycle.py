"""The whole life of a document on PostgreSQL with a real worker: submitted, priced, one
line reduced in review, approved, appealed, re-reviewed, settled and paid; the audit
chain holds throughout."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests import factories as f
from tests import services
from tests.integration.conftest import Stack
from tests.integration.test_end_to_end import add_centre

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

# Every priced document goes to review here.
STACK_ENV = {"GATEWAY_REVIEW_AMOUNT_THRESHOLD": "0"}


def gateway(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=services.WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def token(stack: Stack, role: str) -> str:
    return gateway(stack, "token", "add", role).strip().splitlines()[-1]


def wait_status(
    client: httpx.Client, url: str, status: str, headers: dict[str, str]
) -> dict[str, Any]:
    deadline = time.monotonic() + services.WAIT_S
    while True:
        body: dict[str, Any] = client.get(url, headers=headers).json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


@pytest.mark.parametrize("stack", ["postgresql+rabbitmq"], indirect=True)
def test_the_whole_life_of_a_document(stack: Stack) -> None:
    code, centre_token = add_centre(stack)
    auditor = {"Authorization": f"Bearer {token(stack, 'auditor')}"}
    finance = {"Authorization": f"Bearer {token(stack, 'finance')}"}
    centre = {"Authorization": f"Bearer {centre_token}"}
    visit = f.outpatient_visit([f.line("970000", 1, 700_000), f.line("800010", 2, 300_000)])
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        answer = client.post(
            "/v1/submissions",
            content=f.as_json(f.submission(code, visit)),
            headers={**centre, "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        url = answer.json()["documents"][0]["url"]
        priced = wait_status(client, url, "UNDER_REVIEW", centre)
        assert priced["status"] == "UNDER_REVIEW", stack.logs()
        eligible = priced["totals"]["eligible"]

        reduced = client.post(
            f"{url}/lines/2/review",
            json={"action": "reduce", "quantity": 1, "reason": "review-quantity-not-justified"},
            headers=auditor,
        ).json()
        assert reduced["totals"]["eligible"] == eligible - 300_000
        approved = client.post(
            f"{url}/decision", json={"decision": "approve"}, headers=auditor
        ).json()
        assert approved["status"] == "APPROVED"

        appealed = client.post(
            f"{url}/appeal",
            json={"reason": "two CBCs were ordered; orders attached", "lines": [2]},
            headers=centre,
        )
        assert appealed.status_code == 200, appealed.text
        assert appealed.json()["status"] == "UNDER_REVIEW"
        restored = client.post(
            f"{url}/lines/2/review",
            json={"action": "accept", "note": "orders seen"},
            headers=auditor,
        ).json()
        assert restored["totals"]["eligible"] == eligible
        client.post(f"{url}/decision", json={"decision": "approve"}, headers=auditor)

        closed = client.post("/v1/settlements", json={"period": "2026-11"}, headers=finance)
        assert closed.status_code == 201, closed.text
        (order,) = [o for o in closed.json()["orders"] if o["centre"]["code"] == code]
        assert order["totals"]["eligible"] == eligible
        statement = client.get(f"/v1/settlements/{order['id']}/statement.csv", headers=centre)
        assert statement.status_code == 200
        paid = client.post(
            f"/v1/settlements/{order['id']}/paid",
            json={"reference": "SHEBA-2026-11"},
            headers=finance,
        )
        assert paid.status_code == 200, paid.text
        final = client.get(url, headers=centre).json()
    assert final["status"] == "PAID"
    assert [e["to_status"] for e in final["history"]] == [
        "RECEIVED", "ACCEPTED", "PRICED", "UNDER_REVIEW", "APPROVED", "APPEALED",
        "UNDER_REVIEW", "APPROVED", "PAYMENT_ORDERED", "PAID",
    ]  # fmt: skip
    assert [r["action"] for r in final["reviews"]] == ["reduce", "accept"]
    assert "audit chain intact" in gateway(stack, "audit", "verify")
