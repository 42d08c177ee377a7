"""A centre's void and an auditor's approval of the same document at the same moment, on
PostgreSQL: both lock the document's row, so one waits for the other and then sees its
outcome. Exactly one of them wins; the loser gets a 409 and changes nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.documents import service as documents
from gateway.errors import GatewayError
from gateway.kit.db import engine_for, transaction
from gateway.review import service as reviews
from gateway.storage.models import Document
from tests import factories as f
from tests import services
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
DEADLINE_S = services.WAIT_S  # a readiness wait: generous, says what it waited for


def _waiting_on_a_lock(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def _race(
    sessions: sessionmaker[Session],
    engine: Engine,
    first: Callable[[Session], Any],
    second: Callable[[Session], Any],
) -> GatewayError | None:
    """Run ``first`` in a transaction held open until ``second`` (in another thread) waits
    for its lock, then commit it; what ``second`` raised, if anything."""
    outcome: dict[str, GatewayError | None] = {}

    def run_second() -> None:
        try:
            with transaction(sessions) as session:
                second(session)
            outcome["error"] = None
        except GatewayError as exc:
            outcome["error"] = exc

    with transaction(sessions) as session:
        first(session)
        session.flush()
        rival = threading.Thread(target=run_second)
        rival.start()
        deadline = time.monotonic() + DEADLINE_S
        while _waiting_on_a_lock(engine) == 0:
            assert time.monotonic() < deadline, "the rival never waited for the row lock"
            time.sleep(0.02)
    rival.join(DEADLINE_S)
    assert not rival.is_alive()
    return outcome["error"]


def _setup(client: TestClient, sessions: sessionmaker[Session]) -> tuple[uuid.UUID, int, str]:
    centre, token = f.make_centre(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    return uuid.UUID(document_id), centre.id, f"centre:{centre.code}"


def _status(sessions: sessionmaker[Session], document_id: uuid.UUID) -> str:
    with sessions() as session:
        found = session.get(Document, document_id)
        assert found is not None
        return found.status


def test_an_approval_first_makes_the_void_a_409(
    client: TestClient, sessions, database_url: str
) -> None:
    document_id, centre_id, actor = _setup(client, sessions)

    def approve(session: Session) -> None:
        reviews.decide(session, document_id=document_id, approve=True, reason="ok", actor="t")

    def void(session: Session) -> None:
        documents.void(
            session, document_id=document_id, centre_id=centre_id, reason="late", actor=actor
        )

    error = _race(sessions, engine_for(database_url), approve, void)
    assert error is not None
    assert (error.status_code, error.problems[0].code) == (409, "document.not-voidable")
    assert _status(sessions, document_id) == "APPROVED"


def test_a_void_first_makes_the_approval_a_409(
    client: TestClient, sessions, database_url: str
) -> None:
    document_id, centre_id, actor = _setup(client, sessions)

    def approve(session: Session) -> None:
        reviews.decide(session, document_id=document_id, approve=True, reason="ok", actor="t")

    def void(session: Session) -> None:
        documents.void(
            session, document_id=document_id, centre_id=centre_id, reason="first", actor=actor
        )

    error = _race(sessions, engine_for(database_url), void, approve)
    assert error is not None
    assert error.status_code == 409
    assert "VOIDED" in error.message
    assert _status(sessions, document_id) == "VOIDED"
