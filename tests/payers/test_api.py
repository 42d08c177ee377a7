"""The payers' API: finance records programmes and donations, staff enrol patients, donors'
reports add up to what left each donation, insurers' statements list what they pay."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from tests import factories as f
from tests.payers.support import add_policy, priced_visit
from tests.review.test_lifecycle_api import NEVER_REVIEW
from tests.submissions.test_submissions import auth


def _programme(client: TestClient, finance: str, **extra: object) -> str:
    code = f"P-{uuid.uuid4().hex[:8]}"
    body = {
        "code": code,
        "name": "Hard-to-treat patients",
        "diagnosis_groups": ["thalassaemia", "cancer"],
        "patient_annual_ceiling": 10_000_000,
        **extra,
    }
    answer = client.post("/v1/payers/programmes", json=body, headers=auth(finance))
    assert answer.status_code == 201, answer.text
    return code


def test_finance_records_a_programme_and_a_centre_may_not(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    finance = f.make_staff_token(sessions, Role.FINANCE)
    _, centre_token = f.make_centre(sessions)
    code = _programme(client, finance)
    again = client.post(
        "/v1/payers/programmes",
        json={"code": code, "name": "x", "diagnosis_groups": ["cancer"],
              "patient_annual_ceiling": 1},
        headers=auth(finance),
    )  # fmt: skip
    assert again.status_code == 409
    refused = client.get("/v1/payers/programmes", headers=auth(centre_token))
    assert refused.status_code == 403
    unknown = client.post(
        "/v1/payers/programmes",
        json={"code": "Z-1", "name": "x", "diagnosis_groups": ["flu"],
              "patient_annual_ceiling": 1},
        headers=auth(finance),
    )  # fmt: skip
    assert unknown.status_code == 422


def test_enrolment_checks_the_group_and_the_patient(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    finance = f.make_staff_token(sessions, Role.FINANCE)
    auditor = f.make_staff_token(sessions)
    code = _programme(client, finance)
    body = {"programme": code, "national_id": f.new_national_id(),
            "diagnosis_group": "thalassaemia", "valid_from": "2026-01-01"}  # fmt: skip
    assert client.post("/v1/payers/enrolments", json=body, headers=auth(auditor)).status_code == 201
    wrong = client.post(
        "/v1/payers/enrolments", json={**body, "diagnosis_group": "dialysis"}, headers=auth(auditor)
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["code"] == "payers.group-not-covered"
    bad_id = client.post(
        "/v1/payers/enrolments", json={**body, "national_id": "0013542418"}, headers=auth(auditor)
    )
    assert bad_id.json()["errors"][0]["code"] == "payers.invalid-national-id"
    missing = client.post(
        "/v1/payers/enrolments", json={**body, "programme": "NOPE"}, headers=auth(auditor)
    )
    assert missing.status_code == 404


def test_a_donors_report_totals_what_left_the_donation(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    finance = f.make_staff_token(sessions, Role.FINANCE)
    auditor = f.make_staff_token(sessions)
    centre, token = f.make_centre(sessions)
    code = _programme(client, finance, centres=[centre.code])
    patients = [f.new_national_id(), f.new_national_id()]
    for patient in patients:
        body = {"programme": code, "national_id": patient,
                "diagnosis_group": "cancer", "valid_from": "2026-01-01"}  # fmt: skip
        client.post("/v1/payers/enrolments", json=body, headers=auth(auditor))
    # Earmarked for this centre: drawn before any general gift, so this test's figures hold.
    gift = client.post(
        "/v1/payers/donations",
        json={"donor": "Mr A", "amount": 400_000, "received_on": "2026-10-01",
              "earmark_kind": "centre", "earmark_value": centre.code, "message": "for Nov"},
        headers=auth(finance),
    )  # fmt: skip
    assert gift.status_code == 201, gift.text
    receipt = gift.json()["receipt_number"]
    assert receipt.startswith("CF-2026-")
    for patient in patients:
        priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    report = client.get(f"/v1/payers/donations/{receipt}/report", headers=auth(finance)).json()
    assert report["donation"]["given"] == 400_000
    assert report["donation"]["held"] == 0
    assert report["total"] == 400_000 == sum(row["amount"] for row in report["rows"])
    assert {row["month"] for row in report["rows"]} == {"2026-11"}
    assert sum(row["services"] for row in report["rows"]) == 4  # two lines of two visits
    assert max(row["patients"] for row in report["rows"]) == 2
    assert all(patient not in str(report) for patient in patients)
    bad = client.post(
        "/v1/payers/donations",
        json={"donor": "B", "amount": 1, "received_on": "2026-10-01", "earmark_kind": "centre",
              "earmark_value": "NO-SUCH"},
        headers=auth(finance),
    )  # fmt: skip
    assert bad.status_code == 422


def test_an_insurers_statement_lists_what_it_pays(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    finance = f.make_staff_token(sessions, Role.FINANCE)
    centre, token = f.make_centre(sessions)
    insurer = f"SUP-{uuid.uuid4().hex[:6].upper()}"
    patient = f.new_national_id()
    add_policy(sessions, patient, insurer, copay="0.5")
    document_id = priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    url = f"/v1/payers/insurers/{insurer}/statement"
    statement = client.get(url, params={"period": "2026-11"}, headers=auth(finance)).json()
    assert statement["total"] == 142_500
    assert statement["documents"] == 1
    assert [(r["document_id"], r["line_no"], r["amount"]) for r in statement["lines"]] == [
        (str(document_id), 1, 97_500),
        (str(document_id), 2, 45_000),
    ]
    empty = client.get(url, params={"period": "2026-10"}, headers=auth(finance)).json()
    assert empty["lines"] == []
    text = client.get(f"{url}.csv", params={"period": "2026-11"}, headers=auth(finance)).text
    assert text.splitlines()[0].startswith("document_id,external_id,centre")
    assert text.splitlines()[1].endswith(",1,service,970000,97500")


def test_a_supplementary_claim_carries_the_basic_insurers_adjudication(
    client: TestClient,
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    finance = f.make_staff_token(sessions, Role.FINANCE)
    centre, token = f.make_centre(sessions)
    insurer = f"SUP-{uuid.uuid4().hex[:6].upper()}"
    patient = f.new_national_id()
    add_policy(sessions, patient, insurer, copay="0.5")
    document_id = priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    query = {"insurer": insurer, "period": "2026-11"}
    answer = client.get("/fhir/Claim", params=query, headers=auth(finance))
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    claim, prior = (entry["resource"] for entry in bundle["entry"])
    assert claim["resourceType"] == "Claim"
    assert claim["insurer"]["identifier"]["value"] == insurer
    assert [i["net"]["value"] for i in claim["item"]] == [97_500, 45_000]
    assert claim["total"]["value"] == 142_500
    first, second = claim["insurance"]
    assert (first["focal"], second["focal"]) == (False, True)
    assert first["claimResponse"]["reference"] == bundle["entry"][1]["fullUrl"]
    assert prior["resourceType"] == "ClaimResponse"
    assert prior["id"] == str(document_id)
    refused = client.get("/fhir/Claim", params=query, headers=auth(token))
    assert refused.status_code == 403
