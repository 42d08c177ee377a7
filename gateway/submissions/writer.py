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
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs, metrics
from gateway.errors import GatewayError
from gateway.kit.db import transaction
from gateway.kit.outbox import OutboxDispatcher
from gateway.settings import Settings
from gateway.submissions.service import Arrival, Group, Ingested, ingest_many

MAX_GROUP_DOCUMENTS = 500
# PostgreSQL's deadlock and serialization failures: the whole group is retried one by one.
RETRYABLE_STATES = frozenset({"40P01", "40001"})


@dataclass(slots=True)
class _Job:
    arrival: Arrival
    documents: int
    answer: Future[Ingested]
    request_id: str | None


class IngestWriter:
    """Stores submissions handed over by concurrent requests, several per transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, dispatcher: OutboxDispatcher
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.dispatcher = dispatcher
        self.inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._connection: Connection | None = None
        self._start_lock = threading.Lock()

    async def store(self, arrival: Arrival, documents: int) -> Ingested:
        """The stored submission once its transaction has committed; raises its
        GatewayError when it was refused."""
        return await asyncio.wrap_future(self.submit(arrival, documents))

    def submit(self, arrival: Arrival, documents: int) -> Future[Ingested]:
        self.start()
        answer: Future[Ingested] = Future()
        self.inbox.put(_Job(arrival, documents, answer, logs.request_id.get()))
        return answer

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
            if jobs:
                self._commit(jobs)

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
