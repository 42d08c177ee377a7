"""Every Claim of the external FHIR corpus (tests/data/fhir) is taken and answered.

Each file is submitted whole: the 17 official R4 example Claims in JSON and in XML, and
each of two Synthea transaction Bundles (23 Claims). Every Claim gets a valid R4
ClaimResponse with amounts, right away and again on GET after pricing. None carries an
Iranian national ID, and all are years old: the door accepts them (``queued``), keeps
those problems as warnings, and pricing denies every line as ``patient-not-eligible``
(gateway/fhir/policy.py), so each ends ``partial`` with nothing payable. The one
preauthorization is priced the same way, as an estimate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse
from sqlalchemy.orm import Session, sessionmaker

from tests import factories as f
from tests.fhir.claims import CORPUS, FHIR_JSON, FHIR_XML, auth
from tests.submissions.test_submissions import price_all

pytestmark = pytest.mark.fhir_corpus

FILES = [
    *sorted((CORPUS / "examples-json").glob("Claim-*.json")),
    *sorted((CORPUS / "examples-xml").glob("claim-*.xml")),
    *sorted((CORPUS / "synthea").glob("*.json")),
]


# The one example that is not a bill (use = preauthorization), in JSON and in XML: it is
# priced as an estimate and answered with a preAuthRef.
ESTIMATES = {"Claim-100153.json", "claim-example-oral-orthoplan.xml"}


def claim_count(path: Path) -> int:
    if path.suffix == ".xml":
        return 1
    data = orjson.loads(path.read_bytes())
    if data["resourceType"] == "Claim":
        return 1
    return sum(1 for e in data["entry"] if e["resource"]["resourceType"] == "Claim")


def amounts(response: dict[str, Any]) -> dict[str, int]:
    """The response's adjudication amounts by category, item-level or header-level."""
    entries = [a for i in response.get("item", []) for a in i["adjudication"]]
    entries += response.get("adjudication", [])
    out: dict[str, int] = {}
    for entry in entries:
        assert entry["amount"]["currency"] == "IRR"
        code = entry["category"]["coding"][0]["code"]
        out[code] = out.get(code, 0) + entry["amount"]["value"]
    return out


def answered(data: dict[str, Any]) -> list[dict[str, Any]]:
    if data["resourceType"] == "Bundle":
        Bundle.model_validate(data)
        return [entry["resource"] for entry in data["entry"]]
    return [data]


def test_the_corpus_is_all_here() -> None:
    assert len(FILES) == 17 + 17 + 2
    assert sum(claim_count(path) for path in FILES) == 17 + 17 + 23


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_claim_of_a_corpus_file_is_answered_with_amounts(
    client: TestClient, sessions: sessionmaker[Session], path: Path
) -> None:
    _, token = f.make_centre(sessions)
    media = FHIR_XML if path.suffix == ".xml" else FHIR_JSON
    response = client.post(
        "/fhir/Claim/$submit", content=path.read_bytes(), headers=auth(token, media)
    )
    assert response.status_code == 200, response.text
    if media == FHIR_XML:  # an XML request is answered in XML
        data = orjson.loads(ClaimResponse.model_validate_xml(response.content).model_dump_json())
    else:
        data = response.json()
    responses = answered(data)
    assert len(responses) == claim_count(path)
    ids = []
    for posted in responses:
        ClaimResponse.model_validate(posted)
        assert "submitted" in amounts(posted)
        assert posted["outcome"] == "queued", posted.get("error")
        ids.append(posted["id"])
    price_all(sessions, ids)
    for document_id in ids:
        got = client.get(f"/fhir/ClaimResponse/{document_id}", headers=auth(token, None))
        assert got.status_code == 200, got.text
        resource = got.json()
        ClaimResponse.model_validate(resource)
        assert "error" not in resource
        assert resource["item"]  # every corpus Claim has items: amounts are per item
        figures = amounts(resource)
        assert figures["eligible"] == figures["benefit"] == figures["copay"] == 0
        assert figures.get("deduction", 0) == figures["submitted"]
        reasons = {
            a["reason"]["coding"][0]["code"]
            for item in resource["item"]
            for a in item["adjudication"]
            if "reason" in a
        }
        # A line asking for nothing has nothing to deduct, hence <=.
        assert reasons <= {"patient-not-eligible"}
        assert bool(reasons) == (figures["submitted"] > 0)
        assert resource["outcome"] == ("partial" if figures["submitted"] else "complete")
        if path.name in ESTIMATES:
            assert resource["use"] == "preauthorization"
            assert resource["preAuthRef"] == document_id
            assert resource["disposition"].startswith("Estimated (not a bill)")
        else:
            assert "preAuthRef" not in resource
        notes = " ".join(n["text"] for n in resource["processNote"])
        assert "warning fhir.patient-national-id-missing" in notes
        assert "warning date.submission-late" in notes
        assert "(/documents/" not in notes  # rules' paths point into the Claim
