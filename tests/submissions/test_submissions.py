"""The submission API end to end in-process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.centres import CentreKind, Role, Sector
from gateway.kit.db import transaction
from gateway.pricing.engine.adjudicate import CopayPolicy
from gateway.pricing.engine.review import ReviewPolicy
from gateway.pricing.service import Policies, TariffCache, price_stored_document
from gateway.schemas import SubmissionOut
from gateway.storage.models import (
    Document,
    DocumentLine,
    LinePricing,
    OutboxMessage,
    RawPayload,
    StatusEvent,
    Submission,
)
from tests import factories as f

XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json"}
TABLES = (Submission, RawPayload, Document, DocumentLine, StatusEvent, OutboxMessage)


def auth(token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **(extra or {})}


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES
        }


POLICIES = Policies(
    copay=CopayPolicy(),
    review=ReviewPolicy(),
    clock_date=f.TODAY,
)


def price_all(
    sessions: sessionmaker[Session], ids: list[str], policies: Policies = POLICIES
) -> None:
    books = TariffCache()
    for document_id in ids:
        with transaction(sessions) as session:
            price_stored_document(
                session=session,
                document_id=uuid.UUID(document_id),
                books=books,
                policies=policies,
            )


def test_xml_and_json_end_priced_with_identical_amounts(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    data = f.submission(
        centre.code,
        f.outpatient_visit(
            [
                f.line("970000", 1, 800_000),
                f.line("800010", 2, 300_000),
                f.line("999999", 1, 50_000),
            ]
        ),
        f.inpatient_bill([f.line("300100", 3, 5_000_000), f.line("2001007", 4, 60_000, "drug")]),
    )
    totals = []
    for body, headers in ((f.as_xml(data), XML), (f.as_json(f.renumbered(data)), JSON)):
        response = client.post("/v1/submissions", content=body, headers=auth(token, headers))
        assert response.status_code == 202, response.text
        answer = response.json()
        assert response.headers["location"] == f"/v1/submissions/{answer['id']}"
        assert answer["status"] == "ACCEPTED"
        assert [d["status"] for d in answer["documents"]] == ["ACCEPTED", "ACCEPTED"]
        ids = [d["id"] for d in answer["documents"]]
        price_all(sessions, ids)
        details = [client.get(f"/v1/documents/{i}", headers=auth(token)).json() for i in ids]
        assert all(d["status"] in f.PRICED_STATES for d in details)
        totals.append([(d["totals"], [ln["pricing"] for ln in d["lines"]]) for d in details])
    assert totals[0] == totals[1]
    visit_totals, visit_lines = totals[0][0]
    # 970000: 1.5 x 492000 = 738000 (62000 above tariff); 800010: 379200 per unit, 300000
    # asked; 999999 not in the tariff. Private contracted outpatient: 30% co-payment.
    assert visit_totals == {
        "requested": 1_450_000,
        "eligible": 1_338_000,
        "deducted": 112_000,
        "deductions": 112_000,
        "copayment": 401_400,
        "insurer_share": 936_600,
    }
    assert [d["reason"] for d in visit_lines[2]["deductions"]] == ["not-in-tariff"]


def test_submission_and_document_history(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    answer = client.post(
        "/v1/submissions", content=f.as_json(f.submission(centre.code)), headers=auth(token, JSON)
    ).json()
    again = client.get(answer["url"], headers=auth(token)).json()
    assert again["id"] == answer["id"]
    assert again["documents"] == answer["documents"]
    document = client.get(answer["documents"][0]["url"], headers=auth(token)).json()
    assert [(e["from_status"], e["to_status"]) for e in document["history"]] == [
        (None, "RECEIVED"),
        ("RECEIVED", "ACCEPTED"),
    ]
    with sessions() as session:
        raw = session.scalars(
            select(RawPayload).where(RawPayload.submission_id == uuid.UUID(answer["id"]))
        ).one()
        assert raw.body == f.as_json(f.submission(centre.code)) or raw.size > 0
        pricing = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.task == "gateway.price_documents")
        ).all()
        assert [m for m in pricing if document["id"] in m["document_ids"]] == [
            {"document_ids": [document["id"]]}
        ]


def test_another_centre_gets_404(client: TestClient, sessions) -> None:
    owner, owner_token = f.make_centre(sessions)
    _, other_token = f.make_centre(sessions)
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(owner.code)),
        headers=auth(owner_token, JSON),
    ).json()
    for url in (answer["url"], answer["documents"][0]["url"]):
        response = client.get(url, headers=auth(other_token))
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not-found"
        assert client.get(url, headers=auth(owner_token)).status_code == 200
    auditor = f.make_staff_token(sessions, Role.AUDITOR)
    assert client.get(answer["documents"][0]["url"], headers=auth(auditor)).status_code == 200
    assert client.get("/v1/documents/not-a-uuid", headers=auth(owner_token)).status_code == 404


def test_partial_acceptance_lists_each_document(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    bad = f.outpatient_visit()
    bad["outpatientVisit"]["patient"]["nationalId"] = "0013542418"
    data = f.submission(centre.code, f.outpatient_visit(), bad)
    answer = client.post("/v1/submissions", content=f.as_xml(data), headers=auth(token, XML)).json()
    assert answer["status"] == "PARTIALLY_ACCEPTED"
    assert [d["status"] for d in answer["documents"]] == ["ACCEPTED", "REJECTED"]
    (error,) = answer["documents"][1]["errors"]
    assert error["code"] == "patient.national-id-checksum"
    assert error["path"] == "/submission/documents/outpatientVisit[2]/patient/nationalId"
    assert error["line"] > 1


def test_resent_document_is_a_duplicate(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    body = f.as_json(f.submission(centre.code))
    first = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    second = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    assert first["documents"][0]["status"] == "ACCEPTED"
    assert second["status"] == "REJECTED"
    assert second["documents"][0]["errors"][0]["code"] == "document.duplicate"


def test_idempotency_key_replays_and_refuses_another_body(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    body = f.as_json(f.submission(centre.code))
    headers = auth(token, {**JSON, "Idempotency-Key": "k-1"})
    first = client.post("/v1/submissions", content=body, headers=headers)
    replay = client.post("/v1/submissions", content=body, headers=headers)
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    other = client.post(
        "/v1/submissions", content=f.as_json(f.submission(centre.code)), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["code"] == "idempotency.key-reused"

    assert replay.json() == first.json()
    assert replay.headers["location"] == f"/v1/submissions/{first.json()['id']}"


def test_an_idempotency_key_over_200_characters_is_refused(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    before = counts(sessions)
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code)),
        headers=auth(token, {**JSON, "Idempotency-Key": "k" * 201}),
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {
            "code": "request.invalid",
            "message": "String should have at most 200 characters",
            "path": "header/idempotency-key",
            "line": None,
            "severity": "error",
        }
    ]
    assert counts(sessions) == before


def test_the_answer_is_exactly_what_its_model_shows(client: TestClient, sessions) -> None:
    """POST /v1/submissions sends its answer without the response model: it must be the
    model's own rendering, and the same as GET shows, warnings and errors included."""
    centre, token = f.make_centre(sessions)
    good, bad = f.outpatient_visit(), f.outpatient_visit()
    bad["outpatientVisit"]["patient"]["nationalId"] = "0000000001"
    body = f.as_json(f.submission(centre.code, good, bad))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON))
    assert answer.status_code == 202
    sent = answer.json()
    assert sent["status"] == "PARTIALLY_ACCEPTED"
    assert sent["documents"][1]["errors"]
    assert sent == SubmissionOut.model_validate(sent).model_dump(mode="json")
    assert sent["received_at"].endswith("Z")
    assert client.get(sent["url"], headers=auth(token)).json() == sent


HOSTILE = [
    ("malformed xml", b"<submission><header></submission>", XML, 422, "xml.malformed"),
    (
        "billion laughs",
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        b"]><submission>&c;</submission>",
        XML,
        422,
        "xml.doctype-forbidden",
    ),
    (
        "external entity",
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM '
        b'"file:///etc/passwd">]><submission>&x;</submission>',
        XML,
        422,
        "xml.doctype-forbidden",
    ),
    (
        "wrong content type",
        b"{}",
        {"Content-Type": "text/plain"},
        415,
        "body.unsupported-media-type",
    ),
    ("no content type", b"{}", {}, 415, "body.unsupported-media-type"),
    ("empty body", b"", JSON, 400, "body.empty"),
    ("whitespace body", b"  \n ", XML, 400, "body.empty"),
    ("oversized body", b"<a>" + b" " * (300 * 1024) + b"</a>", XML, 413, "body.too-large"),
    ("malformed json", b'{"header": ', JSON, 422, "json.malformed"),
    ("json array", b"[1, 2]", JSON, 422, "json.type"),
    ("schema-invalid json", b'{"schemaVersion": "1"}', JSON, 422, "schema.missing-element"),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"), [pytest.param(*h[1:], id=h[0]) for h in HOSTILE]
)
def test_bad_input_gets_4xx_and_stores_nothing(
    client: TestClient, sessions, body, headers, status, code
) -> None:
    _, token = f.make_centre(sessions)
    before = counts(sessions)
    response = client.post("/v1/submissions", content=body, headers=auth(token, headers))
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert errors
    assert errors[0]["code"] == code
    assert set(errors[0]) >= {"code", "message", "path", "line"}
    assert counts(sessions) == before
    assert client.get("/healthz").status_code == 200


def test_header_of_another_centre_is_refused(client: TestClient, sessions) -> None:
    _, token = f.make_centre(sessions)
    before = counts(sessions)
    response = client.post(
        "/v1/submissions", content=f.as_json(f.submission("OTHER-01")), headers=auth(token, JSON)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "centre.mismatch"
    assert counts(sessions) == before


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_missing_or_bad_token_is_401(client: TestClient, header: str | None) -> None:
    headers = {**JSON, **({"Authorization": header} if header else {})}
    response = client.post("/v1/submissions", content=b"{}", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"][0]["code"] == "auth.required"


def test_auditor_cannot_submit(client: TestClient, sessions) -> None:
    token = f.make_staff_token(sessions, Role.AUDITOR)
    response = client.post("/v1/submissions", content=b"{}", headers=auth(token, JSON))
    assert response.status_code == 403


def test_owned_centre_prices_without_copayment(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions, kind=CentreKind.OWNED, sector=Sector.GOVERNMENTAL)
    data = f.submission(centre.code, f.outpatient_visit([f.line("970000", 1, 300_000)]))
    answer = client.post("/v1/submissions", content=f.as_json(data), headers=auth(token, JSON))
    document_id = answer.json()["documents"][0]["id"]
    price_all(sessions, [document_id])
    price_all(sessions, [document_id])  # a redelivery changes nothing
    detail = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert detail["totals"]["copayment"] == 0
    assert detail["totals"]["insurer_share"] == 300_000
    with sessions() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(LinePricing)
            .where(LinePricing.document_id == uuid.UUID(document_id))
        )
        events = session.scalar(
            select(func.count())
            .select_from(StatusEvent)
            .where(StatusEvent.document_id == uuid.UUID(document_id))
        )
    assert (rows, events) == (1, 4)  # RECEIVED, ACCEPTED, PRICED, then APPROVED or review


def test_operations_endpoints(client: TestClient, sessions) -> None:
    _centre, token = f.make_centre(sessions)
    client.post("/v1/submissions", content=b"{", headers=auth(token, JSON))
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    text = client.get("/metrics").text
    assert 'gateway_validation_problems_total{code="json.malformed"}' in text
    assert 'gateway_http_requests_total{method="POST",route="/v1/submissions",status="422"}' in text
    assert 'gateway_submissions_total{format="json",outcome="refused"}' in text
    assert client.get("/openapi.json").json()["paths"]["/v1/submissions"]["post"]
    assert client.get("/docs").status_code == 200


def test_warnings_accept_the_document_and_are_listed(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    data = f.submission(centre.code, f.outpatient_visit([f.line("999999", 1, 10_000)]))
    answer = client.post("/v1/submissions", content=f.as_json(data), headers=auth(token, JSON))
    (document,) = answer.json()["documents"]
    assert (document["status"], document["outcome"]) == ("ACCEPTED", "ACCEPTED_WITH_WARNINGS")
    assert [w["code"] for w in document["warnings"]] == ["line.code-not-in-tariff"]
    assert document["errors"] == []


def test_patient_outside_the_register_is_rejected(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    visit = f.outpatient_visit()
    visit["outpatientVisit"]["patient"]["nationalId"] = f.national_id(10_000_019)
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code, visit)),
        headers=auth(token, JSON),
    ).json()
    (document,) = answer["documents"]
    assert (document["outcome"], [e["code"] for e in document["errors"]]) == (
        "REJECTED",
        ["patient.not-eligible"],
    )


def test_same_service_billed_again_is_warned_about(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    first = f.outpatient_visit([f.line("800020", 1, 100_000)])
    again = f.outpatient_visit([f.line("800020", 1, 100_000)])
    again["outpatientVisit"]["patient"] = first["outpatientVisit"]["patient"]
    other_day = f.outpatient_visit([f.line("800020", 1, 100_000)], service_date="2026-11-11")
    other_day["outpatientVisit"]["patient"] = first["outpatientVisit"]["patient"]
    outcomes = []
    for document in (first, again, other_day):
        answer = client.post(
            "/v1/submissions",
            content=f.as_json(f.submission(centre.code, document)),
            headers=auth(token, JSON),
        ).json()
        (summary,) = answer["documents"]
        outcomes.append((summary["outcome"], [w["code"] for w in summary["warnings"]]))
    assert outcomes == [
        ("ACCEPTED", []),
        ("ACCEPTED_WITH_WARNINGS", ["line.possible-duplicate"]),
        ("ACCEPTED", []),
    ]
