"""The deadline: an unanswered request turns overdue, the sweeper tells of it once (audit
entry, webhook event), and the business signals count open requests and the oldest's age,
on a database of this test's own."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from gateway import metrics
from gateway.information import service as information
from gateway.kit.db import transaction
from gateway.storage.models import AuditEntry, InformationRequest, OutboxMessage, utcnow
from gateway.upkeep import signals, sweeper
from tests.information.helpers import answer, ask, under_review
from tests.submissions.test_submissions import auth


def _backdate(sessions, request_id: str, days: int, now: datetime | None = None) -> None:
    with transaction(sessions) as session:
        earlier = (now or utcnow()) - timedelta(days=days)
        session.execute(
            update(InformationRequest)
            .where(InformationRequest.id == uuid.UUID(request_id))
            .values(requested_at=earlier, due_at=earlier + timedelta(days=14))
        )


def _sample(counter) -> float:  # type: ignore[no-untyped-def]
    return next(s.value for s in counter.collect()[0].samples if s.name.endswith("_total"))


@pytest.mark.own_database
def test_an_unanswered_request_turns_overdue_and_is_told_once(
    client: TestClient, sessions, settings
) -> None:
    _, token, auditor, document_id = under_review(client, sessions)
    client.post("/v1/webhooks", json={"url": "https://his.example.ir/e"}, headers=auth(token))
    request_id = ask(client, auditor, document_id).json()["id"]
    with transaction(sessions) as session:
        assert information.mark_overdue(session) == 0  # not due yet
    _backdate(sessions, request_id, days=15)
    listed = client.get(f"/v1/documents/{document_id}/information-requests", headers=auth(token))
    assert listed.json()[0]["status"] == "overdue"

    told_before = _sample(metrics.INFORMATION_OVERDUE)
    sweeper.periodic(sessions, settings)()  # the API's sweep chore
    with transaction(sessions) as session:
        assert information.mark_overdue(session) == 0  # told once only
    assert _sample(metrics.INFORMATION_OVERDUE) == told_before + 1
    with sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "information.overdue", AuditEntry.subject_id == document_id
            )
        ).all()
        events = [
            m.payload["event"]
            for m in session.scalars(select(OutboxMessage))
            if m.payload.get("event", {}).get("type") == "document.information_overdue"
        ]
    assert [e.actor for e in entries] == ["system:sweeper"]
    assert entries[0].details["information_request_id"] == request_id
    assert [e["data"]["information_request_id"] for e in events] == [request_id]

    # An overdue request may still be answered: the document returns to review.
    assert answer(client, token, document_id).status_code == 201
    listed = client.get(f"/v1/documents/{document_id}/information-requests", headers=auth(auditor))
    assert listed.json()[0]["status"] == "answered"


@pytest.mark.own_database
def test_signals_count_open_requests_and_the_oldest_age(client: TestClient, sessions) -> None:
    asked_before = _sample(metrics.INFORMATION_REQUESTS)
    answered_before = _sample(metrics.INFORMATION_ANSWERS)
    _, token, auditor, first = under_review(client, sessions)
    _, _, _, second = under_review(client, sessions)
    old = ask(client, auditor, first).json()["id"]
    ask(client, auditor, second)
    now = utcnow()
    _backdate(sessions, old, days=20, now=now)  # asked exactly 20 days before ``now``
    with sessions() as session:
        signals.read_fast(session, audit_entries=100, now=now)
    assert metrics.INFORMATION_OPEN._value.get() == 2  # type: ignore[attr-defined]
    assert metrics.INFORMATION_OPEN_OVERDUE._value.get() == 1  # type: ignore[attr-defined]
    oldest = metrics.INFORMATION_OLDEST._value.get()  # type: ignore[attr-defined]
    # Read at the same ``now``: exactly 20 days, whatever time the test took.
    assert oldest == pytest.approx(timedelta(days=20).total_seconds(), abs=1e-3)
    assert answer(client, token, first).status_code == 201
    with sessions() as session:
        signals.read_fast(session, audit_entries=100, now=now)
    assert metrics.INFORMATION_OPEN._value.get() == 1  # type: ignore[attr-defined]
    assert metrics.INFORMATION_OPEN_OVERDUE._value.get() == 0  # type: ignore[attr-defined]
    assert _sample(metrics.INFORMATION_REQUESTS) == asked_before + 2
    assert _sample(metrics.INFORMATION_ANSWERS) == answered_before + 1
    scraped = client.get("/metrics").text
    assert "gateway_information_requests_open 1.0" in scraped


@pytest.mark.own_database
def test_a_withdrawn_request_is_neither_overdue_nor_open(client: TestClient, sessions) -> None:
    _, _, auditor, document_id = under_review(client, sessions)
    request_id = ask(client, auditor, document_id).json()["id"]
    _backdate(sessions, request_id, days=30)
    withdrawn = client.post(
        f"/v1/documents/{document_id}/information-requests/{request_id}/withdraw",
        json={},
        headers=auth(auditor),
    )
    assert withdrawn.json()["status"] == "withdrawn"
    with transaction(sessions) as session:
        assert information.mark_overdue(session) == 0
    with sessions() as session:
        signals.read_fast(session, audit_entries=100, now=utcnow())
    assert metrics.INFORMATION_OPEN._value.get() == 0  # type: ignore[attr-defined]
    assert metrics.INFORMATION_OLDEST._value.get() == 0  # type: ignore[attr-defined]
