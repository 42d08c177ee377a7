"""Replacing a document by a corrected one (``replaces``), through submissions, batches and
the FHIR door, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.journal import WEBHOOK_TASK
from gateway.fhir import systems
from gateway.settings import Settings
from gateway.storage.models import OutboxMessage
from tests import factories as f
from tests.batches.test_batches import body_of, process, upload
from tests.fhir.claims import auth as fhir_auth
from tests.fhir.claims import claim, item
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, NEVER_REVIEW, submit_priced
from tests.submissions.test_submissions import JSON, XML, auth, price_all

LINES = [f.line("970000", 1, 700_000), f.line("800010", 2, 300_000)]


def visit(number: str | None = None, replaces: str | None = None, **kw: Any) -> dict[str, Any]:
    """An outpatient visit (its own patient), naming the document it replaces."""
    document = f.outpatient_visit(kw.pop("lines", LINES), number=number, **kw)
    if replaces is not None:
        # After documentNumber, as the XSD orders it (the XML form keeps the key order).
        body = document["outpatientVisit"]
        ordered = {"documentNumber": body.pop("documentNumber"), "replaces": replaces}
        document["outpatientVisit"] = {**ordered, **body}
    return document


def same_patient(document: dict[str, Any], patient: dict[str, str]) -> dict[str, Any]:
    (body,) = document.values()
    body["patient"] = patient
    return document


def send(
    client: TestClient, token: str, code: str, *documents: dict[str, Any], fmt: str = "json"
) -> list[dict[str, Any]]:
    data = f.submission(code, *documents)
    body = f.as_xml(data) if fmt == "xml" else f.as_json(data)
    media = JSON if fmt == "json" else XML
    answer = client.post("/v1/submissions", content=body, headers=auth(token, media))
    assert answer.status_code == 202, answer.text
    shown: list[dict[str, Any]] = answer.json()["documents"]
    return shown


def document(client: TestClient, token: str, document_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/documents/{document_id}", headers=auth(token))
    assert answer.status_code == 200, answer.text
    shown: dict[str, Any] = answer.json()
    return shown


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_replacement_reusing_the_number_voids_the_original(
    client: TestClient, sessions, fmt: str
) -> None:
    centre, token = f.make_centre(sessions)
    original = visit()
    patient = original["outpatientVisit"]["patient"]
    number = original["outpatientVisit"]["documentNumber"]
    (first,) = send(client, token, centre.code, original, fmt=fmt)
    assert first["status"] == "ACCEPTED"
    corrected = same_patient(visit(number, replaces=number, lines=LINES[:1]), patient)
    (second,) = send(client, token, centre.code, corrected, fmt=fmt)
    # The same services for the same patient: no possible-duplicate warning either.
    assert (second["outcome"], second["errors"], second["warnings"]) == ("ACCEPTED", [], []), second
    old = document(client, token, first["id"])
    assert old["status"] == "VOIDED"
    assert old["history"][-1]["reason"] == f"replaced by document {second['id']}"
    price_all(sessions, [first["id"], second["id"]])
    new = document(client, token, second["id"])
    assert new["status"] in f.PRICED_STATES
    assert new["external_id"] == number
    # Pricing takes the voided original for no earlier bill: nothing is a duplicate line.
    assert all(
        d["reason"] != "duplicate-line"
        for line in new["lines"]
        for d in line["pricing"]["deductions"]
    )
    assert document(client, token, first["id"])["totals"]["eligible"] is None


def test_a_replacement_under_another_number_frees_the_old_one(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    number = document(client, token, document_id)["external_id"]
    (replacement,) = send(client, token, centre.code, visit(replaces=number))
    assert replacement["status"] == "ACCEPTED", replacement
    voided = document(client, token, document_id)
    assert [e["to_status"] for e in voided["history"]][-2:] == ["UNDER_REVIEW", "VOIDED"]
    (again,) = send(client, token, centre.code, visit(number))
    assert again["status"] == "ACCEPTED", again


def test_an_approved_document_is_not_replaced(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, NEVER_REVIEW)
    number = document(client, token, document_id)["external_id"]
    (refused,) = send(client, token, centre.code, visit(number, replaces=number))
    assert refused["status"] == "REJECTED"
    codes = {p["code"]: p for p in refused["errors"]}
    problem = codes["replace.not-replaceable"]
    assert problem["path"] == "/documents/0/outpatientVisit/replaces"
    assert "/v1/documents/{id}/appeal" in problem["message"]
    assert "document.duplicate" in codes  # the number is still the approved one's
    assert document(client, token, document_id)["status"] == "APPROVED"


def test_an_unknown_original_is_refused_and_nothing_is_voided(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    (kept,) = send(client, token, centre.code, visit())
    (refused,) = send(client, token, centre.code, visit(replaces=f"NO-{uuid.uuid4().hex[:8]}"))
    assert refused["status"] == "REJECTED"
    assert [p["code"] for p in refused["errors"]] == ["replace.unknown"]
    assert refused["errors"][0]["path"] == "/documents/0/outpatientVisit/replaces"
    assert document(client, token, kept["id"])["status"] == "ACCEPTED"


def test_another_centres_number_is_unknown(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    other_centre, other = f.make_centre(sessions)
    (kept,) = send(client, token, centre.code, visit())
    (refused,) = send(client, other, other_centre.code, visit(replaces=kept["external_id"]))
    assert [p["code"] for p in refused["errors"]] == ["replace.unknown"]
    assert document(client, token, kept["id"])["status"] == "ACCEPTED"


def test_a_rejected_replacement_leaves_the_original(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    (original,) = send(client, token, centre.code, visit())
    number = original["external_id"]
    wrong = visit(number, replaces=number)
    wrong["outpatientVisit"]["totalAmount"] += 1  # document.total-mismatch
    (refused,) = send(client, token, centre.code, wrong)
    assert refused["status"] == "REJECTED"
    assert [p["code"] for p in refused["errors"]] == ["document.total-mismatch"]
    assert document(client, token, original["id"])["status"] == "ACCEPTED"
    # The original still holds its number.
    (duplicate,) = send(client, token, centre.code, visit(number))
    assert [p["code"] for p in duplicate["errors"]] == ["document.duplicate"]


def test_one_original_is_replaced_once(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    (original,) = send(client, token, centre.code, visit())
    number = original["external_id"]
    first, second = send(client, token, centre.code, visit(replaces=number), visit(replaces=number))
    assert first["status"] == "ACCEPTED", first
    assert second["status"] == "REJECTED"
    assert [p["code"] for p in second["errors"]] == ["replace.duplicate"]
    assert document(client, token, original["id"])["status"] == "VOIDED"
    (late,) = send(client, token, centre.code, visit(replaces=number))
    assert [p["code"] for p in late["errors"]] == ["replace.unknown"]


def test_the_original_is_voided_in_the_webhook_events(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    hook = client.post(
        "/v1/webhooks", json={"url": "https://his.example.org/events"}, headers=auth(token)
    ).json()
    (original,) = send(client, token, centre.code, visit())
    (replacement,) = send(client, token, centre.code, visit(replaces=original["external_id"]))
    with sessions() as session:
        events = [
            m.payload["event"]
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.task == WEBHOOK_TASK)
                .order_by(OutboxMessage.id)
            )
            if m.payload["webhook_id"] == hook["id"]
            and m.payload["event"]["data"]["document_id"] == original["id"]
        ]
    assert events[-1]["type"] == "document.voided"
    assert events[-1]["data"]["replaced_by"] == replacement["id"]
    assert events[-1]["data"]["from_status"] == "ACCEPTED"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_batch_replaces_as_a_submission_does(
    client: TestClient, sessions, settings: Settings, fmt: str
) -> None:
    centre, token = f.make_centre(sessions)
    (original,) = send(client, token, centre.code, visit())
    approved = submit_priced(client, sessions, token, centre.code, NEVER_REVIEW)
    approved_number = document(client, token, approved)["external_id"]
    number = original["external_id"]
    data = f.submission(
        centre.code,
        visit(number, replaces=number),
        visit(replaces=approved_number),
        visit(replaces="NO-SUCH-NUMBER"),
    )
    answer = upload(client, token, body_of(data, fmt), fmt)
    assert answer.status_code == 202, answer.text
    assert process(sessions, settings, answer.json()["id"]) == "done"
    acknowledged = client.get(
        f"/v1/batches/{answer.json()['id']}/acknowledgement", headers=auth(token)
    ).json()["documents"]
    assert [d["outcome"] for d in acknowledged] == ["ACCEPTED", "REJECTED", "REJECTED"]
    assert [p["code"] for p in acknowledged[1]["problems"]] == ["replace.not-replaceable"]
    assert [p["code"] for p in acknowledged[2]["problems"]] == ["replace.unknown"]
    assert document(client, token, original["id"])["status"] == "VOIDED"
    assert document(client, token, approved)["status"] == "APPROVED"


def test_a_fhir_claim_replaces_by_claim_related(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    national_id = f.new_national_id()
    number = f"FH-{uuid.uuid4().hex[:10]}"
    first = client.post(
        "/fhir/Claim",
        content=orjson.dumps(claim(national_id, [item(1, "970000", 1, 700_000)], number=number)),
        headers=fhir_auth(token),
    ).json()
    assert first["outcome"] == "queued", first
    related = [
        {
            "claim": {"identifier": {"system": "urn:example:his", "value": number}},
            "relationship": {
                "coding": [{"system": systems.RELATED_CLAIM_RELATIONSHIP, "code": "replaces"}]
            },
        }
    ]
    corrected = claim(national_id, [item(1, "970000", 1, 650_000)], number=number, related=related)
    second = client.post("/fhir/Claim", content=orjson.dumps(corrected), headers=fhir_auth(token))
    assert second.status_code in (200, 201), second.text
    assert second.json()["outcome"] == "queued", second.json()
    assert document(client, token, first["id"])["status"] == "VOIDED"
    assert document(client, token, second.json()["id"])["status"] == "ACCEPTED"
    # The same value under another system names another (unknown) document.
    elsewhere = [{**related[0], "claim": {"identifier": {"system": "urn:other", "value": number}}}]
    third = client.post(
        "/fhir/Claim",
        content=orjson.dumps(
            claim(national_id, [item(1, "970000", 1, 600_000)], related=elsewhere)
        ),
        headers=fhir_auth(token),
    ).json()
    assert third["outcome"] == "error"
    errors = [(e["code"]["coding"][0]["code"]) for e in third["error"]]
    assert errors == ["replace.unknown"]


def test_the_replaced_claims_response_is_cancelled(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    national_id = f.new_national_id()
    number = f"FH-{uuid.uuid4().hex[:10]}"
    first = client.post(
        "/fhir/Claim",
        content=orjson.dumps(claim(national_id, [item(1, "970000", 1, 700_000)], number=number)),
        headers=fhir_auth(token),
    ).json()
    price_all(sessions, [first["id"]], ALWAYS_REVIEW)
    related = [
        {
            "claim": {"identifier": {"system": "urn:example:his", "value": number}},
            "relationship": {"coding": [{"code": "replaces"}]},
        }
    ]
    corrected = claim(national_id, [item(1, "970000", 1, 650_000)], number=number, related=related)
    second = client.post("/fhir/Claim", content=orjson.dumps(corrected), headers=fhir_auth(token))
    assert second.json()["outcome"] == "queued", second.json()
    old = client.get(f"/fhir/ClaimResponse/{first['id']}", headers=fhir_auth(token, None)).json()
    assert (old["status"], old["outcome"]) == ("cancelled", "complete")
    assert "Voided" in old["disposition"]
    eob = client.get(
        f"/fhir/ExplanationOfBenefit/{first['id']}", headers=fhir_auth(token, None)
    ).json()
    assert eob["status"] == "cancelled"
    assert eob["payment"]["amount"]["value"] == 0


def test_a_related_claim_without_an_identifier_is_an_error(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    related = [
        {"claim": {"reference": "Claim/x"}, "relationship": {"coding": [{"code": "replaces"}]}}
    ]
    resource = claim(f.new_national_id(), [item(1, "970000", 1, 700_000)], related=related)
    answer = client.post("/fhir/Claim", content=orjson.dumps(resource), headers=fhir_auth(token))
    assert answer.json()["outcome"] == "error", answer.json()
    codes = [e["code"]["coding"][0]["code"] for e in answer.json()["error"]]
    assert codes == ["fhir.replaces-identifier-missing"]
