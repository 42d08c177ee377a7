"""The fund's share is paid to the centre in the monthly settlement, on its own line of
the payment order and statement; paying the order settles it in the ledger."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.domain import ledger
from gateway.domain.centres import Role
from gateway.payers import repository as store
from tests import factories as f
from tests.payers.support import give, ledger_is_whole, priced_visit, programme_with_patients
from tests.review.test_lifecycle_api import NEVER_REVIEW
from tests.submissions.test_submissions import auth


@pytest.mark.own_database
def test_the_fund_share_has_its_own_line(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    finance = f.make_staff_token(sessions, Role.FINANCE)
    centre, token = f.make_centre(sessions)
    patient = f.new_national_id()
    programme_with_patients(sessions, patient)
    give(sessions, 100_000)
    priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    closed = client.post("/v1/settlements", json={"period": "2026-11"}, headers=auth(finance))
    assert closed.status_code == 201, closed.text
    (order,) = [o for o in closed.json()["orders"] if o["centre"]["code"] == centre.code]
    # 100000 over 195000 and 90000: 68421 and 31579; the patient keeps 126579 and 58421.
    assert order["fund_amount"] == 100_000
    assert order["totals"]["copayment"] == 285_000
    lines = client.get(f"/v1/settlements/{order['id']}", headers=auth(finance)).json()["lines"]
    assert [(r["fund_share"], r["patient_pays"]) for r in lines] == [
        (68_421, 126_579),
        (31_579, 58_421),
    ]
    csv_text = client.get(
        f"/v1/settlements/{order['id']}/statement.csv", headers=auth(finance)
    ).text
    assert csv_text.splitlines()[0].endswith("supplementary_share,fund_share,patient_pays")
    paid = client.post(
        f"/v1/settlements/{order['id']}/paid", json={"reference": "SATNA-1"}, headers=auth(finance)
    )
    assert paid.status_code == 200
    with sessions() as session:
        assert store.account_balance(session, ledger.paid_account(centre.code)) == 100_000
        # The centre's receivable keeps the patient's part only: 285000 - 100000 paid.
        assert store.account_balance(session, ledger.centre_account(centre.code)) == 185_000
    ledger_is_whole(sessions)
