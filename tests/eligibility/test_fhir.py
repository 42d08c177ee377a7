"""POST /fhir/CoverageEligibilityRequest/$submit: an R4 request in, an R4 response out,
valid for fhir.resources; refusals as OperationOutcomes."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.fhir import systems
from gateway.fhir.eligibility import EXAMPLE
from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage.models import AuditEntry, InsuredCoverage
from tests import factories as f
from tests.eligibility.test_api import centre_in, unregistered_person

PATH = "/fhir/CoverageEligibilityRequest/$submit"
FHIR_JSON = "application/fhir+json"


def send(client: TestClient, token: str, resource: Any, media: str = FHIR_JSON) -> Any:
    body = resource if isinstance(resource, bytes) else json.dumps(resource).encode()
    return client.post(
        PATH, content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": media}
    )


def request_for(
    national_id: str = "6383233564",
    number: str = "55501234",
    day: str = "2026-11-25",
    codes: tuple[str, ...] = ("970005", "600100"),
) -> dict[str, Any]:
    resource = copy.deepcopy(EXAMPLE)
    resource["contained"][0]["identifier"][0]["value"] = national_id
    resource["contained"][1]["identifier"][0]["value"] = number
    resource["servicedDate"] = day
    resource["item"] = [
        {"productOrService": {"coding": [{"system": systems.TARIFF_SERVICE, "code": code}]}}
        for code in codes
    ]
    return resource


def answered(client: TestClient, token: str, resource: Any) -> CoverageEligibilityResponse:
    answer = send(client, token, resource)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(FHIR_JSON)
    return CoverageEligibilityResponse.model_validate_json(answer.content)


def test_the_example_is_answered_with_a_valid_response(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = centre_in(sessions, "Tehran")
    CoverageEligibilityRequest.model_validate(EXAMPLE)
    response = answered(client, token, EXAMPLE)
    assert response.outcome == "complete"
    assert response.requestor is not None
    assert response.requestor.identifier is not None
    assert response.requestor.identifier.value == centre.code
    (insurance,) = response.insurance or []
    assert insurance.inforce is True
    assert insurance.benefitPeriod is not None
    assert str(insurance.benefitPeriod.start) == "2024-01-01"
    plan, visit, physio = insurance.item or []
    assert [(b.type.coding[0].code, b.allowedUnsignedInt) for b in plan.benefit or []] == [
        ("copay-percent", 30)
    ]
    assert visit.productOrService is not None
    assert visit.productOrService.coding[0].display == "Specialist visit"
    assert (visit.excluded, visit.authorizationRequired) == (False, True)
    quantity = (physio.benefit or [])[-1]
    assert (quantity.allowedUnsignedInt, quantity.usedUnsignedInt) == (10, 0)
    with sessions() as session:
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == response.id)
        ).one()
    assert audited.details["door"] == "fhir"
    assert "6383233564" not in json.dumps(audited.details)


def test_xml_in_and_out(client: TestClient, sessions: sessionmaker[Session]) -> None:
    _, token = f.make_centre(sessions)
    xml = CoverageEligibilityRequest.model_validate(request_for()).model_dump_xml()
    answer = send(
        client, token, xml if isinstance(xml, bytes) else xml.encode(), "application/fhir+xml"
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+xml")
    assert b"<CoverageEligibilityResponse" in answer.content


def test_a_coverage_ended_and_an_excluded_item(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    person = unregistered_person()
    with transaction(sessions) as session:
        session.add(
            InsuredCoverage(
                national_id=person,
                insurance_number="700100201",
                valid_from=date(2026, 1, 1),
                valid_to=date(2026, 11, 15),
            )
        )
    _, token = f.make_centre(sessions)
    before = answered(client, token, request_for(person, "700100201", "2026-11-15", ("300100",)))
    (insurance,) = before.insurance or []
    assert insurance.inforce is True
    assert str(insurance.benefitPeriod.end) == "2026-11-15"  # type: ignore[union-attr]
    bed = (insurance.item or [])[1]
    assert bed.excluded is True  # inpatient only, asked as outpatient
    assert "not-for-setting" in (bed.description or "")
    after = answered(client, token, request_for(person, "700100201", "2026-11-16", ()))
    (insurance,) = after.insurance or []
    assert insurance.inforce is False
    assert "patient.not-eligible" in (after.disposition or "")


def test_another_centre_named_as_provider_is_refused(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    other, _ = f.make_centre(sessions)
    resource = request_for()
    resource["provider"] = {"identifier": {"system": systems.CENTRE_CODE, "value": other.code}}
    answer = send(client, token, resource)
    assert answer.status_code == 403
    outcome = OperationOutcome.model_validate_json(answer.content)
    assert outcome.issue[0].code == "forbidden"


def test_structural_and_semantic_problems_are_operation_outcomes(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    missing = request_for()
    del missing["patient"]
    del missing["status"]
    answer = send(client, token, missing)
    assert answer.status_code == 422
    where = {i.expression[0] for i in OperationOutcome.model_validate_json(answer.content).issue}
    assert {"CoverageEligibilityRequest.patient", "CoverageEligibilityRequest.status"} <= where
    unusable = request_for()
    unusable["extension"][0]["valueCode"] = "bogus"
    unusable["item"].append({"productOrService": {"coding": [{"system": "x", "code": "1"}]}})
    unusable["contained"][1]["identifier"][0]["value"] = "12"
    answer = send(client, token, unusable)
    assert answer.status_code == 422
    issues = OperationOutcome.model_validate_json(answer.content).issue
    assert {i.expression[0] for i in issues} == {
        "CoverageEligibilityRequest.insurance",
        "CoverageEligibilityRequest.extension[0]",
        "CoverageEligibilityRequest.item[2].productOrService",
    }
    claim = send(client, token, {"resourceType": "Claim"})
    assert claim.status_code == 422
    assert send(client, token, b"{", FHIR_JSON).status_code == 422
    assert send(client, token, request_for(), "text/plain").status_code == 415
    staff = send(client, f.make_staff_token(sessions), request_for())
    assert staff.status_code == 403
    assert send(client, "nope", request_for()).status_code == 401


def test_the_capability_statement_lists_the_operation(client: TestClient) -> None:
    statement = CapabilityStatement.model_validate_json(client.get("/fhir/metadata").content)
    (rest,) = statement.rest
    (found,) = [r for r in rest.resource if r.type == "CoverageEligibilityRequest"]
    assert [o.name for o in found.operation or []] == ["submit"]


def test_the_documented_examples_are_answered(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """The OpenAPI examples of both doors, JSON and XML, are requests that get answers."""
    _, token = f.make_centre(sessions)
    document = client.app.openapi()  # type: ignore[attr-defined]
    operation = document["paths"][PATH]["post"]
    for media, content in operation["requestBody"]["content"].items():
        example = content["example"]
        body = json.dumps(example) if isinstance(example, dict) else example
        answer = send(client, token, body.encode(), media)
        assert answer.status_code == 200, (media, answer.text)
    schema = document["components"]["schemas"]["EligibilityIn"]
    answer = client.post(
        "/v1/eligibility", json=schema["examples"][0], headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text


def test_both_doors_spend_one_eligibility_budget(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    slow = settings.model_copy(update={"eligibility_per_minute": 1})
    _, token = f.make_centre(sessions)
    body = {"national_id": "6383233564", "insurance_number": "55501234"}
    with TestClient(create_app(slow, relay=False)) as limited:
        first = limited.post(
            "/v1/eligibility",
            json={**body, "service_date": "2026-11-25"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert first.status_code == 200
        refused = send(limited, token, request_for())
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    (issue,) = OperationOutcome.model_validate_json(refused.content).issue
    assert "rate-limited" in (issue.diagnostics or "")
