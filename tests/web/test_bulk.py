"""Bulk decisions from the queue: a confirmation with the count and total, then each
document decided on its own; one that changed meanwhile is refused and said so."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.domain.centres import Role
from gateway.storage.models import AuditEntry, Document
from tests.web.conftest import csrf_of
from tests.web.test_queue import centre_with, english, post

LoggedIn = Callable[[Role], TestClient]


def statuses(sessions, ids: list[str]) -> dict[str, str]:
    with sessions() as session:
        query = select(Document.id, Document.status).where(
            Document.id.in_([uuid.UUID(i) for i in ids])
        )
        return {str(i): s for i, s in session.execute(query)}


def test_approve_in_bulk_with_a_confirmation(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    code, ids = centre_with(web, sessions, 3)
    client = english(logged_in(Role.AUDITOR))
    chosen = [("do", "approve"), *(("id", i) for i in ids), ("back", f"/web/queue?centre={code}")]
    confirm = post(client, "/web/queue/selected", chosen)
    assert confirm.status_code == 200  # type: ignore[attr-defined]
    page = confirm.text  # type: ignore[attr-defined]
    assert "<bdi>3</bdi> document(s), <bdi>3,900,000</bdi> rials requested in all" in page
    assert statuses(sessions, ids) == dict.fromkeys(ids, "UNDER_REVIEW")  # nothing yet
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    assert len(seen) == 3
    # Meanwhile someone else decides the first one on its own page.
    token = csrf_of(client.get(f"/web/documents/{ids[0]}"))
    client.post(f"/web/documents/{ids[0]}/decision",
                data={"decision": "deny", "reason": "no", "csrf_token": token})  # fmt: skip
    result = client.post(
        "/web/queue/decide",
        data={"decision": "approve", "seen": seen, "note": "ok in bulk",
              "back": f"/web/queue?centre={code}", "csrf_token": csrf_of(client.get("/web/queue"))},
    )  # fmt: skip
    assert result.status_code == 200
    assert "<bdi>2</bdi> of <bdi>3</bdi> document(s) decided" in result.text
    assert "it changed since the confirmation was shown" in result.text
    assert statuses(sessions, ids) == {ids[0]: "DENIED", ids[1]: "APPROVED", ids[2]: "APPROVED"}
    with sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(
                AuditEntry.subject_id.in_(ids[1:]), AuditEntry.action == "document.status"
            )
        ).all()
    approvals = [e for e in entries if e.details["to"] == "APPROVED"]
    assert sorted(e.subject_id for e in approvals) == sorted(ids[1:])  # one entry each
    assert all(e.details["reason"] == "ok in bulk" for e in approvals)


def test_deny_in_bulk_needs_one_reason_code(web: TestClient, sessions, logged_in: LoggedIn) -> None:
    _code, ids = centre_with(web, sessions, 2)
    client = english(logged_in(Role.AUDITOR))
    confirm = post(client, "/web/queue/selected", [("do", "deny"), *(("id", i) for i in ids)])
    seen = re.findall(r'name="seen" value="([^"]+)"', confirm.text)  # type: ignore[attr-defined]
    token = csrf_of(client.get("/web/queue"))
    refused = client.post("/web/queue/decide",
                          data={"decision": "deny", "seen": seen, "csrf_token": token})  # fmt: skip
    assert refused.status_code == 422
    assert statuses(sessions, ids) == dict.fromkeys(ids, "UNDER_REVIEW")
    denied = client.post(
        "/web/queue/decide",
        data={"decision": "deny", "reason": "review-not-documented", "seen": seen,
              "csrf_token": token},
    )  # fmt: skip
    assert "<bdi>2</bdi> of <bdi>2</bdi>" in denied.text
    assert statuses(sessions, ids) == dict.fromkeys(ids, "DENIED")
    again = client.post(
        "/web/queue/decide",
        data={"decision": "deny", "reason": "review-other", "seen": seen, "csrf_token": token},
    )  # fmt: skip
    assert "<bdi>0</bdi> of <bdi>2</bdi>" in again.text  # both moved: nothing done twice


def test_nothing_selected_is_said(web: TestClient, logged_in: LoggedIn) -> None:
    client = english(logged_in(Role.AUDITOR))
    answer = post(client, "/web/queue/selected", [("do", "approve")])
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert "Select at least one document" in answer.text  # type: ignore[attr-defined]


def test_a_refused_review_is_told_in_the_readers_language(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    _, ids = centre_with(web, sessions, 1)
    client = logged_in(Role.AUDITOR)  # Persian: no language chosen
    url = f"/web/documents/{ids[0]}"
    token = csrf_of(client.get(url))
    no_reason = client.post(f"{url}/lines/2/review", data={"action": "deny", "csrf_token": token})
    assert no_reason.status_code == 422
    assert "برای کاهش یا رد ردیف، کد علت لازم است." in no_reason.text
    both = client.post(
        f"{url}/lines/2/review",
        data={"action": "reduce", "reason": "review-other", "quantity": "1", "amount": "5",
              "csrf_token": token},
    )  # fmt: skip
    assert both.status_code == 422
    assert "نه هر دو" in both.text
    assert statuses(sessions, ids) == {ids[0]: "UNDER_REVIEW"}
