"""The workspace knows VOIDED: the queue filters by it and names it in both languages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from gateway.web import messages
from tests import factories as f
from tests.submissions.test_submissions import JSON, auth

LoggedIn = Callable[[Role], TestClient]


def test_a_voided_document_is_listed_and_shown_as_voided(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    centre, token = f.make_centre(sessions)
    body = f.as_json(f.submission(centre.code, f.outpatient_visit()))
    answer = web.post("/v1/submissions", content=body, headers=auth(token, JSON)).json()
    document_id = answer["documents"][0]["id"]
    voided = web.post(
        f"/v1/documents/{document_id}/void", json={"reason": "duplicate entry"}, headers=auth(token)
    )
    assert voided.status_code == 200, voided.text
    client = logged_in(Role.AUDITOR)
    english, persian = messages.text("en", "status.VOIDED"), messages.text("fa", "status.VOIDED")
    page = client.get(f"/web/queue?centre={centre.code}&status=VOIDED")
    assert page.status_code == 200
    assert document_id in page.text
    assert persian in page.text
    assert 'value="VOIDED"' in page.text  # the filter offers it
    client.get("/web/lang/en")
    shown = client.get(f"/web/documents/{document_id}")
    assert shown.status_code == 200
    assert english in shown.text
    assert "duplicate entry" in shown.text
    other = client.get(f"/web/queue?centre={centre.code}&status=ACCEPTED")
    assert document_id not in other.text
