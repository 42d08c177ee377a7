"""Batches: receiving a spooled file, then storing its documents a chunk at a time.

Each chunk is one transaction: the documents the rules accept or reject (rows, lines,
status moves through the journal), those the schema refused, one pricing message per
``batch_pricing_documents`` accepted documents, and the batch's resume point. A run that
stops (killed, database gone) leaves the batch at its last committed chunk; the next run
(the task redelivered, or sent again) starts after it. Each chunk first claims the batch
row at the resume point it expects, so two runs never store the same chunk.

Every document is judged as if it came alone in a submission of its own, in file order:
the rules see the numbers and services accepted before it, in the database and earlier
in the same chunk.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.audit import journal
from gateway.batches import repository as store
from gateway.batches.reading import EnvelopeError, Item, read_items
from gateway.batches.spool import Spooled
from gateway.documents.service import Replacements, problem_of
from gateway.domain import documents as dm
from gateway.domain.lifecycle import DocumentStatus, birth, transition
from gateway.domain.registry import Coverage
from gateway.domain.tariff import TariffBook
from gateway.kit.broker import PRICE_DOCUMENTS, PROCESS_BATCH
from gateway.kit.db import transaction
from gateway.kit.outbox import Pending
from gateway.pricing.service import NoTariffError, TariffCache
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Batch, Centre, Submission, utc_day, utcnow
from validators.business import validate_submission
from validators.context import RuleContext
from validators.problems import Problem, Severity, has_errors
from validators.schema import Format

log = logging.getLogger(__name__)
_books = TariffCache()
Publish = Callable[[Sequence[Pending]], object]


@dataclass(frozen=True, slots=True)
class Received:
    batch: Batch
    outbox: list[Pending]
    replayed: bool = False


def receive(
    *, session: Session, centre: Centre, spooled: Spooled, fmt: Format, folder: Path
) -> Received:
    """The batch of a spooled file: the centre's earlier one for the same bytes, or a new
    one (its file moved to its final name) with the message that starts processing."""
    earlier = store.by_sha256(session, centre.id, spooled.sha256)
    if earlier is not None:
        spooled.path.unlink(missing_ok=True)
        return Received(earlier, [], replayed=True)
    now = utcnow()
    batch_id = uuid.uuid4()
    final = folder / f"{batch_id}.{fmt.value}"
    os.replace(spooled.path, final)
    submission = Submission(
        id=uuid.uuid4(),
        centre_id=centre.id,
        format=fmt.value,
        received_at=now,
        document_count=0,
        accepted_count=0,
        rejected_count=0,
    )
    batch = Batch(
        id=batch_id,
        centre_id=centre.id,
        submission_id=submission.id,
        format=fmt.value,
        file_path=str(final.resolve()),
        sha256=spooled.sha256,
        size=spooled.size,
        status="received",
        documents_read=0,
        accepted_count=0,
        rejected_count=0,
        runs=0,
        received_at=now,
    )
    message = store.add(session, batch=batch, submission=submission, task=PROCESS_BATCH)
    return Received(batch, [message])


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
        started = store.start_run(session, batch_id)
    if started is None:
        return "finished"
    batch, centre = started
    run = _Run(sessions, batch, centre, settings, publish)
    items = read_items(
        Path(batch.file_path),
        Format(batch.format),
        centre_code=centre.code,
        start=batch.documents_read,
    )
    try:
        with _ahead(_chunks(items, settings.batch_chunk_documents)) as chunks:
            for chunk in chunks:
                if not run.store(chunk):
                    return "superseded"
    except EnvelopeError as refused:
        return _end(sessions, batch.id, "failed", refused.problems)
    return _end(sessions, batch.id, "done")


def _end(
    sessions: sessionmaker[Session],
    batch_id: uuid.UUID,
    status: str,
    problems: list[Problem] | None = None,
) -> str:
    errors = [p.to_dict() for p in problems] if problems is not None else None
    with transaction(sessions) as session:
        store.finish(session, batch_id, status, errors)
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


@dataclass(slots=True)
class _Rows:
    documents: list[tuple[Any, ...]]
    lines: list[tuple[Any, ...]]
    rejections: list[tuple[Any, ...]]
    moves: list[journal.Move]
    to_price: list[str]
    accepted: int = 0
    rejected: int = 0


class _Run:
    """One run over a batch: its resume point, and how to store a chunk."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        batch: Batch,
        centre: Centre,
        settings: Settings,
        publish: Publish | None,
    ) -> None:
        self.sessions = sessions
        self.batch = batch
        self.centre = centre
        self.settings = settings
        self.publish = publish
        self.read = batch.documents_read
        # Statistics refreshed after 1,000 documents, then 4,000, 16,000...: the tables
        # grow by a large share at first, then by less and less.
        self.analyze_at = max(1000, self.read * 2)
        self.actor = f"centre:{centre.code}"

    def store(self, chunk: list[Item]) -> bool:
        """Commit a chunk; False when another run has already moved past it."""
        for attempt in range(3):
            try:
                with transaction(self.sessions) as session:
                    if not store.claim_chunk(session, self.batch.id, self.read):
                        return False
                    pending = self._write(session, chunk)
                break
            except IntegrityError:
                # A document number taken meanwhile by another submission: judged again,
                # it is now a duplicate.
                if attempt == 2:
                    raise
                log.info("batch %s: chunk at %d met a concurrent insert", self.batch.id, self.read)
        self.read += len(chunk)
        if self.publish is not None and pending:
            self.publish(pending)
        if self.read >= self.analyze_at:
            with transaction(self.sessions) as session:
                store.analyze_grown(session)
            self.analyze_at = self.read * 4
        return True

    def _write(self, session: Session, chunk: list[Item]) -> list[Pending]:
        rows = self._judge(session, chunk)
        store.store_rows(
            session, documents=rows.documents, lines=rows.lines, rejections=rows.rejections
        )
        size = self.settings.batch_pricing_documents
        payloads = [
            {"document_ids": rows.to_price[start : start + size]}
            for start in range(0, len(rows.to_price), size)
        ]
        pricing = store.add_messages(session, PRICE_DOCUMENTS, payloads)
        store.advance(
            session, self.batch, read=len(chunk), accepted=rows.accepted, rejected=rows.rejected
        )
        # The journal last: it locks the audit chain's head until the commit.
        return journal.record(session, rows.moves) + pricing

    def _judge(self, session: Session, chunk: list[Item]) -> _Rows:
        documents = [item.document for item in chunk if item.document is not None]
        # The chunk's reference reads, as the API's group commit makes them (on PostgreSQL
        # one pipelined round trip of three statements over arrays).
        wanted = repository.CentreLookup(
            {document.number for document in documents},
            {document.patient.national_id for document in documents},
            {line.service_date for document in documents for line in document.lines},
        )
        found = repository.ingest_lookups(session, wanted.national_ids, {self.centre.id: wanted})
        numbers = found.numbers.get(self.centre.id, set())
        services = found.services.get(self.centre.id, set())
        context = self._context(session, found.coverages, numbers, services)
        replacing = Replacements(session, self.centre.id, self.actor, numbers, services)
        rows = _Rows([], [], [], [], [])
        ids = _new_ids(len(chunk))
        problems_seen: Counter[str] = Counter()
        outcomes: Counter[tuple[str, str]] = Counter()
        now = utcnow()
        for item in chunk:
            document = item.document
            if document is None:
                rows.rejections.append(self._rejection(item))
                rows.rejected += 1
                problems_seen.update(p.code for p in item.problems)
                outcomes[(item.kind or "unknown", "rejected")] += 1
                continue
            alone = dm.Submission(self.centre.code, now, [document])
            claim = replacing.prepare([document]).get(0)
            problems = validate_submission(alone, context, centre_code=None).documents[0]
            problems[:0] = problem_of(claim)
            problems_seen.update(p.code for p in problems)
            accepted = not has_errors(problems)
            document_id = next(ids)
            replacing.settle(claim, accepted, document_id)
            self._document(rows, item, document, document_id, problems, accepted, now)
            outcomes[(_KIND[document.kind], "accepted" if accepted else "rejected")] += 1
            if accepted:
                numbers.add(document.duplicate_key)
                patient = document.patient.national_id
                services.update(
                    [(patient, line.code, line.service_date) for line in document.lines]
                )
                rows.to_price.append(str(document_id))
                rows.accepted += 1
            else:
                rows.rejected += 1
        # The replaced documents now: they give up their numbers before the rows go in.
        rows.moves[:0] = replacing.void_all()
        for code, count in problems_seen.items():
            metrics.VALIDATION_PROBLEMS.labels(code).inc(count)
        for (kind, outcome), count in outcomes.items():
            metrics.DOCUMENTS.labels(kind, outcome).inc(count)
        return rows

    def _context(
        self,
        session: Session,
        coverages: dict[str, list[Coverage]],
        numbers: set[str],
        services: set[tuple[str, str, date]],
    ) -> RuleContext:
        """What the rules need for a chunk, as ``server_context`` reads it for a submission;
        ``numbers`` and ``services`` (accepted so far) grow as the chunk is accepted."""
        settings, centre = self.settings, self.centre
        try:
            tariff: TariffBook | None = _books.current(session)
        except NoTariffError:
            tariff = None
        return RuleContext(
            # A batch is judged as of the day it was received (the filing day), however
            # long it waited or however many times it resumed.
            today=settings.clock_date or utc_day(self.batch.received_at),
            centre=repository.centre_info(centre),
            coverages=coverages,
            tariff=tariff,
            accepted_numbers=numbers,
            stored_services=services,
            submission_window_days=settings.submission_window_days,
            referral_provinces=frozenset(settings.referral_provinces),
        )

    def _rejection(self, item: Item) -> tuple[Any, ...]:
        problems = problem_dicts(item.problems)
        return (self.batch.id, item.ordinal, item.number, item.kind, item.path[:200], problems)

    def _document(
        self,
        rows: _Rows,
        item: Item,
        document: dm.Document,
        document_id: uuid.UUID,
        problems: list[Problem],
        accepted: bool,
        now: datetime,
    ) -> None:
        target = DocumentStatus.ACCEPTED if accepted else DocumentStatus.REJECTED
        reason = f"{len(problems)} problem(s)" if problems else "schema and rules passed"
        first = birth(actor=self.actor, at=now)
        second = transition(
            DocumentStatus.RECEIVED, target, actor=self.actor, reason=reason, at=now
        )
        centre_id = self.centre.id
        rows.moves += [
            journal.Move(document_id, centre_id, document.number, first),
            journal.Move(document_id, centre_id, document.number, second),
        ]
        rows.documents.append(
            (
                document_id,
                self.batch.submission_id,
                centre_id,
                item.ordinal,
                _KIND[document.kind],
                document.number,
                target.value,
                document.path[:200],
                document.patient.national_id,
                document.patient.insurance_number,
                document.physician.medical_council_number,
                document.physician.grade,
                document.referral_code,
                document.tracking_code,
                document.category,
                document.package_code,
                document.service_date,
                document.admission_date,
                document.discharge_date,
                document.total_amount,
                document.requested_amount,
                problem_dicts(problems),
                now,
                now,
            )
        )
        code_types = _CODE_TYPE
        rows.lines.extend(
            (
                document_id,
                number,
                code_types[line.code_type],
                line.code,
                line.description,
                line.service_date,
                line.quantity,
                line.unit_price,
                line.amount,
            )
            for number, line in enumerate(document.lines, start=1)
        )


def _new_ids(count: int) -> Iterator[uuid.UUID]:
    """Random (version 4) UUIDs from one read of the system's random source, not one each."""
    entropy = os.urandom(16 * count)
    for start in range(0, len(entropy), 16):
        yield uuid.UUID(bytes=entropy[start : start + 16], version=4)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def problem_dicts(problems: list[Problem]) -> str:
    """JSON text of ``[p.to_dict() for p in problems]``, without ``asdict``'s deep copies."""
    return _json(
        [
            {
                "code": p.code,
                "message": p.message,
                "path": p.path,
                "line": p.line,
                "severity": _SEVERITY[p.severity],
            }
            for p in problems
        ]
    )


# Enum members are hashed as their strings; ``.value`` goes through a descriptor per call.
_SEVERITY = {severity: severity.value for severity in Severity}
_CODE_TYPE = {code_type: code_type.value for code_type in dm.CodeType}
_KIND = {kind: kind.value for kind in dm.DocumentKind}
