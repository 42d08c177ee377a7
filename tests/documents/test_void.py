"""Voiding a document: POST /v1/documents/{id}/void, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import chain as audit
from gateway.audit.journal import WEBHOOK_TASK
from gateway.domain.centres import Role
from gateway.kit.db import transaction
from gateway.pricing.service import TariffCache, price_stored_documents
from gateway.storage.models import AuditEntry, Document, OutboxMessage
from tests import factories as f
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, NEVER_REVIEW, submit_priced
from tests.submissions.test_submissions import JSON, POLICIES, auth

REASON = "Sent for the wrong patient; a corrected bill follows."


def submit(client: TestClient, token: str, code: str, **visit: str) -> tuple[str, str]:
    """An accepted (not yet priced) outpatient visit: its id and number."""
    body = f.as_json(f.submission(code, f.outpatient_visit(**visit)))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    (document,) = answer["documents"]
    assert document["status"] == "ACCEPTED", document
    return str(document["id"]), str(document["external_id"])


def void(client: TestClient, token: str, document_id: str, reason: str = REASON) -> Response:
    return client.post(
        f"/v1/documents/{document_id}/void", json={"reason": reason}, headers=auth(token)
    )


def test_an_accepted_document_is_voided_and_never_priced(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id, _ = submit(client, token, centre.code)
    answer = void(client, token, document_id)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["status"] == "VOIDED"
    assert shown["history"][-1]["from_status"] == "ACCEPTED"
    assert shown["history"][-1]["to_status"] == "VOIDED"
    assert shown["history"][-1]["reason"] == REASON
    assert shown["history"][-1]["actor"] == f"centre:{centre.code}"
    # The pricing message sent at acceptance finds nothing to price.
    with transaction(sessions) as session:
        outcomes = price_stored_documents(
            session=session, ids=[uuid.UUID(document_id)], books=TariffCache(), policies=POLICIES
        )
    assert outcomes == {"voided": 1}
    again = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert again["status"] == "VOIDED"
    assert again["totals"]["eligible"] is None


@pytest.mark.parametrize("policies", [ALWAYS_REVIEW, NEVER_REVIEW], ids=["review", "approved"])
def test_priced_documents_are_voidable_until_approved(
    client: TestClient, sessions, policies
) -> None:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, policies)
    answer = void(client, token, document_id)
    if policies is ALWAYS_REVIEW:
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "VOIDED"
        return
    assert answer.status_code == 409
    (problem,) = answer.json()["errors"]
    assert problem["code"] == "document.not-voidable"
    assert "APPROVED" in problem["message"]
    assert "/v1/documents/{id}/appeal" in problem["message"]
    shown = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert shown["status"] == "APPROVED"


def test_a_denied_document_is_voidable(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    denied = client.post(
        f"/v1/documents/{document_id}/decision",
        json={"decision": "deny", "reason": "no visit note"},
        headers=auth(auditor),
    )
    assert denied.json()["status"] == "DENIED"
    answer = void(client, token, document_id)
    assert answer.status_code == 200, answer.text
    assert [e["to_status"] for e in answer.json()["history"]][-2:] == ["DENIED", "VOIDED"]


def test_voiding_twice_is_a_409(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id, _ = submit(client, token, centre.code)
    assert void(client, token, document_id).status_code == 200
    again = void(client, token, document_id, "once more")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "document.already-voided"


def test_a_rejected_document_is_not_voidable(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    visit = f.outpatient_visit()
    visit["outpatientVisit"]["totalAmount"] += 1  # document.total-mismatch: rejected
    body = f.as_json(f.submission(centre.code, visit))
    answer = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    (document,) = answer["documents"]
    assert document["status"] == "REJECTED"
    refused = void(client, token, str(document["id"]))
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "document.not-voidable"


def test_another_centre_gets_404_and_staff_403(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    _, other = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions, Role.AUDITOR)
    document_id, _ = submit(client, token, centre.code)
    assert void(client, other, document_id).status_code == 404
    assert void(client, other, str(uuid.uuid4())).status_code == 404
    assert void(client, other, "not-an-id").status_code == 404
    assert void(client, auditor, document_id).status_code == 403
    assert void(client, "no-such-token", document_id).status_code == 401
    shown = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert shown["status"] == "ACCEPTED"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}])
def test_a_void_needs_a_reason(client: TestClient, sessions, body) -> None:
    centre, token = f.make_centre(sessions)
    document_id, _ = submit(client, token, centre.code)
    answer = client.post(f"/v1/documents/{document_id}/void", json=body, headers=auth(token))
    assert answer.status_code == 422
    shown = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert shown["status"] == "ACCEPTED"


def test_the_number_of_a_voided_document_is_free_again(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    document_id, number = submit(client, token, centre.code)
    body = f.as_json(f.submission(centre.code, f.outpatient_visit(number=number)))
    duplicate = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    assert duplicate["documents"][0]["status"] == "REJECTED"
    assert duplicate["documents"][0]["errors"][0]["code"] == "document.duplicate"
    assert void(client, token, document_id).status_code == 200
    body = f.as_json(f.submission(centre.code, f.outpatient_visit(number=number)))
    again = client.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    assert again["documents"][0]["status"] == "ACCEPTED", again


def test_the_void_is_in_the_audit_chain_and_sent_to_webhooks(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    centre, token = f.make_centre(sessions)
    hook = client.post(
        "/v1/webhooks", json={"url": "https://his.example.org/events"}, headers=auth(token)
    )
    assert hook.status_code == 201, hook.text
    document_id, number = submit(client, token, centre.code)
    assert void(client, token, document_id).status_code == 200
    with sessions() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_id == document_id, AuditEntry.action == "document.status")
            .order_by(AuditEntry.seq)
        ).all()
        messages = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.task == WEBHOOK_TASK)
            .order_by(OutboxMessage.id)
        ).all()
        verdict = audit.verify(session)
    assert verdict.ok, verdict
    last = entries[-1]
    assert (last.actor, last.details["from"], last.details["to"], last.details["reason"]) == (
        f"centre:{centre.code}",
        "ACCEPTED",
        "VOIDED",
        REASON,
    )
    events = [
        m.payload["event"]
        for m in messages
        if m.payload["webhook_id"] == hook.json()["id"]
        and m.payload["event"]["data"]["document_id"] == document_id
    ]
    assert [e["type"] for e in events] == [
        "document.status_changed",
        "document.status_changed",
        "document.voided",
    ]
    assert events[-1]["data"]["external_id"] == number
    assert events[-1]["data"]["to_status"] == "VOIDED"


def test_voided_documents_are_found_by_status(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    kept, _ = submit(client, token, centre.code)
    voided, _ = submit(client, token, centre.code)
    assert void(client, token, voided).status_code == 200
    page = client.get("/v1/documents?status=VOIDED", headers=auth(token)).json()
    assert [item["id"] for item in page["items"]] == [voided]
    with sessions() as session:
        statuses = dict(
            session.execute(
                select(Document.id, Document.status).where(
                    Document.id.in_([uuid.UUID(kept), uuid.UUID(voided)])
                )
            ).all()
        )
    assert statuses == {uuid.UUID(kept): "ACCEPTED", uuid.UUID(voided): "VOIDED"}
