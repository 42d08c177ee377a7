"""Referrals at the FHIR door: a ServiceRequest (intent order, category Patient referral)
issues one, and reads it back for the two centres involved."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.servicerequest import ServiceRequest

from gateway.domain.referrals import referral_code_is_valid
from gateway.fhir import referral as fhir_referral
from gateway.fhir import systems
from tests.referrals.helpers import Programme, auth, programme, specialist_visit, submit

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def request_for(p: Programme) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": fhir_referral.SNOMED, "code": fhir_referral.PATIENT_REFERRAL}]}
        ],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": systems.NATIONAL_ID, "value": p.patient}],
            }
        ],
        "subject": {"reference": "#pat"},
        "requester": {"identifier": {"system": systems.MEDICAL_COUNCIL, "value": p.physician}},
        "performerType": {
            "coding": [
                {"system": fhir_referral.CARE_LEVEL, "code": "2"},
                {"system": fhir_referral.SPECIALTY, "code": "cardiology"},
            ]
        },
        "reasonCode": [
            {"coding": [{"system": fhir_referral.ICD10, "code": "I20.9"}], "text": "angina"}
        ],
        "authoredOn": "2026-11-01",
        "quantityQuantity": {"value": 2},
    }


@pytest.mark.parametrize("syntax", ["json", "xml"])
def test_a_service_request_issues_a_referral(
    client: TestClient, sessions, tmp_path: Path, syntax: str
) -> None:
    p = programme(sessions, tmp_path)
    resource = request_for(p)
    if syntax == "json":
        body, media = orjson.dumps(resource), "application/fhir+json"
    else:
        xml = ServiceRequest.model_validate(resource).model_dump_xml()
        body = xml.encode() if isinstance(xml, str) else xml
        media = "application/fhir+xml"
    answer = client.post(
        "/fhir/ServiceRequest",
        content=body,
        headers=auth(p.family_token, {"Content-Type": media, "Accept": "application/fhir+json"}),
    )
    assert answer.status_code == 201, answer.text
    made = answer.json()
    code = made["id"]
    assert referral_code_is_valid(code)
    assert answer.headers["location"] == f"/fhir/ServiceRequest/{code}"
    assert made["identifier"] == [{"system": systems.REFERRAL_CODE, "value": code}]
    assert (made["status"], made["occurrencePeriod"]) == (
        "active",
        {"start": "2026-11-01", "end": "2026-11-30"},
    )
    via_api = client.get(f"/v1/referrals/{code}", headers=auth(p.family_token)).json()
    assert (via_api["source"], via_api["visits"], via_api["specialty"]) == ("fhir", 2, "cardiology")
    (used,) = submit(client, p, specialist_visit(p, code, specialty="cardiology"))
    assert used["status"] == "ACCEPTED", used
    read = client.get(f"/fhir/ServiceRequest/{code}", headers=auth(p.specialist_token))
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "active"  # one of two visits left
    other = client.get(f"/fhir/ServiceRequest/{code}", headers=auth(p.other_token))
    assert other.status_code == 404
    assert other.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r.update(intent="plan"), "ServiceRequest.intent"),
        (lambda r: r.update(category=[{"text": "consult"}]), "ServiceRequest.category"),
        (lambda r: r.pop("reasonCode"), "ServiceRequest.reasonCode"),
        (lambda r: r["performerType"]["coding"].pop(0), "ServiceRequest.performerType"),
        (lambda r: r.update(contained=[]), "ServiceRequest.subject"),
    ],
)
def test_what_is_not_a_referral_is_refused(
    client: TestClient, sessions, tmp_path: Path, change: Any, where: str
) -> None:
    p = programme(sessions, tmp_path)
    resource = copy.deepcopy(request_for(p))
    change(resource)
    answer = client.post(
        "/fhir/ServiceRequest",
        content=orjson.dumps(resource),
        headers=auth(p.family_token, FHIR_JSON),
    )
    assert answer.status_code == 422, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(where in (issue.get("expression") or [""])[0] for issue in outcome["issue"]), outcome


def test_a_patient_off_the_list_is_refused(client: TestClient, sessions, tmp_path: Path) -> None:
    p = programme(sessions, tmp_path)
    resource = request_for(p)
    resource["contained"][0]["identifier"][0]["value"] = "0084575948"
    answer = client.post(
        "/fhir/ServiceRequest",
        content=orjson.dumps(resource),
        headers=auth(p.family_token, FHIR_JSON),
    )
    assert answer.status_code == 422
    assert "referral.not-on-list" in answer.text
