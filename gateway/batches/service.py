"""Batches: receiving a spooled file, then storing its documents a chunk at a time.

A chunk is stored in the caller's transaction (``gateway.batches.runner`` commits each
one): the documents the rules accept or reject (rows, lines, status moves through the
journal), those the schema refused, one pricing message per ``batch_pricing_documents``
accepted documents, and the batch's resume point. Each chunk first claims the batch row
at the resume point it expects, so two runs never store the same chunk.

Every document is judged as if it came alone in a submission of its own, in file order:
the rules see the numbers and services accepted before it, in the database and earlier
in the same chunk.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.audit import journal
from gateway.batches import repository as store
from gateway.batches.reading import Item
from gateway.batches.spool import Spooled
from gateway.documents.service import Claim, Replacements, problem_of
from gateway.domain import documents as dm
from gateway.domain.lifecycle import DocumentStatus, birth, transition
from gateway.domain.registry import Coverage
from gateway.domain.tariff import TariffBook
from gateway.errors import OverloadedError
from gateway.kit.broker import PRICE_DOCUMENTS, PROCESS_BATCH
from gateway.kit.outbox import Pending
from gateway.pricing.service import NoTariffError, TariffCache
from gateway.referrals import service as referrals
from gateway.settings import Settings
from gateway.storage import repository
from gateway.storage.models import Batch, Centre, Submission, utc_day, utcnow
from validators.business import validate_submission
from validators.context import RuleContext
from validators.problems import Problem, Severity, has_errors
from validators.schema import Format

_books = TariffCache()


@dataclass(frozen=True, slots=True)
class Received:
    batch: Batch
    outbox: list[Pending]
    replayed: bool = False


RECENT_BATCHES = 20  # finished batches whose pace foresees the wait
RECENT_WINDOW = timedelta(days=1)
LONGEST_RETRY_S = 3600


def foreseen_wait(session: Session, *, now: datetime) -> float | None:
    """Seconds before a batch uploaded now would start to be stored: the bytes of the
    batches not finished, at the pace of the last ones stored (bytes per second of their
    runs). None when no batch was stored in the last day, so the pace is unknown."""
    waiting, size, seconds = store.backlog(
        session, since=now - RECENT_WINDOW, recent=RECENT_BATCHES
    )
    if not size or seconds <= 0:
        return None
    return waiting / (size / seconds)


def admit_upload(session: Session, settings: Settings, *, now: datetime) -> None:
    """Raises OverloadedError (before the body is read) when the batches already waiting
    would take longer than ``batch_max_wait_s`` to store; its Retry-After is the time
    until they would not (at most an hour)."""
    bound = settings.batch_max_wait_s
    if bound <= 0:
        return
    wait = foreseen_wait(session, now=now)
    if wait is not None and wait > bound:
        raise OverloadedError(min(wait - bound, LONGEST_RETRY_S))


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


def start(session: Session, batch_id: uuid.UUID) -> tuple[Batch, Centre] | None:
    """The batch and its centre, its run counted; None when there is nothing left to do."""
    return store.start_run(session, batch_id)


def finish(
    session: Session, batch_id: uuid.UUID, status: str, problems: list[Problem] | None = None
) -> None:
    """The batch done or failed (with the problems that failed it)."""
    errors = [p.to_dict() for p in problems] if problems is not None else None
    store.finish(session, batch_id, status, errors)


@dataclass(slots=True)
class _Rows:
    documents: list[tuple[Any, ...]]
    lines: list[tuple[Any, ...]]
    rejections: list[tuple[Any, ...]]
    moves: list[journal.Move]
    to_price: list[str]
    accepted: int = 0
    rejected: int = 0
    referral_uses: list[referrals.Use] = field(default_factory=list)


class Run:
    """One run over a batch: its resume point, and how to store a chunk in the caller's
    transaction (``gateway.batches.runner`` commits each chunk)."""

    def __init__(self, batch: Batch, centre: Centre, settings: Settings) -> None:
        self.batch = batch
        self.centre = centre
        self.settings = settings
        self.read = batch.documents_read
        # Statistics refreshed after 1,000 documents, then 4,000, 16,000...: the tables
        # grow by a large share at first, then by less and less.
        self.analyze_at = max(1000, self.read * 2)
        self.actor = f"centre:{centre.code}"

    def store(self, session: Session, chunk: list[Item]) -> list[Pending] | None:
        """Store a chunk at the resume point: the outbox messages to publish once it
        commits; None when another run has already moved past it."""
        if not store.claim_chunk(session, self.batch.id, self.read):
            return None
        return self._write(session, chunk)

    def stored(self, chunk: list[Item]) -> bool:
        """Note a committed chunk; True when the tables have grown enough that their
        statistics are due (``analyze``)."""
        self.read += len(chunk)
        return self.read >= self.analyze_at

    def analyze(self, session: Session) -> None:
        store.analyze_grown(session)
        self.analyze_at = self.read * 4

    def _write(self, session: Session, chunk: list[Item]) -> list[Pending]:
        rows = self._judge(session, chunk)
        store.store_rows(
            session, documents=rows.documents, lines=rows.lines, rejections=rows.rejections
        )
        referrals.record_uses(session=session, uses=rows.referral_uses)
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
        codes = {d.referral_code for d in documents if d.referral_code}
        context = replace(context, referrals=referrals.lookup(session=session, codes=codes))
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
            referral = referrals.take_visit_for(
                session=session,
                document=document,
                problems=problems,
                context=context,
                replaced=claim.original.id if isinstance(claim, Claim) else None,
            )
            issued = referrals.issue_from_document(
                session=session,
                centre=self.centre,
                document=document,
                problems=problems,
                validity_days=self.settings.referral_validity_days,
                actor=self.actor,
            )
            problems_seen.update(p.code for p in problems)
            accepted = not has_errors(problems)
            document_id = next(ids)
            replacing.settle(claim, accepted, document_id)
            referrals.link_to_document(session=session, referrals=issued, document_id=document_id)
            if referral is not None:
                rows.referral_uses.append(
                    referrals.Use(
                        referral,
                        document_id,
                        self.centre.id,
                        document.service_date,
                        document.referral_feedback,
                    )
                )
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
            rollout=referrals.rollout(session=session),
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
                document.physician.specialty,
                document.self_referred,
                document.emergency,
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
