"""Pricing in batches gives, row for row, what pricing one document at a time gives, and a
batch priced twice leaves one set of rows and one status path; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.broker import PRICE_DOCUMENT, PRICE_DOCUMENTS
from gateway.kit.db import transaction
from gateway.pricing.service import TariffCache, price_stored_documents
from gateway.storage.models import (
    Document,
    DocumentLine,
    LineDeduction,
    LinePricing,
    StatusEvent,
)
from tests import factories as f
from tests.submissions.test_submissions import JSON, POLICIES, auth, price_all
from workers import tasks
from workers.app import celery_app

PRICED = ("PRICED", "APPROVED", "UNDER_REVIEW")


def surgery_package(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "surgeryPackage": {
            "documentNumber": f"SP-{uuid.uuid4().hex[:10]}",
            "patient": f.patient(),
            "physician": {"medicalCouncilNumber": "167310", "grade": "specialist"},
            "packageCode": "P400100",
            "admissionDate": "2026-11-09",
            "dischargeDate": "2026-11-11",
            "lines": lines,
            "totalAmount": sum(line["amount"] for line in lines),
        }
    }


def varied_documents() -> list[dict[str, Any]]:
    """Every kind of deduction, a package, drugs, and a patient billed twice for a service."""
    visit = f.outpatient_visit(
        [
            f.line("970000", 1, 800_000),  # above tariff
            f.line("800010", 3, 300_000),  # quantity above the limit of 2
            f.line("999999", 1, 50_000),  # not in the tariff
            f.line("800020", 1, 100_000),
            f.line("800020", 1, 100_000),  # duplicate of the line before
            f.line("2001001", 20, 5_000, "drug"),
        ]
    )
    again = f.outpatient_visit([f.line("970000", 1, 700_000), f.line("800030", 1, 400_000)])
    again["outpatientVisit"]["patient"] = visit["outpatientVisit"]["patient"]  # paid already
    inpatient = f.inpatient_bill(
        [
            f.line("300100", 3, 5_000_000),
            f.line("2001007", 4, 60_000, "drug"),
            f.line("950100", 1, 90_000_000),  # not covered
        ]
    )
    package = surgery_package(
        [
            f.line("400100", 1, 100_000_000),
            f.line("300100", 3, 6_000_000),
            f.line("2001007", 6, 62_000, "drug"),
            f.line("800020", 1, 200_000),
        ]
    )
    cheap = f.outpatient_visit([f.line("800060", 1, 100_000)])
    return [visit, again, inpatient, package, cheap]


def submit_all(client: TestClient, token: str, centre_code: str) -> list[uuid.UUID]:
    ids = []
    for document in varied_documents():  # one submission each: the later ones may repeat
        body = f.as_json(f.submission(centre_code, document))
        response = client.post("/v1/submissions", content=body, headers=auth(token, JSON))
        assert response.status_code == 202, response.text
        (summary,) = response.json()["documents"]
        assert summary["status"] == "ACCEPTED", summary
        ids.append(uuid.UUID(summary["id"]))
    return ids


def snapshot(sessions: sessionmaker[Session], ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Every stored figure of these documents' pricing, in a comparable form."""
    result = []
    with sessions() as session:
        for document_id in ids:
            document = session.get_one(Document, document_id)
            lines = session.scalars(
                select(DocumentLine.id)
                .where(DocumentLine.document_id == document_id)
                .order_by(DocumentLine.line_no)
            ).all()
            pricings = {
                row.line_id: {
                    column.key: getattr(row, column.key)
                    for column in LinePricing.__table__.columns
                    if column.key != "id"
                }
                for row in session.scalars(
                    select(LinePricing).where(LinePricing.document_id == document_id)
                )
            }
            deductions = session.execute(
                select(
                    LineDeduction.line_id,
                    LineDeduction.reason,
                    LineDeduction.amount,
                    LineDeduction.detail,
                )
                .where(LineDeduction.document_id == document_id)
                .order_by(LineDeduction.id)
            ).all()
            events = session.execute(
                select(
                    StatusEvent.from_status,
                    StatusEvent.to_status,
                    StatusEvent.actor,
                    StatusEvent.reason,
                )
                .where(StatusEvent.document_id == document_id)
                .order_by(StatusEvent.id)
            ).all()
            result.append(
                {
                    "document": (
                        document.status,
                        document.review_reason,
                        document.pricing_notes,
                        document.tariff_version_id,
                        document.eligible_amount,
                        document.deduction_amount,
                        document.copayment_amount,
                        document.insurer_amount,
                    ),
                    "lines": [pricings[line_id] for line_id in lines],
                    "deductions": [tuple(row) for row in deductions],
                    "events": [tuple(row) for row in events],
                }
            )
    return result


def unprice(sessions: sessionmaker[Session], ids: list[uuid.UUID]) -> None:
    """Put priced documents back where ingest left them, to price them another way."""
    with transaction(sessions) as session:
        session.execute(delete(LineDeduction).where(LineDeduction.document_id.in_(ids)))
        session.execute(delete(LinePricing).where(LinePricing.document_id.in_(ids)))
        session.execute(
            delete(StatusEvent).where(
                StatusEvent.document_id.in_(ids), StatusEvent.to_status.in_(PRICED)
            )
        )
        session.execute(
            update(Document)
            .where(Document.id.in_(ids))
            .values(
                status="ACCEPTED",
                review_reason=None,
                pricing_notes=None,
                tariff_version_id=None,
                eligible_amount=None,
                deduction_amount=None,
                copayment_amount=None,
                insurer_amount=None,
                priced_at=None,
            )
        )


def price_batch(sessions: sessionmaker[Session], ids: list[uuid.UUID]) -> dict[str, int]:
    with transaction(sessions) as session:
        return price_stored_documents(
            session=session, ids=ids, books=TariffCache(), policies=POLICIES
        )


def test_a_batch_stores_exactly_what_one_at_a_time_stores(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    ids = submit_all(client, token, centre.code)
    assert price_batch(sessions, ids) == {"priced": len(ids)}
    batched = snapshot(sessions, ids)
    unprice(sessions, ids)
    price_all(sessions, [str(i) for i in ids])
    assert snapshot(sessions, ids) == batched
    reasons = {reason for document in batched for _, reason, _, _ in document["deductions"]}
    assert reasons == {
        "above-tariff",
        "quantity-above-limit",
        "not-in-tariff",
        "duplicate-line",
        "not-covered",
        "covered-by-package",
    }
    details = [detail for _, reason, _, detail in batched[1]["deductions"]]
    assert any("of this centre" in detail for detail in details)
    assert {document["document"][0] for document in batched} == {"APPROVED", "UNDER_REVIEW"}


def test_a_batch_priced_twice_leaves_one_set_of_rows(client: TestClient, sessions) -> None:
    centre, token = f.make_centre(sessions)
    ids = submit_all(client, token, centre.code)
    first = price_batch(sessions, ids[:3])
    again = price_batch(sessions, [*ids, uuid.uuid4()])  # redelivered, grown, one unknown
    assert (first, again) == (
        {"priced": 3},
        {"already-done": 3, "priced": len(ids) - 3, "missing": 1},
    )
    assert price_batch(sessions, ids) == {"already-done": len(ids)}
    with sessions() as session:
        for document_id in ids:
            lines = session.scalar(
                select(func.count()).where(DocumentLine.document_id == document_id)
            )
            rows = session.scalar(
                select(func.count()).where(LinePricing.document_id == document_id)
            )
            moves = session.execute(
                select(StatusEvent.from_status, StatusEvent.to_status)
                .where(StatusEvent.document_id == document_id)
                .order_by(StatusEvent.id)
            ).all()
            assert rows == lines
            assert [tuple(m) for m in moves][:3] == [
                (None, "RECEIVED"),
                ("RECEIVED", "ACCEPTED"),
                ("ACCEPTED", "PRICED"),
            ]
            assert len(moves) == 4


def test_a_line_priced_twice_is_refused_not_doubled(client: TestClient, sessions) -> None:
    """Pricing clears nothing first: a document is priced only while ACCEPTED, in the
    transaction that moves it on. Were a priced document ever put back to ACCEPTED with
    its rows kept, pricing it again fails on the line's unique key and stores nothing."""
    centre, token = f.make_centre(sessions)
    ids = submit_all(client, token, centre.code)[:1]
    assert price_batch(sessions, ids) == {"priced": 1}
    with transaction(sessions) as session:
        session.execute(update(Document).where(Document.id.in_(ids)).values(status="ACCEPTED"))
    before = snapshot(sessions, ids)
    with pytest.raises(IntegrityError):
        price_batch(sessions, ids)
    assert snapshot(sessions, ids) == before


def test_both_pricing_tasks_are_registered() -> None:
    assert tasks.price_documents_task.name == PRICE_DOCUMENTS
    assert {PRICE_DOCUMENT, PRICE_DOCUMENTS} <= set(celery_app.tasks)
    for name in (PRICE_DOCUMENT, PRICE_DOCUMENTS):
        task = celery_app.tasks[name]
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
    # A worker process reserves only the message it runs: one storing a long batch holds
    # no pricing message back from the idle workers.
    assert celery_app.conf.worker_prefetch_multiplier == 1
