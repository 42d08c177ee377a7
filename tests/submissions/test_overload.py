"""Under overload the submit route sheds instead of queueing: a submission that would wait
longer than ``ingest_max_wait_s`` to be written is refused at once (503 overloaded,
Retry-After, counted, nothing stored), and readiness says so.

The writer runs on a fake clock and its commits are held on purpose, so that the waits
are set by the test, never measured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.errors import OverloadedError
from gateway.kit.looplag import STANDING_TICKS
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Document, Submission
from gateway.submissions.service import Group, Ingested
from gateway.submissions.writer import SHEDDING_SHOWN_S, IngestWriter, _Job
from tests import factories as f
from tests.app.test_front_door import crowd
from tests.submissions.test_group_commit import Dispatcher, arrival, centre_of, in_one_group

JSON = {"Content-Type": "application/json"}
COMMIT_S = 0.1  # what a document's commit "takes" on the fake clock


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HeldWriter(IngestWriter):
    """A writer whose commits wait for ``go`` and take COMMIT_S a document on the clock."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        super().__init__(sessions, settings, Dispatcher(), clock)  # type: ignore[arg-type]
        self.fake = clock
        self.committing = threading.Event()
        self.go = threading.Event()
        self.go.set()

    def _transaction(self, jobs: list[_Job]) -> Group:
        self.committing.set()
        assert self.go.wait(30), "the test never let the commit go on"
        self.fake.now += COMMIT_S * sum(job.documents for job in jobs)
        return super()._transaction(jobs)


@pytest.fixture
def bounded(settings: Settings) -> Settings:
    return settings.model_copy(update={"ingest_max_wait_s": 0.2})


@pytest.fixture
def held(sessions: sessionmaker[Session], bounded: Settings) -> Iterator[HeldWriter]:
    writer = HeldWriter(sessions, bounded, Clock())
    crowd(writer.in_flight)  # a crowd in flight: the waits below are theirs
    yield writer
    writer.go.set()
    writer.stop()


def stored_numbers(sessions: sessionmaker[Session], numbers: list[str]) -> set[str]:
    with sessions() as session:
        found = session.scalars(
            select(Document.external_id).where(Document.external_id.in_(numbers))
        )
        return set(found)


def numbered(centre_code: str) -> tuple[dict[str, Any], str]:
    visit = f.outpatient_visit()
    (body,) = visit.values()
    return f.submission(centre_code, visit), body["documentNumber"]


def test_a_queued_submission_that_waited_past_the_bound_is_refused_unstored(
    held: HeldWriter, sessions: sessionmaker[Session]
) -> None:
    centre = centre_of(sessions)
    (late, late_number), (fresh, fresh_number) = numbered(centre.code), numbered(centre.code)
    shed = metrics.INGEST_SHED.labels("queue")._value.get()
    start, held.start = held.start, lambda: None  # type: ignore[method-assign]
    late_answer = held.submit(arrival(centre, late), 1)
    held.fake.now += 0.25
    fresh_answer = held.submit(arrival(centre, fresh), 1)
    held.fake.now += 0.05  # late has waited 0.3 s, fresh 0.05 s, when the writer takes them
    held.start = start  # type: ignore[method-assign]
    held.start()
    assert isinstance(fresh_answer.result(timeout=30), Ingested)
    refused = late_answer.exception(timeout=30)
    assert isinstance(refused, OverloadedError)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert [p.code for p in refused.to_problems()] == ["overloaded"]
    assert metrics.INGEST_SHED.labels("queue")._value.get() == shed + 1
    assert stored_numbers(sessions, [late_number, fresh_number]) == {fresh_number}


def test_without_a_bound_nothing_is_refused(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    unbounded = settings.model_copy(update={"ingest_max_wait_s": 0})
    writer = HeldWriter(sessions, unbounded, Clock())
    try:
        stored_after_waiting(writer, sessions, 60.0)
        writer.admit()
        assert not writer.shedding()
    finally:
        writer.stop()


def stored_after_waiting(
    writer: HeldWriter, sessions: sessionmaker[Session], seconds: float
) -> None:
    """One submission handed over, left ``seconds`` in the queue (on the fake clock) before
    the writer starts: it is stored, not refused."""
    centre = centre_of(sessions)
    data, number = numbered(centre.code)
    start, writer.start = writer.start, lambda: None  # type: ignore[method-assign]
    answer = writer.submit(arrival(centre, data), 1)
    writer.fake.now += seconds
    writer.start = start  # type: ignore[method-assign]
    writer.start()
    assert isinstance(answer.result(timeout=30), Ingested)
    assert stored_numbers(sessions, [number]) == {number}


def test_a_request_that_would_wait_too_long_gets_503_at_once_and_nothing_is_stored(
    client: TestClient, held: HeldWriter, sessions: sessionmaker[Session]
) -> None:
    client.app.state.ingest_writer = held  # type: ignore[attr-defined]
    centre, token = f.make_centre(sessions)
    auth = {"Authorization": f"Bearer {token}", **JSON}
    row = centre_of_code(sessions, centre.code)
    # A first commit of one document "takes" 0.1 s: the writer's estimate a document.
    in_one_group(held, [arrival(row, numbered(centre.code)[0])])[0].result(30)
    # Nothing ahead: no wait, however long the commit itself takes.
    within, within_number = numbered(centre.code)
    answer = client.post("/v1/submissions", content=f.as_json(within), headers=auth)
    assert answer.status_code == 202
    assert client.get("/readyz").json()["shedding"] is False

    # Hold a commit of one document with two queued behind it, at 0.1 s a document: one
    # more would wait 0.3 s before the writer takes it.
    held.go.clear()
    held.committing.clear()
    committing = held.submit(arrival(row, numbered(centre.code)[0]), 1)
    assert held.committing.wait(30)
    queued = [held.submit(arrival(row, numbered(centre.code)[0]), 1) for _ in range(2)]
    assert held.expected_wait() == pytest.approx(0.3)
    shed = metrics.INGEST_SHED.labels("arrival")._value.get()
    refused, refused_number = numbered(centre.code)
    before = count(sessions, Submission)
    answer = client.post("/v1/submissions", content=f.as_json(refused), headers=auth)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    (error,) = answer.json()["errors"]
    assert (error["code"], error["path"], error["line"]) == ("overloaded", None, None)
    assert "nothing was stored" in error["message"]
    assert metrics.INGEST_SHED.labels("arrival")._value.get() == shed + 1
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["shedding"]) == (200, True)
    assert client.get("/healthz").status_code == 200

    held.go.set()
    assert isinstance(committing.result(timeout=30), Ingested)
    assert all(isinstance(q.result(timeout=30), Ingested) for q in queued)
    assert count(sessions, Submission) == before + 3
    assert stored_numbers(sessions, [within_number, refused_number]) == {within_number}
    held.fake.now += SHEDDING_SHOWN_S + 1
    assert client.get("/readyz").json()["shedding"] is False


def test_the_503_is_a_documented_answer_of_the_route(client: TestClient) -> None:
    post = client.get("/openapi.json").json()["paths"]["/v1/submissions"]["post"]
    assert "Retry-After" in post["responses"]["503"]["headers"]


def centre_of_code(sessions: sessionmaker[Session], code: str) -> Any:
    with sessions() as session:
        return repository.get_centre_by_code(session, code)


def count(sessions: sessionmaker[Session], table: type[Any]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_lagging_event_loop_is_measured_but_refuses_nothing(held: HeldWriter) -> None:
    """The loop's lag (the wait before a request's code runs) is exported, but it is no
    reason to refuse at arrival: a loop behind because other processes took the CPU is
    not shortened by refusing, and the door's limit judges the requests' own answer
    times (``kit.frontdoor.InFlight``)."""
    assert held.expected_wait() == 0
    for _ in range(STANDING_TICKS):
        held.loop_lag.note(0.3)
    shed = metrics.INGEST_SHED.labels("arrival")._value.get()
    held.admit()
    assert metrics.INGEST_SHED.labels("arrival")._value.get() == shed
    assert held.loop_lag.seconds == pytest.approx(0.3)
    assert metrics.EVENT_LOOP_LAG._value.get() == pytest.approx(held.loop_lag.average)
    assert not held.shedding()


def test_the_loop_lag_ticker_sees_a_blocked_loop() -> None:
    """The ticker really measures: a loop blocked by a synchronous sleep wakes it late by
    at least that much (a lower bound only, so a busy machine cannot fail it)."""
    import asyncio
    import time

    from gateway.kit.looplag import LoopLag

    async def scenario() -> float:
        lag = LoopLag(tick=0.005)
        lag.start()
        await asyncio.sleep(0.02)  # let it tick
        time.sleep(0.15)  # the loop is blocked: the ticker cannot wake
        seen = 0.0
        for _ in range(3):  # the late tick lands within the next few turns of the loop
            await asyncio.sleep(0)
            seen = max(seen, max(lag.recent))
        await lag.stop()
        return seen

    assert asyncio.run(scenario()) >= 0.1


def test_a_handful_of_requests_is_never_refused_however_long_they_wait(
    sessions: sessionmaker[Session], bounded: Settings
) -> None:
    """With fewer than FEW ingest requests in flight, neither the loop's lag nor a queue
    that waited past the bound refuses: the wait is the host's, not theirs."""
    writer = HeldWriter(sessions, bounded, Clock())
    try:
        for _ in range(STANDING_TICKS):
            writer.loop_lag.note(0.5)
        writer.in_flight.enter()  # the request itself
        writer.admit()
        stored_after_waiting(writer, sessions, 5.0)  # 5 s behind a slow commit
        assert not writer.shedding()
    finally:
        writer.stop()
