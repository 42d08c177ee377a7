"""The API's group commit: submissions handed to the writer together share a transaction,
each judged as if it came after the ones before it, each answered only once stored."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.errors import GatewayError
from gateway.kit.outbox import Pending
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import AuditEntry, Document, OutboxMessage, Submission
from gateway.submissions.service import Arrival, Ingested, parse_valid
from gateway.submissions.writer import IngestWriter
from tests import factories as f
from tests import services
from validators.schema import Format


class Dispatcher:
    """Takes what the writer hands over after each commit."""

    def __init__(self) -> None:
        self.messages: list[Pending] = []

    def notify(self, messages: list[Pending]) -> None:
        self.messages += messages


def arrival(centre: Any, data: dict[str, Any], key: str | None = None) -> Arrival:
    body = f.as_json(data)
    return Arrival(
        centre, body, Format.JSON, "application/json", key, parse_valid(body, Format.JSON)
    )


def in_one_group(writer: IngestWriter, arrivals: list[Arrival]) -> list[Future[Ingested]]:
    """Hands the arrivals over before the writer starts, so that it takes them as one group."""
    start, writer.start = writer.start, lambda: None  # type: ignore[method-assign]
    answers = [writer.submit(a, len(a.parsed.documents) if a.parsed else 1) for a in arrivals]
    writer.start = start  # type: ignore[method-assign]
    writer.start()
    return answers


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher()


@pytest.fixture
def writer(
    sessions: sessionmaker[Session], settings: Settings, dispatcher: Dispatcher
) -> Iterator[IngestWriter]:
    writer = IngestWriter(sessions, settings, dispatcher)  # type: ignore[arg-type]
    yield writer
    writer.stop()


def centre_of(sessions: sessionmaker[Session]) -> Any:
    centre, _ = f.make_centre(sessions)
    with sessions() as session:
        return repository.get_centre_by_code(session, centre.code)


def test_a_group_is_judged_in_order_and_answered_after_its_commit(
    writer: IngestWriter, dispatcher: Dispatcher, sessions: sessionmaker[Session]
) -> None:
    centre = centre_of(sessions)
    first = f.outpatient_visit()
    (body,) = first.values()
    again = f.outpatient_visit(number=body["documentNumber"])  # the same number, later
    arrivals = [
        arrival(centre, f.submission(centre.code, first)),
        arrival(centre, f.submission("ANOTHER-CENTRE")),  # refused as a whole
        arrival(centre, f.submission(centre.code, again)),
        arrival(centre, f.submission(centre.code)),
    ]
    answers = in_one_group(writer, arrivals)
    stored, refused, duplicate, plain = (
        a.exception() or a.result(timeout=services.WAIT_S) for a in answers
    )
    assert isinstance(refused, GatewayError)
    assert refused.status_code == 422
    assert isinstance(stored, Ingested)
    assert isinstance(duplicate, Ingested)
    assert isinstance(plain, Ingested)
    assert [d.status for d in stored.documents] == ["ACCEPTED"]
    assert [d.status for d in duplicate.documents] == ["REJECTED"]
    assert {p["code"] for p in duplicate.documents[0].problems} >= {"document.duplicate"}
    assert [d.status for d in plain.documents] == ["ACCEPTED"]
    with sessions() as session:
        for answer in (stored, duplicate, plain):
            assert session.get(Submission, answer.submission.id) is not None
            (row,) = session.scalars(
                select(Document).where(Document.submission_id == answer.submission.id)
            )
            assert row.status == answer.documents[0].status
    priced = [m for m in dispatcher.messages if m.task == "gateway.price_documents"]
    assert [m.payload for m in priced] == [
        {"document_ids": [str(stored.documents[0].id), str(plain.documents[0].id)]}
    ]


def test_a_group_that_meets_a_taken_key_is_stored_again_one_by_one(
    writer: IngestWriter, sessions: sessionmaker[Session]
) -> None:
    centre = centre_of(sessions)
    key = str(uuid.uuid4())
    data = f.submission(centre.code)
    retries = metrics.INGEST_GROUP_RETRIES._value.get()
    answers = in_one_group(writer, [arrival(centre, data, key) for _ in range(4)])
    results = [a.result(timeout=services.WAIT_S) for a in answers]
    assert metrics.INGEST_GROUP_RETRIES._value.get() == retries + 1
    assert len({r.submission.id for r in results}) == 1
    assert [r.replayed for r in results] == [False, True, True, True]
    with sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Submission).where(Submission.idempotency_key == key)
        )
    assert count == 1


def test_each_move_of_a_group_has_its_audit_entry_in_one_chain(
    writer: IngestWriter, sessions: sessionmaker[Session]
) -> None:
    centre = centre_of(sessions)
    answers = in_one_group(writer, [arrival(centre, f.submission(centre.code)) for _ in range(5)])
    ids = {str(a.result(timeout=services.WAIT_S).documents[0].id) for a in answers}
    with sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_id.in_(ids)).order_by(AuditEntry.seq)
        ).all()
        assert len(entries) == 2 * len(ids)
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        pending = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.task == "gateway.price_documents")
        ).all()
        assert [set(p["document_ids"]) for p in pending if ids & set(p["document_ids"])] == [ids]


def test_a_request_waits_for_its_own_commit(
    writer: IngestWriter, sessions: sessionmaker[Session]
) -> None:
    """While the writer is held inside a transaction, the answer does not come."""
    centre = centre_of(sessions)
    inside, release = threading.Event(), threading.Event()
    real = writer._transaction

    def held(jobs: Any) -> Any:
        inside.set()
        release.wait(30)
        return real(jobs)

    writer._transaction = held  # type: ignore[method-assign]
    answer = writer.submit(arrival(centre, f.submission(centre.code)), 1)
    assert inside.wait(30)
    assert not answer.done()
    release.set()
    stored = answer.result(timeout=services.WAIT_S)
    with sessions() as session:
        assert session.get(Submission, stored.submission.id) is not None


def test_a_group_warns_of_a_service_another_centre_of_the_group_billed(
    writer: IngestWriter, sessions: sessionmaker[Session]
) -> None:
    """Services count across centres, within a group too: the later of two centres
    billing one patient's visit in the same group is warned of the earlier's bill."""
    first, second = centre_of(sessions), centre_of(sessions)
    visit = f.outpatient_visit([f.line("800020", 1, 100_000)])
    again = f.outpatient_visit([f.line("800020", 1, 100_000)])
    again["outpatientVisit"]["patient"] = visit["outpatientVisit"]["patient"]
    answers = in_one_group(
        writer,
        [
            arrival(first, f.submission(first.code, visit)),
            arrival(second, f.submission(second.code, again)),
        ],
    )
    earlier, later = (a.result(timeout=30) for a in answers)
    assert [p["code"] for p in earlier.documents[0].problems] == []
    assert [p["code"] for p in later.documents[0].problems] == ["line.possible-duplicate"]
