"""Claims in the workspace: another auditor's document shows who holds it and until when,
without decision controls; a forced move is refused in the reader's language; an admin
keeps the controls; a bulk decision tells a held document apart and decides the rest."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.domain.centres import Role
from gateway.storage.models import StaffUser
from tests.web.conftest import csrf_of
from tests.web.test_bulk import statuses
from tests.web.test_queue import centre_with, claimed, english, other_client, post

LoggedIn = Callable[[Role], TestClient]
TIME = r"<bdi>[0-9۰-۹]{2}:[0-9۰-۹]{2}</bdi>"


def display_name(sessions, username: str) -> str:
    with sessions() as session:
        query = select(StaffUser.display_name).where(StaffUser.username == username)
        return session.scalars(query).one()


def error_of(page: str) -> str:
    return page.split('id="error"', 1)[1].split("</div>", 1)[0]


def test_another_auditor_sees_the_holder_and_no_controls(web: TestClient, sessions) -> None:
    _code, ids = centre_with(web, sessions, 1)
    alice, alice_name = other_client(web, sessions)
    bob, _ = other_client(web, sessions)
    page = f"/web/documents/{ids[0]}"
    post(alice, "/web/queue/selected", [("do", "claim"), ("id", ids[0])])
    name = display_name(sessions, alice_name)
    own = alice.get(page).text
    assert 'id="decision"' in own
    assert 'id="review-line-1"' in own
    seen = bob.get(page).text
    assert re.search(f"Held by <bdi>{name}</bdi> until {TIME}", seen)
    assert 'id="held"' in seen
    for control in ('id="decision"', 'id="review-line-1"', 'id="ask-information"', 'id="claim"'):
        assert control not in seen, control
    # A decision sent anyway (an old tab) is refused, in English and in Persian.
    token = csrf_of(bob.get(page))
    forced = bob.post(f"{page}/decision", data={"decision": "approve", "csrf_token": token})
    assert forced.status_code == 409
    said = error_of(forced.text)
    assert re.search(
        rf"refused:</strong> <bdi>{name}</bdi> holds this document until {TIME}\.", said
    )
    bob.get("/web/lang/fa")
    token = csrf_of(bob.get(page))
    review = bob.post(f"{page}/lines/1/review", data={"action": "accept", "csrf_token": token})
    assert review.status_code == 409
    assert re.search(rf"این سند تا {TIME} در دست <bdi>{name}</bdi> است\.", error_of(review.text))
    assert statuses(sessions, ids) == {ids[0]: "UNDER_REVIEW"}
    # Alice lets it go: Bob may decide.
    post(alice, f"{page}/claim", {"do": "release"}, page)
    assert claimed(sessions, ids[0]) is None
    token = csrf_of(bob.get(page))
    done = bob.post(f"{page}/decision", data={"decision": "approve", "csrf_token": token},
                    follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert statuses(sessions, ids) == {ids[0]: "APPROVED"}


def test_an_admin_keeps_the_controls_and_decides(web: TestClient, sessions) -> None:
    _code, ids = centre_with(web, sessions, 1)
    alice, alice_name = other_client(web, sessions)
    boss, _ = other_client(web, sessions, Role.ADMIN)
    page = f"/web/documents/{ids[0]}"
    post(alice, "/web/queue/selected", [("do", "claim"), ("id", ids[0])])
    seen = boss.get(page).text
    assert 'id="decision"' in seen
    assert "As an admin you may still act on it" in seen
    assert display_name(sessions, alice_name) in seen
    token = csrf_of(boss.get(page))
    done = boss.post(f"{page}/decision", data={"decision": "deny", "reason": "no",
                     "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert statuses(sessions, ids) == {ids[0]: "DENIED"}
    assert "review.claim_overridden" in boss.get(page).text  # in the audit panel


def test_bulk_decisions_tell_a_held_document_apart(
    web: TestClient, sessions, logged_in: LoggedIn
) -> None:
    code, ids = centre_with(web, sessions, 3)
    alice, alice_name = other_client(web, sessions)
    post(alice, "/web/queue/selected", [("do", "claim"), ("id", ids[1])])
    bob = english(logged_in(Role.AUDITOR))
    chosen = [("do", "approve"), *(("id", i) for i in ids), ("back", f"/web/queue?centre={code}")]
    confirm = post(bob, "/web/queue/selected", chosen)
    seen = re.findall(r'name="seen" value="([^"]+)"', confirm.text)  # type: ignore[attr-defined]
    name = display_name(sessions, alice_name)
    marked = re.findall(r'<span class="marker held">held by <bdi>([^<]+)</bdi></span>',
                        confirm.text)  # type: ignore[attr-defined]  # fmt: skip
    assert marked == [name]  # told before confirming
    result = bob.post(
        "/web/queue/decide",
        data={"decision": "approve", "seen": seen, "csrf_token": csrf_of(bob.get("/web/queue"))},
    )
    assert result.status_code == 200
    assert "<bdi>2</bdi> of <bdi>3</bdi> document(s) decided" in result.text
    row = result.text.split(f'data-id="{ids[1]}"')[1].split("</tr>")[0]
    assert re.search(f"Not decided: <bdi>{name}</bdi> holds it until {TIME}", row)
    assert statuses(sessions, ids) == {ids[0]: "APPROVED", ids[1]: "UNDER_REVIEW",
                                       ids[2]: "APPROVED"}  # fmt: skip
