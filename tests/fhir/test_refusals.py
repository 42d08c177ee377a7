"""What the FHIR door refuses with a 422 OperationOutcome instead of failing (500) or
answering invalid FHIR: contained resources of no R4 type or of none at all, an unknown
Claim.use, and numbers past every bound. JSON and XML doors agree."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.storage.models import Submission
from tests import factories as f
from tests.fhir.claims import FHIR_XML, auth, claim, item


def a_claim(**extra: Any) -> dict[str, Any]:
    return claim(f.patient()["nationalId"], [item(1, "970000", 1, 700_000)], **extra)


def as_xml(resource: dict[str, Any], contained: bytes = b"") -> bytes:
    """The Claim in FHIR XML, with raw ``contained`` XML put in after its id."""
    text = Claim.model_validate(resource).model_dump_xml()
    xml = text.encode() if isinstance(text, str) else text
    head, tail = xml.split(b"/>", 1)  # the end of <id value="..."/>, the first element
    return head + b"/>" + contained + tail


def issues(answer: Any) -> list[tuple[str, str]]:
    assert answer.status_code == 422, answer.text
    media = answer.headers["content-type"]
    if media.startswith(FHIR_XML):
        outcome = OperationOutcome.model_validate_xml(answer.content)
    else:
        outcome = OperationOutcome.model_validate(answer.json())
    return [((issue.expression or [""])[0], issue.code) for issue in outcome.issue]


def stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Submission)) or 0


@pytest.mark.parametrize(
    ("contained", "code"),
    [
        ({"resourceType": "ReferralRequest", "id": "ref", "status": "active"}, "not-supported"),
        ({"resourceType": "Foo"}, "not-supported"),
        ({"resourceType": 5}, "not-supported"),
        ({"id": "nameless"}, "structure"),
    ],
)
def test_a_contained_resource_of_no_r4_type_is_refused(
    client: TestClient, sessions: sessionmaker[Session], contained: dict[str, Any], code: str
) -> None:
    _, token = f.make_centre(sessions)
    before = stored(sessions)
    resource = a_claim()
    resource["contained"].append(contained)
    answer = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    assert issues(answer) == [("Claim.contained[2]", code)]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": resource}],
    }
    answer = client.post("/fhir/Claim", content=orjson.dumps(bundle), headers=auth(token))
    assert issues(answer) == [("Bundle.entry[0].resource.contained[2]", code)]
    assert stored(sessions) == before


def test_the_xml_door_refuses_a_dstu3_contained_resource(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    referral = b'<contained><ReferralRequest><id value="ref"/></ReferralRequest></contained>'
    body = as_xml(a_claim(), referral)
    answer = client.post("/fhir/Claim", content=body, headers=auth(token, FHIR_XML))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(FHIR_XML)


def test_an_unknown_use_is_refused_by_both_doors(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    before = stored(sessions)
    resource = a_claim(use="complete")  # a DSTU3 code
    answer = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    assert issues(answer) == [("Claim.use", "code-invalid")]
    xml = as_xml(a_claim())
    xml = xml.replace(b'<use value="claim"/>', b'<use value="complete"/>')
    answer = client.post("/fhir/Claim", content=xml, headers=auth(token, FHIR_XML))
    assert answer.status_code == 422, answer.text
    assert any("use" in where for where, _ in issues(answer))
    assert stored(sessions) == before


@pytest.mark.parametrize(
    ("quantity", "price", "outcome"),
    [(10**40, 1000, "queued"), (1e300, 1000, "queued"), (1, 10**40, "error"), (1, 1e300, "error")],
)
def test_numbers_past_every_bound_are_fitted_or_refused(
    client: TestClient, sessions: sessionmaker[Session], quantity: Any, price: Any, outcome: str
) -> None:
    """A quantity is fitted to its bound with a warning; a price past the rials a column
    holds is an error of the claim (both used to be a 500 past 28 digits)."""
    _, token = f.make_centre(sessions)
    resource = a_claim()
    resource["item"][0]["quantity"] = {"value": quantity}
    resource["item"][0]["unitPrice"] = {"value": price, "currency": "IRR"}
    answer = client.post("/fhir/Claim", content=json.dumps(resource), headers=auth(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == outcome


def test_the_same_value_under_another_system_is_another_document(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """An identifier is (system, value): the same value under another system is not a
    duplicate, the same pair again is; in one Bundle as across requests."""
    _, token = f.make_centre(sessions)

    def post(*systems: str) -> list[str]:
        resources = []
        for system in systems:
            resource = a_claim(number="HIS-SAME")
            resource["identifier"][0]["system"] = system
            resources.append(resource)
        body: dict[str, Any] = resources[0]
        if len(resources) > 1:
            entries = [{"fullUrl": f"urn:uuid:{n}", "resource": r} for n, r in enumerate(resources)]
            body = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        answer = client.post("/fhir/Claim", content=orjson.dumps(body), headers=auth(token))
        assert answer.status_code == 200, answer.text
        found = answer.json()
        responses = [e["resource"] for e in found.get("entry", [])] or [found]
        return [response["outcome"] for response in responses]

    assert post("urn:example:his-a") == ["queued"]
    assert post("urn:example:his-b") == ["queued"]
    assert post("urn:example:his-a") == ["error"]  # the same identifier again
    assert post("urn:example:his-c", "urn:example:his-d") == ["queued", "queued"]
    assert post("urn:example:his-e", "urn:example:his-e") == ["queued", "error"]
