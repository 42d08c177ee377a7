"""Running a batch: its documents stored a chunk at a time, each chunk a transaction.

The one place a batch's work commits, and one of the documented exceptions to "one
session per task" (docs/architecture.md): a batch of 100,000 documents is not one
transaction. Each chunk commits on its own, with its resume point, so a run that stops
(killed, database gone) leaves the batch at its last committed chunk and the next run
(the task redelivered, or sent again) starts after it. Each chunk first claims the batch
row at the resume point it expects, so two runs never store the same chunk. What a chunk
stores is ``gateway.batches.service``'s business; this module only reads ahead, commits,
retries a chunk that met a concurrent insert, and publishes what committed.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.batches import service
from gateway.batches.reading import EnvelopeError, Item, read_items
from gateway.kit.db import transaction
from gateway.kit.outbox import Pending
from gateway.settings import Settings
from validators.problems import Problem
from validators.schema import Format

log = logging.getLogger(__name__)
Publish = Callable[[Sequence[Pending]], object]


def process_batch(
    *,
    sessions: sessionmaker[Session],
    batch_id: uuid.UUID,
    settings: Settings,
    publish: Publish | None = None,
) -> str:
    """Store the batch's documents from its resume point on: "done", "failed",
    "finished" (nothing left to do) or "superseded" (another run is ahead)."""
    with transaction(sessions) as session:
        started = service.start(session, batch_id)
    if started is None:
        return "finished"
    batch, centre = started
    run = service.Run(batch, centre, settings)
    items = read_items(
        Path(batch.file_path),
        Format(batch.format),
        centre_code=centre.code,
        start=batch.documents_read,
    )
    try:
        with _ahead(_chunks(items, settings.batch_chunk_documents)) as chunks:
            for chunk in chunks:
                if not _store(sessions, run, chunk, publish):
                    return "superseded"
    except EnvelopeError as refused:
        return _end(sessions, batch.id, "failed", refused.problems)
    return _end(sessions, batch.id, "done")


def _store(
    sessions: sessionmaker[Session], run: service.Run, chunk: list[Item], publish: Publish | None
) -> bool:
    """Commit a chunk; False when another run has already moved past it."""
    for attempt in range(3):
        try:
            with transaction(sessions) as session:
                pending = run.store(session, chunk)
            break
        except IntegrityError:
            # A document number taken meanwhile by another submission: judged again,
            # it is now a duplicate.
            if attempt == 2:
                raise
            log.info("batch %s: chunk at %d met a concurrent insert", run.batch.id, run.read)
    if pending is None:
        return False
    if publish is not None and pending:
        publish(pending)
    if run.stored(chunk):
        with transaction(sessions) as session:
            run.analyze(session)
    return True


def _end(
    sessions: sessionmaker[Session],
    batch_id: uuid.UUID,
    status: str,
    problems: list[Problem] | None = None,
) -> str:
    with transaction(sessions) as session:
        service.finish(session, batch_id, status, problems)
    metrics.BATCHES.labels(status).inc()
    for problem in problems or ():
        metrics.VALIDATION_PROBLEMS.labels(problem.code).inc()
    return status


_DONE = object()


@contextmanager
def _ahead(chunks: Iterator[list[Item]], depth: int = 2) -> Iterator[Iterator[list[Item]]]:
    """The chunks, read by a thread of their own up to ``depth`` ahead: the file is parsed
    and checked while the database stores the chunk before (the waits on PostgreSQL
    release the interpreter). Errors of the reading come out where the chunk would."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ready.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)
        finally:
            chunks.close()  # type: ignore[attr-defined]

    reader = threading.Thread(target=read, name="batch-reader", daemon=True)
    reader.start()

    def taken() -> Iterator[list[Item]]:
        while True:
            found = ready.get()
            if found is _DONE:
                return
            if isinstance(found, BaseException):
                raise found
            yield found  # type: ignore[misc]

    try:
        yield taken()
    finally:
        stop.set()
        while reader.is_alive():
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                continue
        reader.join()


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
