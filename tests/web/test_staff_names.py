"""A centre is told who handled its documents by role (`auditor`), never by user name (a
user name is half a workspace login); staff still see who it was. On SQLite and
PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.domain.centres import Role
from tests import factories as f
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import auth
from tests.web.conftest import csrf_of, log_in, make_user


def reviewed_by_a_user_and_denied_by_a_token(web: TestClient, sessions) -> tuple[str, str, str]:
    """A document whose line 2 a workspace auditor reduced and which an auditor's API token
    then denied; the centre appealed. Returns the centre's token, document id, user name."""
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(web, sessions, token, centre.code, ALWAYS_REVIEW)
    username = make_user(sessions, Role.AUDITOR)
    assert log_in(web, username).status_code == 303
    url = f"/web/documents/{document_id}"
    form = {
        "action": "reduce",
        "quantity": "1",
        "reason": "review-quantity-not-justified",
        "note": "one is enough",
        "csrf_token": csrf_of(web.get(url)),
    }
    assert web.post(f"{url}/lines/2/review", data=form, follow_redirects=False).status_code == 303
    staff = f.make_staff_token(sessions)
    decision = {"decision": "deny", "reason": "not justified"}
    denied = web.post(f"/v1/documents/{document_id}/decision", json=decision, headers=auth(staff))
    assert denied.status_code == 200, denied.text
    appeal = {"reason": "see the notes", "lines": [2]}
    appealed = web.post(f"/v1/documents/{document_id}/appeal", json=appeal, headers=auth(token))
    assert appealed.status_code == 200, appealed.text
    return token, document_id, username


def test_a_centre_sees_staff_by_role_and_staff_see_names(web: TestClient, sessions) -> None:
    token, document_id, username = reviewed_by_a_user_and_denied_by_a_token(web, sessions)
    url = f"/v1/documents/{document_id}"

    seen = web.get(url, headers=auth(token))
    assert seen.status_code == 200
    assert username not in seen.text
    document = seen.json()
    assert [r["actor"] for r in document["reviews"]] == ["auditor"]
    moves = {(e["to_status"], e["actor"]) for e in document["history"]}
    assert ("DENIED", "auditor") in moves
    assert all(not actor.startswith(("user:", "auditor:")) for _, actor in moves)
    assert [a["actor"] for a in document["appeals"]] == [f"centre:{document['centre_code']}"]
    (line,) = [line for line in document["lines"] if line["line_no"] == 2]
    assert line["pricing"]["deductions"][-1]["detail"] == "reduce by auditor: one is enough"
    for path in (
        f"{url}/remittance",
        f"/fhir/ClaimResponse/{document_id}",
        f"/fhir/ExplanationOfBenefit/{document_id}",
    ):
        answer = web.get(path, headers=auth(token))
        assert answer.status_code == 200, (path, answer.text)
        assert username not in answer.text, path

    staff = f.make_staff_token(sessions)
    full = web.get(url, headers=auth(staff)).json()
    assert [r["actor"] for r in full["reviews"]] == [f"user:{username}"]
    denial = [e for e in full["history"] if e["to_status"] == "DENIED"]
    assert [e["actor"] for e in denial] == [denial[0]["actor"]]
    assert denial[0]["actor"].startswith("auditor:")
    page = web.get(f"/web/documents/{document_id}")  # the workspace is staff's: names
    assert f"<bdi>{username.title()}</bdi>" in page.text  # the person's name, not user:NAME
