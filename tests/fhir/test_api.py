"""The FHIR door end to end in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.centres import Role
from gateway.fhir import systems
from gateway.storage.models import Document, Submission
from tests import factories as f
from tests.fhir.claims import FHIR_XML, auth, claim, item
from tests.submissions.test_submissions import POLICIES, price_all


def categories(adjudications: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in adjudications:
        code = entry["category"]["coding"][0]["code"]
        assert entry["amount"]["currency"] == "IRR"
        out[code] = out.get(code, 0) + entry["amount"]["value"]
    return out


def outcome_issues(response: Any) -> list[tuple[str, str]]:
    """(expression, code) of an OperationOutcome answer, checked as R4."""
    outcome = OperationOutcome.model_validate(response.json())
    assert all(issue.severity == "error" for issue in outcome.issue)
    return [((issue.expression or [""])[0], issue.code) for issue in outcome.issue]


def assert_lines_match(got: dict[str, Any], document: dict[str, Any]) -> None:
    """Each item's adjudication is its line's pricing in GET /v1/documents."""
    for answered, line in zip(got["item"], document["lines"], strict=True):
        pricing = line["pricing"]
        assert answered["itemSequence"] == line["line_no"]
        assert categories(answered["adjudication"]) == {
            "submitted": pricing["requested"],
            "eligible": pricing["eligible"],
            "copay": pricing["copayment"],
            "benefit": pricing["insurer_share"],
            **({"deduction": sum(d["amount"] for d in pricing["deductions"])}
               if pricing["deductions"] else {}),
        }  # fmt: skip
        reasons = [
            a["reason"]["coding"][0]["code"] for a in answered["adjudication"] if "reason" in a
        ]
        assert reasons == [d["reason"] for d in pricing["deductions"]]


def test_a_claim_in_our_systems_is_priced_with_the_documents_amounts(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    items = [item(1, "970000", 1, 800_000), item(2, "800010", 2, 300_000)]
    items.append(item(3, "999999", 1, 50_000))
    resource = claim(f.new_national_id(), items)
    response = client.post(
        "/fhir/Claim/$submit", content=orjson.dumps(resource), headers=auth(token)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    answer = ClaimResponse.model_validate(response.json())
    assert answer.outcome == "queued"
    assert response.headers["location"] == f"/fhir/ClaimResponse/{answer.id}"
    assert answer.request.reference == f"Claim/{resource['id']}"
    assert [categories(i["adjudication"]) for i in response.json()["item"]] == [
        {"submitted": 800_000},
        {"submitted": 600_000},
        {"submitted": 50_000},
    ]

    price_all(sessions, [answer.id])
    got = client.get(f"/fhir/ClaimResponse/{answer.id}", headers=auth(token, None)).json()
    ClaimResponse.model_validate(got)
    document = client.get(f"/v1/documents/{answer.id}", headers=auth(token, None)).json()
    assert document["status"] in f.PRICED_STATES
    assert got["outcome"] == "partial"
    totals = document["totals"]
    assert categories(got["total"]) == {
        "submitted": totals["requested"],
        "eligible": totals["eligible"],
        "deduction": totals["deductions"],
        "copay": totals["copayment"],
        "benefit": totals["insurer_share"],
    }
    assert totals["requested"] == 1_450_000
    assert totals["insurer_share"] == 936_600
    assert_lines_match(got, document)
    assert [len(i["adjudication"]) for i in got["item"]] == [5, 4, 5]


def test_a_bundle_is_answered_with_a_collection_of_claim_responses(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    good = claim(None, [item(1, "970000", 1, 700_000)])
    good["contained"] = good["contained"][1:]
    good["patient"] = {"reference": "urn:uuid:5b0c3bde-1f1e-4c07-9a65-1f4e2e6e8c01"}
    unknown = claim(None, [item(1, "970000", 1, 700_000)])
    unknown["contained"] = []
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:5b0c3bde-1f1e-4c07-9a65-1f4e2e6e8c01",
                "resource": claim(f.new_national_id(), [])["contained"][0],
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": good, "request": {"method": "POST", "url": "Claim"}},
            {"resource": unknown, "request": {"method": "POST", "url": "Claim"}},
        ],
    }
    response = client.post("/fhir/Claim", content=orjson.dumps(bundle), headers=auth(token))
    assert response.status_code == 200, response.text
    answer = Bundle.model_validate(response.json())
    assert answer.type == "collection"
    first, second = (entry["resource"] for entry in response.json()["entry"])
    # A Claim whose patient has no national ID is taken in; pricing denies its lines.
    assert (first["outcome"], second["outcome"]) == ("queued", "queued")
    assert first["patient"]["identifier"]["system"] == systems.NATIONAL_ID
    assert "error" not in second
    notes = [note["text"] for note in second["processNote"]]
    for code in ("fhir.patient-national-id-missing", "fhir.patient-insurance-number-missing"):
        (note,) = [n for n in notes if n.startswith(f"warning {code}:")]
        assert "pricing denies the lines it concerns (patient-not-eligible)" in note
    assert any("fhir.physician-missing" in note for note in notes)
    assert categories(second["item"][0]["adjudication"]) == {"submitted": 700_000}
    price_all(sessions, [first["id"], second["id"]])
    priced = client.get(f"/fhir/ClaimResponse/{second['id']}", headers=auth(token)).json()
    assert priced["outcome"] == "partial"
    (adjudication,) = [i["adjudication"] for i in priced["item"]]
    assert categories(adjudication) == {
        "submitted": 700_000,
        "eligible": 0,
        "deduction": 700_000,
        "copay": 0,
        "benefit": 0,
    }
    (reason,) = [a["reason"]["coding"][0]["code"] for a in adjudication if "reason" in a]
    assert reason == "patient-not-eligible"
    paid = client.get(f"/fhir/ClaimResponse/{first['id']}", headers=auth(token)).json()
    assert categories(paid["item"][0]["adjudication"])["benefit"] > 0


def test_a_structurally_invalid_claim_gets_422_with_every_location(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    resource = claim(f.new_national_id(), [item(1, "970000", 1, 10), item(2, "970000", 1, 10)])
    del resource["status"]
    resource["item"][0]["quantity"] = "three"
    response = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/fhir+json"
    assert sorted(outcome_issues(response)) == [
        ("Claim.item[0].quantity", "structure"),
        ("Claim.status", "structure"),
    ]
    xml = b'<Claim xmlns="http://hl7.org/fhir"><type><text value="x"/></type></Claim>'
    response = client.post("/fhir/Claim", content=xml, headers=auth(token, FHIR_XML))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(FHIR_XML)
    assert OperationOutcome.model_validate_xml(response.content).issue[0].expression == [
        "Claim.status"
    ]
    with sessions() as session:
        stored = select(func.count()).where(Submission.centre_id == centre.id)
        assert session.scalar(stored) == 0


def test_another_centre_gets_404_and_an_auditor_sees_every_claim_response(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, owner = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    resource = claim(f.new_national_id(), [item(1, "970000", 1, 700_000)])
    posted = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(owner))
    url = f"/fhir/ClaimResponse/{posted.json()['id']}"
    assert client.get(url, headers=auth(owner, None)).status_code == 200
    refused = client.get(url, headers=auth(other, None))
    assert refused.status_code == 404
    assert outcome_issues(refused) == [("", "not-found")]
    auditor = f.make_staff_token(sessions, Role.AUDITOR)
    assert client.get(url, headers=auth(auditor, None)).json()["id"] == posted.json()["id"]
    for missing in (f"/fhir/ClaimResponse/{uuid.uuid4()}", "/fhir/ClaimResponse/not-a-uuid"):
        assert client.get(missing, headers=auth(owner, None)).status_code == 404


def test_xml_in_is_answered_in_xml_and_get_negotiates(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    resource = claim(f.new_national_id(), [item(1, "970000", 1, 700_000)])
    body = Claim.model_validate(resource).model_dump_xml()
    response = client.post("/fhir/Claim/$submit", content=body, headers=auth(token, FHIR_XML))
    assert response.status_code == 200, response.text
    answer = ClaimResponse.model_validate_xml(response.content)
    assert answer.outcome == "queued"
    url = f"/fhir/ClaimResponse/{answer.id}"
    as_xml = client.get(url, headers=auth(token, None, Accept=FHIR_XML))
    assert ClaimResponse.model_validate_xml(as_xml.content).id == answer.id
    as_json = client.get(f"{url}?_format=json", headers=auth(token, None, Accept=FHIR_XML))
    assert as_json.json()["id"] == answer.id


def test_refusals_are_operation_outcomes(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    body = orjson.dumps(claim(f.new_national_id(), [item(1, "970000", 1, 10)]))
    no_token = client.post(
        "/fhir/Claim", content=body, headers={"Content-Type": "application/json"}
    )
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"] == "Bearer"
    assert outcome_issues(no_token) == [("", "login")]
    plain = client.post("/fhir/Claim", content=body, headers=auth(token, "text/plain"))
    assert (plain.status_code, outcome_issues(plain)) == (415, [("", "not-supported")])
    auditor = f.make_staff_token(sessions, Role.AUDITOR)
    forbidden = client.post("/fhir/Claim", content=body, headers=auth(auditor))
    assert (forbidden.status_code, outcome_issues(forbidden)) == (403, [("", "forbidden")])
    huge = b" " * (9 * 1024 * 1024) + body
    too_large = client.post("/fhir/Claim", content=huge, headers=auth(token))
    assert (too_large.status_code, outcome_issues(too_large)) == (413, [("", "too-costly")])


def test_a_resent_claim_is_a_duplicate(client: TestClient, sessions: sessionmaker[Session]) -> None:
    _, token = f.make_centre(sessions)
    body = orjson.dumps(claim(f.new_national_id(), [item(1, "970000", 1, 700_000)]))
    first = client.post("/fhir/Claim", content=body, headers=auth(token)).json()
    second = client.post("/fhir/Claim", content=body, headers=auth(token)).json()
    assert first["outcome"] == "queued"
    assert second["outcome"] == "error"
    assert [e["code"]["coding"][0]["code"] for e in second["error"]] == ["document.duplicate"]


def test_a_document_sent_as_json_form_has_a_claim_response_too(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code)),
        headers=auth(token, "application/json"),
    ).json()
    document_id = answer["documents"][0]["id"]
    got = client.get(f"/fhir/ClaimResponse/{document_id}", headers=auth(token, None)).json()
    ClaimResponse.model_validate(got)
    assert got["outcome"] == "queued"
    assert got["request"]["identifier"]["value"] == answer["documents"][0]["external_id"]
    assert [i["itemSequence"] for i in got["item"]] == [1, 2]


def test_an_xml_bundle_is_answered_with_an_xml_bundle(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    person = claim(f.new_national_id(), [])["contained"][0]
    claims = [claim(None, [item(1, "970000", 1, 700_000)]) for _ in range(2)]
    for each in claims:
        each["contained"] = each["contained"][1:]
        each["patient"] = {"reference": "Patient/pat"}
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"fullUrl": "https://his.example/fhir/Patient/pat", "resource": person},
            *({"resource": each} for each in claims),
        ],
    }
    body = Bundle.model_validate(bundle).model_dump_xml()
    response = client.post("/fhir/Claim", content=body, headers=auth(token, FHIR_XML))
    assert response.status_code == 200, response.text
    answer = Bundle.model_validate_xml(response.content)
    outcomes = [entry.resource.outcome for entry in answer.entry]
    assert outcomes == ["queued", "queued"]
    again = client.get(
        f"/fhir/ClaimResponse/{answer.entry[1].resource.id}", headers=auth(token, None)
    ).json()
    assert again["request"]["reference"] == f"Claim/{claims[1]['id']}"


def test_a_late_claim_is_taken_in_and_its_lines_denied_as_late(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Filed 123 days after care (the window is 90): at /v1 a rejection, at this door the
    Claim is accepted with the problem as a warning and pricing denies every line, from
    the stored receipt day (the pinned clock in tests) and the service date."""
    _, token = f.make_centre(sessions)
    resource = claim(
        f.new_national_id(),
        [item(1, "970000", 1, 700_000, servicedDate="2026-07-23")],
        start="2026-07-23",
    )
    posted = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    assert posted.status_code == 200, posted.text
    answer = posted.json()
    assert answer["outcome"] == "queued"
    (note,) = [n["text"] for n in answer["processNote"] if "date.submission-late" in n["text"]]
    assert "pricing denies the lines it concerns (submission-late)" in note
    price_all(sessions, [answer["id"]])
    priced = client.get(f"/fhir/ClaimResponse/{answer['id']}", headers=auth(token)).json()
    (adjudication,) = [i["adjudication"] for i in priced["item"]]
    assert categories(adjudication)["benefit"] == 0
    (reason,) = [a["reason"]["coding"][0]["code"] for a in adjudication if "reason" in a]
    assert reason == "submission-late"


def test_a_claim_inside_the_window_is_paid(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """The same Claim filed on the 90th day after care is paid."""
    _, token = f.make_centre(sessions)
    resource = claim(
        f.new_national_id(),
        [item(1, "970000", 1, 700_000, servicedDate="2026-08-25")],
        start="2026-08-25",
    )
    posted = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    answer = posted.json()
    assert "processNote" not in answer or not any(
        "submission-late" in n["text"] for n in answer["processNote"]
    )
    price_all(sessions, [answer["id"]])
    priced = client.get(f"/fhir/ClaimResponse/{answer['id']}", headers=auth(token)).json()
    assert categories(priced["item"][0]["adjudication"])["benefit"] > 0


def test_a_preauthorization_is_priced_as_an_estimate_and_never_reviewed(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Planned care (next month): the dates are warnings, the lines are priced, the answer
    carries a preAuthRef, and the document stays PRICED: no review, no settlement."""
    _, token = f.make_centre(sessions)
    resource = claim(
        f.new_national_id(),
        [item(1, "970000", 1, 700_000, servicedDate="2026-12-15")],
        start="2026-12-15",
        use="preauthorization",
        number="HIS-PLAN-1",
    )
    posted = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    assert posted.status_code == 200, posted.text
    answer = posted.json()
    assert (answer["outcome"], answer["use"]) == ("queued", "preauthorization")
    (note,) = [n["text"] for n in answer["processNote"] if "date.in-future" in n["text"]]
    assert "an estimate is not a bill" in note
    price_all(sessions, [answer["id"]])
    priced = client.get(f"/fhir/ClaimResponse/{answer['id']}", headers=auth(token)).json()
    assert priced["preAuthRef"] == answer["id"]
    assert priced["disposition"].startswith("Estimated (not a bill)")
    figures = categories(priced["item"][0]["adjudication"])
    assert figures["eligible"] == 700_000
    assert figures["benefit"] > 0
    document = client.get(f"/v1/documents/{answer['id']}", headers=auth(token)).json()
    assert (document["purpose"], document["status"]) == ("preauthorization", "PRICED")
    assert document["external_id"] == "PA/HIS-PLAN-1"
    assert document["review"] is None
    assert [e["to_status"] for e in document["history"]] == ["RECEIVED", "ACCEPTED", "PRICED"]
    remittance = client.get(f"/v1/documents/{answer['id']}/remittance", headers=auth(token))
    assert remittance.json()["purpose"] == "preauthorization"
    eob = client.get(f"/fhir/ExplanationOfBenefit/{answer['id']}", headers=auth(token)).json()
    assert eob["use"] == "preauthorization"
    assert eob["disposition"].startswith("estimate (preauthorization), not a bill")


def test_the_bill_after_an_estimate_is_neither_a_duplicate_nor_already_paid(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, token = f.make_centre(sessions)
    lines = [item(1, "970000", 1, 700_000, servicedDate="2026-11-20")]
    ids = []
    person = f.new_national_id()  # one patient: the estimate, then the bill
    for use in ("predetermination", "claim"):
        resource = claim(person, lines, start="2026-11-20", use=use, number="HIS-77")
        posted = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
        answer = posted.json()
        assert answer["outcome"] == "queued", answer
        ids.append(answer["id"])
        price_all(sessions, [answer["id"]])
    bill = client.get(f"/fhir/ClaimResponse/{ids[1]}", headers=auth(token)).json()
    assert "preAuthRef" not in bill
    assert not any("possible-duplicate" in n["text"] for n in bill.get("processNote", []))
    figures = categories(bill["item"][0]["adjudication"])
    assert figures["eligible"] == 700_000
    assert "deduction" not in figures
    document = client.get(f"/v1/documents/{ids[1]}", headers=auth(token)).json()
    assert (document["purpose"], document["external_id"]) == ("claim", "HIS-77")


def test_pricing_counts_the_filing_day_from_the_submissions_receipt(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """With the real clock, the day of receipt is the submission's (stored), so a document
    priced long after it came is judged by when it came: here received on 2027-03-01, 111
    days after care, its line is denied as late."""
    _, token = f.make_centre(sessions)
    resource = claim(
        f.new_national_id(), [item(1, "970000", 1, 700_000, servicedDate="2026-11-10")]
    )
    answer = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token)).json()
    with sessions.begin() as session:
        document = session.get(Document, uuid.UUID(answer["id"]))
        assert document is not None
        submission = session.get(Submission, document.submission_id)
        assert submission is not None
        submission.received_at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    price_all(sessions, [answer["id"]], dataclasses.replace(POLICIES, clock_date=None))
    priced = client.get(f"/fhir/ClaimResponse/{answer['id']}", headers=auth(token)).json()
    (reason,) = [
        a["reason"]["coding"][0]["code"] for a in priced["item"][0]["adjudication"] if "reason" in a
    ]
    assert reason == "submission-late"


def test_an_estimate_cannot_be_approved_by_an_auditor_nor_paid(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """PRICED -> APPROVED is a move of the lifecycle (pricing's, for a bill); an auditor's
    decision on an estimate is refused, so it can never reach a payment order."""
    _, token = f.make_centre(sessions)
    resource = claim(
        f.new_national_id(),
        [item(1, "970000", 1, 700_000, servicedDate="2026-12-15")],
        start="2026-12-15",
        use="predetermination",
        number="HIS-PLAN-2",
    )
    answer = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=auth(token))
    document_id = answer.json()["id"]
    price_all(sessions, [document_id])
    auditor = f.make_staff_token(sessions, Role.AUDITOR)
    decided = client.post(
        f"/v1/documents/{document_id}/decision",
        json={"decision": "approve", "reason": "looks fine"},
        headers=auth(auditor),
    )
    assert decided.status_code == 409, decided.text
    (error,) = decided.json()["errors"]
    assert error["code"] == "document.estimate"
    document = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert document["status"] == "PRICED"
