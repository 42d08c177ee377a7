"""Which of two bills repeating a service is the duplicate follows the order of receipt, not
the order of pricing: priced in either order, or at once by two processes on PostgreSQL,
the pair gets the same rows (docs/pricing.md, "Duplicates")."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.db import transaction
from gateway.pricing import repository as store
from gateway.pricing.service import TariffCache, price_stored_documents
from gateway.review import service as reviews
from gateway.storage.models import LineDeduction, LinePricing
from tests import factories as f
from tests.submissions.test_submissions import JSON, POLICIES, auth, price_all


def submit(client: TestClient, token: str, centre: str, document: dict[str, Any]) -> str:
    response = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre, document)),
        headers=auth(token, JSON),
    )
    assert response.status_code == 202, response.text
    (summary,) = response.json()["documents"]
    assert summary["status"] == "ACCEPTED", summary
    return str(summary["id"])


def pair(client: TestClient, sessions: sessionmaker[Session], day: str) -> tuple[str, str]:
    """Two centres bill one patient for the same visit on ``day``: the first received, then
    the second."""
    first, second = (f.make_centre(sessions) for _ in range(2))
    visit = f.outpatient_visit([f.line("970000", 1, 700_000)], service_date=day)
    again = f.outpatient_visit([f.line("970000", 1, 700_000)], service_date=day)
    again["outpatientVisit"]["patient"] = visit["outpatientVisit"]["patient"]
    return (
        submit(client, first[1], first[0].code, visit),
        submit(client, second[1], second[0].code, again),
    )


def rows(sessions: sessionmaker[Session], document_id: str) -> list[tuple[Any, ...]]:
    """The document's line figures and deductions."""
    with sessions() as session:
        key = uuid.UUID(document_id)
        pricing = session.execute(
            select(LinePricing.eligible_amount, LinePricing.deduction_amount).where(
                LinePricing.document_id == key
            )
        ).all()
        deductions = session.execute(
            select(LineDeduction.reason, LineDeduction.amount, LineDeduction.detail).where(
                LineDeduction.document_id == key
            )
        ).all()
    return [tuple(row) for row in pricing] + [tuple(row) for row in deductions]


def expected(first: str, day: str) -> dict[str, list[tuple[Any, ...]]]:
    detail = (
        f"970000 on {day} is already billed for this patient in document {first} of another centre"
    )
    return {
        "first": [(700_000, 0)],
        "second": [(0, 700_000), ("duplicate-line", 700_000, detail)],
    }


@pytest.mark.parametrize("order", ["received", "reversed"])
def test_the_later_bill_is_the_duplicate_whichever_is_priced_first(
    client: TestClient, sessions: sessionmaker[Session], order: str
) -> None:
    day = "2026-09-03" if order == "received" else "2026-09-04"
    first, second = pair(client, sessions, day)
    price_all(sessions, [first, second] if order == "received" else [second, first])
    assert {"first": rows(sessions, first), "second": rows(sessions, second)} == expected(
        first, day
    )


def test_a_batch_judges_by_receipt_not_by_its_own_order(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """The later bill first in one batch: the earlier one, priced after it, still pays."""
    first, second = pair(client, sessions, "2026-09-07")
    with transaction(sessions) as session:
        price_stored_documents(
            session=session,
            ids=[uuid.UUID(second), uuid.UUID(first)],
            books=TariffCache(),
            policies=POLICIES,
        )
    assert {"first": rows(sessions, first), "second": rows(sessions, second)} == expected(
        first, "2026-09-07"
    )


def _worker_process(url: str, document_id: str, barrier: Any) -> None:
    """A worker process running the pricing task's body for one document, configured from
    the environment as a worker is; it reads the patient's bills, then waits for the other
    process to have read them too, so that neither sees what the other writes."""
    os.environ.update(GATEWAY_DATABASE_URL=url, GATEWAY_CLOCK_DATE=f.TODAY.isoformat())
    from workers import tasks  # after the environment: its settings are read from it

    read = store.billed_services

    def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        barrier.wait(timeout=60)
        return found

    store.billed_services = read_then_wait
    assert tasks.price_document_task.run(document_id) == "priced"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_processes_pricing_the_pair_at_once_agree(
    client: TestClient, sessions: sessionmaker[Session], database_url: str
) -> None:
    first, second = pair(client, sessions, "2026-09-05")
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    workers = [
        spawn.Process(target=_worker_process, args=(database_url, document, barrier))
        for document in (second, first)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert {"first": rows(sessions, first), "second": rows(sessions, second)} == expected(
        first, "2026-09-05"
    )


def test_another_centres_bill_is_warned_about_and_deducted(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """The submission check warns of what pricing will deduct: a service another centre
    billed first for the patient (docs/pricing.md, question 7)."""
    (first, first_token), (second, second_token) = (f.make_centre(sessions) for _ in range(2))
    visit = f.outpatient_visit([f.line("970000", 1, 700_000)], service_date="2026-09-08")
    again = f.outpatient_visit([f.line("970000", 1, 700_000)], service_date="2026-09-08")
    again["outpatientVisit"]["patient"] = visit["outpatientVisit"]["patient"]
    outcomes = []
    for centre, token, document in ((first, first_token, visit), (second, second_token, again)):
        answer = client.post(
            "/v1/submissions",
            content=f.as_json(f.submission(centre.code, document)),
            headers=auth(token, JSON),
        ).json()
        (summary,) = answer["documents"]
        outcomes.append((summary["outcome"], [w["code"] for w in summary["warnings"]]))
    assert outcomes == [
        ("ACCEPTED", []),
        ("ACCEPTED_WITH_WARNINGS", ["line.possible-duplicate"]),
    ]


def test_a_denied_earlier_bill_still_holds_the_service(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """An auditor denies the earlier bill before the later one is priced: the later one is
    still the duplicate, as it would have been priced a moment before the denial."""
    first, second = pair(client, sessions, "2026-09-09")
    to_review = dataclasses.replace(
        POLICIES, review=dataclasses.replace(POLICIES.review, sample_percent=Decimal(100))
    )
    price_all(sessions, [first], to_review)
    with transaction(sessions) as session:
        denied = reviews.decide(
            session, document_id=uuid.UUID(first), approve=False, reason="no", actor="auditor"
        )
        assert denied.status == "DENIED"
    price_all(sessions, [second])
    assert rows(sessions, second) == expected(first, "2026-09-09")["second"]
