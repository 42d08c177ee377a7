"""An auditor asks, the centre answers with attachments, the document returns to review:
over HTTP on SQLite and PostgreSQL, with its history, audit trail and webhook events."""

from __future__ import annotations

import hashlib
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.storage.models import AuditEntry, OutboxMessage, StatusEvent
from tests.information.helpers import answer, ask, pdf, png, under_review
from tests.submissions.test_submissions import auth


def test_full_exchange_returns_the_document_to_review(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    asked = ask(client, auditor, document_id, lines=[1], attachment_kinds=["discharge-summary"])
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["status"] == "open"
    assert request["lines"] == [1]
    assert request["attachment_kinds"] == ["discharge-summary"]
    assert request["answers"] == []
    assert request["requested_by"].startswith("auditor:")
    document = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert document["status"] == "INFO_REQUESTED"

    listed = client.get(f"/v1/documents/{document_id}/information-requests", headers=auth(token))
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [request["id"]]
    assert listed.json()[0]["requested_by"] == "auditor"  # the centre is told the role

    files = [("summary.pdf", pdf(), "application/pdf"), ("scan.png", png(1), "image/png")]
    answered = answer(client, token, document_id, files, text="The summary and the scan.")
    assert answered.status_code == 201, answered.text
    out = answered.json()
    assert out["status"] == "answered"
    (reply,) = out["answers"]
    assert reply["text"] == "The summary and the scan."
    assert [(a["filename"], a["content_type"]) for a in reply["attachments"]] == [
        ("summary.pdf", "application/pdf"),
        ("scan.png", "image/png"),
    ]
    assert reply["attachments"][0]["sha256"] == hashlib.sha256(pdf()).hexdigest()
    assert reply["attachments"][1]["url"] == f"/v1/attachments/{hashlib.sha256(png(1)).hexdigest()}"
    document = client.get(f"/v1/documents/{document_id}", headers=auth(auditor)).json()
    assert document["status"] == "UNDER_REVIEW"
    staff_view = client.get(
        f"/v1/documents/{document_id}/information-requests", headers=auth(auditor)
    ).json()
    assert staff_view[0]["answers"][0]["attachments"] == reply["attachments"]

    with sessions() as session:
        moves = session.execute(
            select(StatusEvent.from_status, StatusEvent.to_status)
            .where(StatusEvent.document_id == uuid.UUID(document_id))
            .order_by(StatusEvent.id)
        ).all()
        actions = list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_id == document_id)
                .order_by(AuditEntry.seq)
            )
        )
    assert moves[-2:] == [("UNDER_REVIEW", "INFO_REQUESTED"), ("INFO_REQUESTED", "UNDER_REVIEW")]
    assert "information.requested" in actions
    assert "information.answered" in actions
    assert actions.index("information.requested") < actions.index("information.answered")


def test_a_document_not_under_review_cannot_be_asked_or_answered(
    client: TestClient, sessions
) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    early = answer(client, token, document_id)
    assert early.status_code == 409
    assert ask(client, auditor, document_id).status_code == 201
    again = ask(client, auditor, document_id)
    assert again.status_code == 409
    assert "INFO_REQUESTED" in again.json()["errors"][0]["message"]
    decided = client.post(
        f"/v1/documents/{document_id}/decision", json={"decision": "approve"}, headers=auth(auditor)
    )
    assert decided.status_code == 409  # waiting for the centre: no decision meanwhile
    assert answer(client, token, document_id).status_code == 201
    assert answer(client, token, document_id).status_code == 409  # answered already
    approved = client.post(
        f"/v1/documents/{document_id}/decision", json={"decision": "approve"}, headers=auth(auditor)
    )
    assert approved.status_code == 200
    assert ask(client, auditor, document_id).status_code == 409


def test_asking_checks_the_question_and_lines(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    unknown_line = ask(client, auditor, document_id, lines=[7])
    assert unknown_line.status_code == 422
    assert unknown_line.json()["errors"][0]["path"] == "lines"
    bad_kind = ask(client, auditor, document_id, attachment_kinds=["selfie"])
    assert bad_kind.status_code == 422
    assert ask(client, auditor, document_id, question="").status_code == 422
    assert ask(client, token, document_id).status_code == 403  # a centre does not ask
    missing = "00000000-0000-4000-8000-000000000000"
    assert ask(client, auditor, missing).status_code == 404
    document = client.get(f"/v1/documents/{document_id}", headers=auth(auditor)).json()
    assert document["status"] == "UNDER_REVIEW"


def test_events_go_to_the_centres_webhooks(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    hook = client.post(
        "/v1/webhooks", json={"url": "https://his.example.ir/events"}, headers=auth(token)
    )
    assert hook.status_code == 201, hook.text
    request_id = ask(client, auditor, document_id).json()["id"]
    assert answer(client, token, document_id, [("a.png", png(2), "image/png")]).status_code == 201
    with sessions() as session:
        events = [
            row.payload["event"]
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if row.payload.get("webhook_id") == hook.json()["id"]
        ]
    types = [e["type"] for e in events]
    assert "document.information_requested" in types
    assert "document.information_received" in types
    requested = next(e for e in events if e["type"] == "document.information_requested")
    assert requested["data"]["information_request_id"] == request_id
    assert requested["data"]["document_id"] == document_id
    assert requested["data"]["question"] == "Please send the discharge summary."
    received = next(e for e in events if e["type"] == "document.information_received")
    assert received["data"]["attachments"] == 1
    moves = [e["data"]["to_status"] for e in events if e["type"] == "document.status_changed"]
    assert moves[-2:] == ["INFO_REQUESTED", "UNDER_REVIEW"]


def test_an_auditor_may_withdraw_an_open_question(client: TestClient, sessions) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    hook = client.post(
        "/v1/webhooks", json={"url": "https://his.example.ir/w"}, headers=auth(token)
    )
    request_id = ask(client, auditor, document_id).json()["id"]
    url = f"/v1/documents/{document_id}/information-requests/{request_id}/withdraw"
    assert client.post(url, json={}, headers=auth(token)).status_code == 403
    withdrawn = client.post(url, json={"reason": "Not needed after all."}, headers=auth(auditor))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["withdrawn_at"]
    document = client.get(f"/v1/documents/{document_id}", headers=auth(token)).json()
    assert document["status"] == "UNDER_REVIEW"
    assert client.post(url, json={}, headers=auth(auditor)).status_code == 409
    assert answer(client, token, document_id).status_code == 409  # nothing awaits an answer
    other = f"/v1/documents/{document_id}/information-requests/{uuid.uuid4()}/withdraw"
    assert client.post(other, json={}, headers=auth(auditor)).status_code == 404
    # A new question may be asked; the withdrawn one stays in the exchange.
    assert ask(client, auditor, document_id).status_code == 201
    listed = client.get(f"/v1/documents/{document_id}/information-requests", headers=auth(token))
    assert [r["status"] for r in listed.json()] == ["withdrawn", "open"]
    with sessions() as session:
        events = [
            row.payload["event"]
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if row.payload.get("webhook_id") == hook.json()["id"]
        ]
    (told,) = [e for e in events if e["type"] == "document.information_withdrawn"]
    assert told["data"]["reason"] == "Not needed after all."
