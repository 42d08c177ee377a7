"""Claims made real: a review move on a document another auditor holds is refused (409
``document.claimed``), the holder's own moves and an admin's pass (the admin's recorded as
over the claim), a lapsed claim blocks nothing, and a staff API token holds no claim; on
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin import service as admin
from gateway.assignment import service as assignment
from gateway.domain.centres import Role
from gateway.domain.review import ReviewAction
from gateway.errors import DocumentHeldError
from gateway.information import service as information
from gateway.kit.claims import OVERRIDE_ACTION
from gateway.kit.db import engine_for, transaction
from gateway.review import service as reviews
from gateway.storage import repository
from gateway.storage.models import AuditEntry, Document, ReviewClaim, StaffUser
from tests import factories as f
from tests.documents.test_void_races import _race as race
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import auth


def staff(sessions: sessionmaker[Session], role: Role = Role.AUDITOR) -> StaffUser:
    username = f"{role.value}-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as session:
        admin.add_staff_user(session=session, username=username, display_name=username.title(),
                             role=role, password="correct horse battery staple")  # fmt: skip
    with sessions() as session:
        return session.scalars(select(StaffUser).where(StaffUser.username == username)).one()


def held_document(client: TestClient, sessions, holder: StaffUser) -> uuid.UUID:
    """A document under review that ``holder`` has claimed for an hour."""
    centre, token = f.make_centre(sessions)
    key = uuid.UUID(submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW))
    with transaction(sessions) as session:
        user = session.get(StaffUser, holder.id)
        assert user is not None
        taken = assignment.claim(session, user=user, actor="test", document_ids=[key],
                                 now=datetime.now(UTC), minutes=60)  # fmt: skip
    assert taken.taken == [key]
    return key


def lapse(sessions, key: uuid.UUID) -> None:
    """The claim ended a second ago (no waiting for it)."""
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        ended = {"claimed_at": now - timedelta(hours=2), "expires_at": now - timedelta(seconds=1)}
        session.execute(update(ReviewClaim).where(ReviewClaim.document_id == key).values(ended))


def status_of(sessions, key: uuid.UUID) -> str:
    with sessions() as session:
        return session.get(Document, key).status  # type: ignore[union-attr]


def decide_as(sessions, key: uuid.UUID, actor: str, *, approve: bool) -> None:
    with transaction(sessions) as session:
        reviews.decide(session, document_id=key, approve=approve, reason="", actor=actor)


def overrides(sessions, key: uuid.UUID) -> list[AuditEntry]:
    with sessions() as session:
        query = select(AuditEntry).where(
            AuditEntry.subject_id == str(key), AuditEntry.action == OVERRIDE_ACTION
        )
        return list(session.scalars(query))


MOVES = {
    "decide": lambda s, key, actor: reviews.decide(
        s, document_id=key, approve=True, reason="", actor=actor
    ),
    "review": lambda s, key, actor: reviews.review(
        s, document_id=key, line_no=1, action=ReviewAction.ACCEPT, reason=None, quantity=None,
        amount=None, note="", actor=actor,
    ),
    "ask": lambda s, key, actor: information.ask(
        s, document_id=key, question="The discharge summary, please.", lines=[], kinds=[],
        actor=actor, deadline_days=7,
    ),
}  # fmt: skip


@pytest.mark.parametrize("move", sorted(MOVES))
def test_another_auditors_move_is_refused_naming_the_holder(
    client: TestClient, sessions, move: str
) -> None:
    alice, bob = staff(sessions), staff(sessions)
    key = held_document(client, sessions, alice)
    with pytest.raises(DocumentHeldError) as refused, transaction(sessions) as session:
        MOVES[move](session, key, f"user:{bob.username}")
    error = refused.value
    assert error.status_code == 409
    assert [p.code for p in error.problems] == ["document.claimed"]
    assert alice.display_name in error.message
    assert error.holder == alice.display_name
    assert error.until > datetime.now(UTC) + timedelta(minutes=55)
    assert status_of(sessions, key) == "UNDER_REVIEW"
    # The holder's own move passes, and is no override.
    with transaction(sessions) as session:
        MOVES[move](session, key, f"user:{alice.username}")
    assert overrides(sessions, key) == []


def test_a_lapsed_claim_blocks_nothing(client: TestClient, sessions) -> None:
    alice, bob = staff(sessions), staff(sessions)
    key = held_document(client, sessions, alice)
    lapse(sessions, key)
    decide_as(sessions, key, f"user:{bob.username}", approve=False)
    assert status_of(sessions, key) == "DENIED"
    assert overrides(sessions, key) == []


def test_an_unclaimed_document_is_open_to_anyone(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    key = uuid.UUID(submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW))
    bob = staff(sessions)
    decide_as(sessions, key, f"user:{bob.username}", approve=True)
    assert status_of(sessions, key) == "APPROVED"


def test_an_admin_acts_over_a_claim_and_it_is_audited(client: TestClient, sessions) -> None:
    alice, boss = staff(sessions), staff(sessions, Role.ADMIN)
    key = held_document(client, sessions, alice)
    decide_as(sessions, key, f"user:{boss.username}", approve=True)
    assert status_of(sessions, key) == "APPROVED"
    [entry] = overrides(sessions, key)
    assert entry.actor == f"user:{boss.username}"
    assert entry.details["move"] == "decision.approved"
    assert entry.details["held_by"] == alice.display_name
    assert entry.details["held_by_user"] == alice.username


def test_a_claim_given_to_another_moves_the_right_to_decide(client: TestClient, sessions) -> None:
    alice, bob = staff(sessions), staff(sessions)
    key = held_document(client, sessions, alice)
    with transaction(sessions) as session:
        assignment.reassign(session, actor="user:boss", document_id=key, to_user_id=bob.id,
                            now=datetime.now(UTC), minutes=30)  # fmt: skip
    with pytest.raises(DocumentHeldError), transaction(sessions) as session:
        MOVES["review"](session, key, f"user:{alice.username}")
    with transaction(sessions) as session:
        MOVES["decide"](session, key, f"user:{bob.username}")
    assert status_of(sessions, key) == "APPROVED"


def test_the_api_refuses_an_auditors_token_and_lets_an_admins(client: TestClient, sessions) -> None:
    alice = staff(sessions)
    key = held_document(client, sessions, alice)
    auditor, boss = f.make_staff_token(sessions), f.make_staff_token(sessions, Role.ADMIN)
    url = f"/v1/documents/{key}"
    for path, body in (
        ("lines/1/review", {"action": "accept"}),
        ("decision", {"decision": "approve"}),
        ("information-requests", {"question": "Why?"}),
    ):
        answer = client.post(f"{url}/{path}", json=body, headers=auth(auditor))
        assert answer.status_code == 409, answer.text
        [problem] = answer.json()["errors"]
        assert problem["code"] == "document.claimed"
        assert alice.display_name in problem["message"]
    assert status_of(sessions, key) == "UNDER_REVIEW"
    decided = client.post(f"{url}/decision", json={"decision": "deny", "reason": "no"},
                          headers=auth(boss))  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "DENIED"
    assert [e.details["move"] for e in overrides(sessions, key)] == ["decision.denied"]


def test_the_api_after_the_claim_lapses(client: TestClient, sessions) -> None:
    key = held_document(client, sessions, staff(sessions))
    auditor = f.make_staff_token(sessions)
    lapse(sessions, key)
    answer = client.post(f"/v1/documents/{key}/decision", json={"decision": "approve"},
                         headers=auth(auditor))  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "APPROVED"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_given_while_a_decision_waits_for_the_lock_is_seen(
    client: TestClient, sessions, database_url: str
) -> None:
    """An admin gives the document to Alice while Bob's decision waits for its row lock:
    Bob's decision reads the claim after the lock, so it is refused, not let through."""
    alice, bob = staff(sessions), staff(sessions)
    centre, token = f.make_centre(sessions)
    key = uuid.UUID(submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW))

    def give_to_alice(session: Session) -> None:
        assert repository.lock_document(session, key) is not None
        assignment.reassign(session, actor="user:boss", document_id=key, to_user_id=alice.id,
                            now=datetime.now(UTC), minutes=30)  # fmt: skip

    def bob_decides(session: Session) -> None:
        actor = f"user:{bob.username}"
        reviews.decide(session, document_id=key, approve=True, reason="", actor=actor)

    refused = race(sessions, engine_for(database_url), give_to_alice, bob_decides)
    assert isinstance(refused, DocumentHeldError)
    assert refused.holder == alice.display_name
    assert status_of(sessions, key) == "UNDER_REVIEW"
