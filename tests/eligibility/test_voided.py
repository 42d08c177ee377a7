"""A voided bill bills nothing for eligibility: its units and its day no longer count."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import factories as f
from tests.eligibility.test_api import asked
from tests.submissions.test_submissions import JSON, auth


def test_a_voided_bill_no_longer_uses_the_quantity_limit(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    visit = f.outpatient_visit([f.line("600100", 4, 700_000)], service_date="2026-11-10")
    patient = visit["outpatientVisit"]["patient"]
    sent = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code, visit)),
        headers=auth(token, JSON),
    ).json()
    (document,) = sent["documents"]
    body = {
        "national_id": patient["nationalId"],
        "insurance_number": patient["insuranceNumber"],
        "services": [{"code_type": "service", "code": "600100"}],
        "service_date": "2026-11-10",
    }
    before = asked(client, token, **body)["services"][0]
    assert (before["covered"], before["quantity_used"]) == (False, 4)
    voided = client.post(
        f"/v1/documents/{document['id']}/void", json={"reason": "wrong day"}, headers=auth(token)
    )
    assert voided.status_code == 200, voided.text
    after = asked(client, token, **body)["services"][0]
    assert (after["covered"], after["quantity_used"], after["reasons"]) == (True, 0, [])
