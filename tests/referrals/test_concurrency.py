"""A referral's visits are used exactly once when documents race for them on PostgreSQL:
each submission in its own transaction, as two API processes would store them."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.db import transaction
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Referral, ReferralUse
from gateway.submissions import service as ingest
from tests import factories as f
from tests.referrals.helpers import issue, programme, specialist_visit
from validators.schema import Format

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _store(
    sessions: sessionmaker[Session], settings: Settings, centre_code: str, body: bytes
) -> tuple[str, list[str]]:
    with transaction(sessions) as session:
        centre = repository.get_centre_by_code(session, centre_code)
        assert centre is not None
        done = ingest.ingest(
            session=session,
            centre=centre,
            body=body,
            fmt=Format.JSON,
            content_type="application/json",
            idempotency_key=None,
            max_documents=10,
            settings=settings,
        )
        (document,) = done.documents
        return document.status, _errors(document.problems)


def _errors(problems: list[dict[str, Any]]) -> list[str]:
    """The error codes (the warnings, such as the same service billed twice, aside)."""
    return [p["code"] for p in problems if p.get("severity", "error") == "error"]


def _waiting_for_a_lock(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(session.scalar(query))


def test_the_second_document_waits_then_finds_no_visit_left(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p)["code"]
    bodies = [
        f.as_json(f.submission(p.specialist_centre, specialist_visit(p, code))) for _ in range(2)
    ]
    first_holds = threading.Event()
    outcome: dict[str, tuple[str, list[str]]] = {}

    def first() -> None:
        with transaction(sessions) as session:
            centre = repository.get_centre_by_code(session, p.specialist_centre)
            assert centre is not None
            done = ingest.ingest(
                session=session,
                centre=centre,
                body=bodies[0],
                fmt=Format.JSON,
                content_type="application/json",
                idempotency_key=None,
                max_documents=10,
                settings=settings,
            )
            first_holds.set()
            # Commit only once the other transaction is blocked on the referral's row.
            deadline = time.monotonic() + 60
            while not _waiting_for_a_lock(sessions) and time.monotonic() < deadline:
                time.sleep(0.05)
            (document,) = done.documents
            outcome["first"] = (document.status, _errors(document.problems))

    def second() -> None:
        assert first_holds.wait(timeout=60)
        outcome["second"] = _store(sessions, settings, p.specialist_centre, bodies[1])

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcome == {
        "first": ("ACCEPTED", []),
        "second": ("REJECTED", ["referral.used-up"]),
    }
    _assert_used(sessions, code, 1)


def test_many_documents_racing_for_two_visits_get_two(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    p = programme(sessions, tmp_path)
    code = issue(client, p, visits=2)["code"]
    bodies = [
        f.as_json(f.submission(p.specialist_centre, specialist_visit(p, code))) for _ in range(6)
    ]
    start = threading.Barrier(len(bodies))

    def send(body: bytes) -> tuple[str, list[str]]:
        start.wait(timeout=60)
        return _store(sessions, settings, p.specialist_centre, body)

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        results = list(pool.map(send, bodies))
    statuses = sorted(status for status, _ in results)
    assert statuses == ["ACCEPTED"] * 2 + ["REJECTED"] * 4
    assert all(codes == ["referral.used-up"] for status, codes in results if status == "REJECTED")
    _assert_used(sessions, code, 2)


def _assert_used(sessions: sessionmaker[Session], code: str, visits: int) -> None:
    with sessions() as session:
        referral = session.scalars(select(Referral).where(Referral.code == code)).one()
        uses = session.scalar(
            select(func.count()).where(
                ReferralUse.referral_id == referral.id, ReferralUse.released_at.is_(None)
            )
        )
    assert (referral.visits_used, uses) == (visits, visits)
