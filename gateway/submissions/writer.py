"""Group commit: one thread per API process stores the submissions of concurrent requests
in shared transactions.

A request parses its body, hands it over with ``store`` and waits; the writer takes
everything waiting (up to ``MAX_GROUP_DOCUMENTS``), judges and stores it in one
transaction (``ingest_many``: the reference data read once, rows written in bulk, one
lock on the audit chain, one commit), and only after that commit answers each request.
While one group commits, the next gathers, so the more requests arrive at once the
larger the groups and the fewer the commits; a lone request is a group of one.

A group that meets a concurrent insert of the same document number or idempotency key
(or a deadlock) is rolled back whole, and each of its submissions is then stored alone,
as a request on its own would be after such a conflict: judged again, it is now a
duplicate or a replay.

Under overload the writer sheds instead of queueing (``ingest_max_wait_s``): a request
that would wait longer than that to be written is refused at once with a 503, at the
front door before any of the application's work (``expected_wait``, ``shed_at_door``;
``kit.frontdoor``, which also limits how many requests it lets in by the time they take
to be answered) or, if the wait grew meanwhile, by the route before its body is parsed
(``admit``); and a handed-over submission that has already waited longer when the writer
comes to it is refused instead of stored. The wait is foreseen from what is ahead of it
(documents queued and in the group being committed) times the recent commit time a
document. The event loop's lag (``kit.looplag``) is measured and exported, but is no
reason to refuse: a loop behind because other processes took the CPU is not shortened
by refusing, and the door's limit sees the requests' own answer times.

Refusing needs a crowd: with fewer than ``InFlight.FEW`` ingest requests in flight
(counted at the front door, ``in_flight``) nothing is refused, whatever the wait. A
handful of requests cannot overload the gateway, and their wait is then the host's (a
machine busy with other work, one slow commit on a slow disk); refusing them would
shorten nothing, while each waits for at most a few requests' work.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs, metrics
from gateway.errors import GatewayError, OverloadedError
from gateway.kit.db import transaction
from gateway.kit.frontdoor import InFlight
from gateway.kit.looplag import LoopLag
from gateway.kit.outbox import OutboxDispatcher
from gateway.settings import Settings
from gateway.submissions.service import Arrival, Group, Ingested, ingest_many

MAX_GROUP_DOCUMENTS = 500
# PostgreSQL's deadlock and serialization failures: the whole group is retried one by one.
RETRYABLE_STATES = frozenset({"40P01", "40001"})
# Weight of the newest group in the commit time a document: a few groups' worth of memory,
# so that the estimate follows the load within a fraction of a second.
RECENT_WEIGHT = 0.3
# Readiness says "shedding" for this long after the last refusal.
SHEDDING_SHOWN_S = 10.0


@dataclass(slots=True)
class _Job:
    arrival: Arrival
    documents: int
    answer: Future[Ingested]
    request_id: str | None
    queued_at: float


class IngestWriter:
    """Stores submissions handed over by concurrent requests, several per transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        dispatcher: OutboxDispatcher,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.dispatcher = dispatcher
        self.clock = clock
        self._load = _Load()
        self.inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._connection: Connection | None = None
        self._start_lock = threading.Lock()
        self.loop_lag = LoopLag()
        # The ingest requests in flight, counted by the front door: refusing needs a crowd.
        self.in_flight = InFlight(settings.ingest_max_wait_s)

    async def store(self, arrival: Arrival, documents: int) -> Ingested:
        """The stored submission once its transaction has committed; raises its
        GatewayError when it was refused."""
        return await asyncio.wrap_future(self.submit(arrival, documents))

    def submit(self, arrival: Arrival, documents: int) -> Future[Ingested]:
        self.start()
        answer: Future[Ingested] = Future()
        now = self.clock()
        with self._load.lock:
            self._load.queued += documents
        self.inbox.put(_Job(arrival, documents, answer, logs.request_id.get(), now))
        return answer

    def admit(self) -> None:
        """Raises OverloadedError (counted) when a submission handed over now would wait
        longer than ``ingest_max_wait_s`` to be written."""
        bound = self.settings.ingest_max_wait_s
        if bound <= 0 or not self.in_flight.crowded():
            return
        wait = self.expected_wait()
        if wait > bound:
            self._shed("arrival")
            raise OverloadedError(wait)

    def shed_at_door(self) -> None:
        """Count a request the front door refused (``kit.frontdoor``)."""
        self._shed("door")

    def expected_wait(self) -> float:
        """Seconds a submission handed over now would wait before the writer takes it,
        foreseen from the documents ahead of it and the recent commit time a document.
        Its own commit is not waiting: a lone request is never refused, however slow."""
        load, now = self._load, self.clock()
        with load.lock:
            ahead = load.queued + load.committing
            left = ahead * load.per_document
            if load.committing:
                left -= now - load.group_began
            return max(0.0, left)

    def shedding(self) -> bool:
        """Whether it refused a submission lately, or would refuse one now."""
        bound = self.settings.ingest_max_wait_s
        if bound <= 0:
            return False
        recent = self.clock() - self._load.last_shed < SHEDDING_SHOWN_S
        return recent or (self.in_flight.crowded() and self.expected_wait() > bound)

    def _shed(self, stage: str) -> None:
        metrics.INGEST_SHED.labels(stage).inc()
        self._load.last_shed = self.clock()

    def start(self) -> None:
        with self._start_lock:
            if not self._thread.is_alive() and self._thread.ident is None:
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Store what was handed over, then end."""
        if self._thread.ident is not None:
            self.inbox.put(None)
            self._thread.join(timeout)
        if self._connection is not None and not self._thread.is_alive():
            self._connection.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            jobs, stopping = self._gather()
            jobs = self._in_time(jobs)
            if jobs:
                self._commit_timed(jobs)

    def _in_time(self, jobs: list[_Job]) -> list[_Job]:
        """The jobs taken from the queue that have not waited past the bound; the others
        are answered 503 unstored (their clients were told to wait no longer)."""
        now, bound = self.clock(), self.settings.ingest_max_wait_s
        with self._load.lock:
            self._load.queued -= sum(job.documents for job in jobs)
        if bound <= 0 or not self.in_flight.crowded():
            return jobs
        kept = []
        for job in jobs:
            if now - job.queued_at > bound:
                self._shed("queue")
                job.answer.set_exception(OverloadedError(self.expected_wait()))
            else:
                kept.append(job)
        return kept

    def _commit_timed(self, jobs: list[_Job]) -> None:
        """Commit the group, noting how long it took a document for the estimate."""
        documents, load = sum(job.documents for job in jobs), self._load
        with load.lock:
            load.committing, load.group_began = documents, self.clock()
        try:
            self._commit(jobs)
        finally:
            with load.lock:
                load.note(self.clock() - load.group_began, documents)
                load.committing = 0

    def _gather(self) -> tuple[list[_Job], bool]:
        """What is waiting now (blocking for the first), up to MAX_GROUP_DOCUMENTS
        documents; and whether the writer was asked to stop."""
        first = self.inbox.get()
        if first is None:
            return [], True
        jobs, documents = [first], first.documents
        while documents < MAX_GROUP_DOCUMENTS:
            try:
                job = self.inbox.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            documents += job.documents
        return jobs, False

    def _commit(self, jobs: list[_Job], *, alone: bool = False) -> None:
        """Store the jobs in one transaction and answer them. After a conflict each is
        stored again alone: judged again, it now sees the other side's committed rows
        (a duplicate, or a replay). Alone, a second conflict is its answer (a 500)."""
        try:
            group = self._transaction(jobs)
        except Exception as error:
            if alone or not _retryable(error):
                _fail(jobs, error)
                return
            if len(jobs) > 1:
                metrics.INGEST_GROUP_RETRIES.inc()
            for job in jobs:
                self._commit([job], alone=True)
            return
        self._answer(jobs, group)

    def _transaction(self, jobs: list[_Job]) -> Group:
        with self._session() as session:
            group = ingest_many(
                session=session,
                arrivals=[job.arrival for job in jobs],
                max_documents=self.settings.max_documents_per_submission,
                settings=self.settings,
            )
        metrics.INGEST_GROUP_SUBMISSIONS.observe(len(jobs))
        return group

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session in a transaction that commits when the block ends. On PostgreSQL it
        runs on a connection the writer keeps (the pool would ping it at every checkout).
        A connection that broke fails its group (500: nothing is answered 202 that may not
        have been committed) and is replaced for the next one."""
        engine = self.sessions.kw.get("bind")
        if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
            with transaction(self.sessions) as session:
                yield session
            return
        if self._connection is not None and self._connection.invalidated:
            self._connection.close()
            self._connection = None
        if self._connection is None:
            self._connection = engine.connect()
        with self._connection.begin(), Session(self._connection) as session:
            yield session

    def _answer(self, jobs: list[_Job], group: Group) -> None:
        # The tasks' log lines carry the ids of the requests whose documents they handle.
        token = logs.request_id.set(_request_ids(jobs))
        try:
            self.dispatcher.notify(group.outbox)
        finally:
            logs.request_id.reset(token)
        for job, outcome in zip(jobs, group.outcomes, strict=True):
            if isinstance(outcome, GatewayError):
                job.answer.set_exception(outcome)
            else:
                job.answer.set_result(outcome)


class _Load:
    """What the writer has ahead of it, for the wait a new submission would see."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued = 0  # documents handed over, not yet taken into a group
        self.committing = 0  # documents of the group being committed
        self.group_began = 0.0
        self.per_document = 0.0  # recent seconds of commit a document
        self.last_shed = -math.inf
        self._seconds = 0.0  # recent groups' commit time and size, weighted to the newest
        self._documents = 0.0

    def note(self, seconds: float, documents: int) -> None:
        """A group's commit time into the time a document: the recent groups' seconds over
        their documents, so that large groups (the ones an overload brings) weigh as much
        as their size, and a group's fixed cost is not charged in full to each document."""
        weight = RECENT_WEIGHT if self._documents else 1.0
        self._seconds += weight * (seconds - self._seconds)
        self._documents += weight * (max(1, documents) - self._documents)
        self.per_document = self._seconds / self._documents


def _request_ids(jobs: list[_Job], shown: int = 8) -> str | None:
    """The group's request ids joined by "+" (the first ``shown`` of them)."""
    ids = list(dict.fromkeys(job.request_id for job in jobs if job.request_id))
    if len(ids) > shown:
        ids[shown:] = [f"and-{len(ids) - shown}-more"]
    return "+".join(ids) or None


def _retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return state in RETRYABLE_STATES


def _fail(jobs: list[_Job], error: Exception) -> None:
    for job in jobs:
        if not job.answer.done():
            job.answer.set_exception(error)
